"""Audit tables: the append-only log of entries (plus the shared outbox/inbox)."""

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, String, Table, Text

from p3ke_platform.db import new_metadata
from p3ke_platform.messaging.tables import SeqType, messaging_tables

metadata = new_metadata()
tables = messaging_tables(metadata)

entries = Table(
    "audit_entries", metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("event_type", String(100), nullable=False),
    Column("source", String(200), nullable=False),
    Column("service", String(50), nullable=True),
    Column("actor_org", String(50), nullable=True),
    Column("actor_subject", String(200), nullable=True),
    Column("action", String(50), nullable=True),
    Column("resource_type", String(100), nullable=True),
    Column("resource_id", String(200), nullable=True),
    Column("outcome", String(20), nullable=True),
    Column("record_count", BigInteger, nullable=False, default=0),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("payload", Text, nullable=False, doc="the event's data, canonical JSON"),
    Column("kafka_partition", Integer, nullable=True),
)
Index("ix_audit_entries_resource", entries.c.resource_type, entries.c.resource_id)
Index("ix_audit_entries_actor", entries.c.actor_org, entries.c.actor_subject)
Index("ix_audit_entries_occurred_at", entries.c.occurred_at)
