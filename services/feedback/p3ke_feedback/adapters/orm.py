"""Feedback tables: signed handovers awaiting data balikan."""

from sqlalchemy import BigInteger, Column, DateTime, String, Table

from p3ke_platform.db import new_metadata
from p3ke_platform.messaging.tables import messaging_tables

metadata = new_metadata()
tables = messaging_tables(metadata)

signed_handovers = Table(
    "signed_handovers", metadata,
    Column("handover_id", String(100), primary_key=True),
    Column("agreement_id", String(100), nullable=False),
    Column("program", String(100), nullable=False),
    Column("record_count", BigInteger, nullable=False),
    Column("signed_at", DateTime(timezone=True), nullable=False),
)

snapshots = Table(
    "snapshots", metadata,
    Column("dataset_version_id", String(100), primary_key=True),
    Column("snapshot_uri", String(1000), nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=False),
)
