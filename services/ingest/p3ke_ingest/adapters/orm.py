"""Ingest tables: dataset versions (immutable snapshots and their validation results)."""

from sqlalchemy import BigInteger, Column, DateTime, String, Table, Text

from p3ke_platform.db import new_metadata
from p3ke_platform.messaging.tables import messaging_tables

metadata = new_metadata()
tables = messaging_tables(metadata)

dataset_versions = Table(
    "dataset_versions", metadata,
    Column("dataset_version_id", String(100), primary_key=True),
    Column("status", String(20), nullable=False),
    Column("snapshot_uri", Text, nullable=True),
    Column("snapshot_sha256", String(64), nullable=True),
    Column("individuals", BigInteger, nullable=False, default=0),
    Column("families", BigInteger, nullable=False, default=0),
    Column("rows_rejected", BigInteger, nullable=False, default=0),
    Column("submitted_by", String(200), nullable=False),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=True),
)
