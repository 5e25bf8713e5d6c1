"""Delivery tables: handovers (one per accepted extract)."""

from sqlalchemy import BigInteger, Column, DateTime, String, Table

from p3ke_platform.db import new_metadata
from p3ke_platform.messaging.tables import messaging_tables

metadata = new_metadata()
tables = messaging_tables(metadata)

handovers = Table(
    "handovers", metadata,
    Column("handover_id", String(100), primary_key=True),
    Column("request_id", String(100), nullable=False, unique=True),
    Column("extract_id", String(100), nullable=False),
    Column("agreement_id", String(100), nullable=False),
    Column("program", String(100), nullable=False),
    Column("record_count", BigInteger, nullable=False),
    Column("extract_sha256", String(64), nullable=False),
    Column("status", String(30), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
