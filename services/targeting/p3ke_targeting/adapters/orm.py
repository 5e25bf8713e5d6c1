"""Targeting tables: the dataset versions it may select from, and extract requests."""

from sqlalchemy import BigInteger, Boolean, Column, DateTime, String, Table, Text

from p3ke_platform.db import new_metadata
from p3ke_platform.messaging.tables import messaging_tables

metadata = new_metadata()
tables = messaging_tables(metadata)

datasets = Table(
    "datasets", metadata,
    Column("dataset_version_id", String(100), primary_key=True),
    Column("snapshot_uri", Text, nullable=False),
    Column("snapshot_sha256", String(64), nullable=False),
    Column("individuals", BigInteger, nullable=False),
    Column("families", BigInteger, nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=False),
    Column("is_current", Boolean, nullable=False, default=False),
)

extract_requests = Table(
    "extract_requests", metadata,
    Column("request_id", String(100), primary_key=True),
    Column("agreement_id", String(100), nullable=False),
    Column("program", String(100), nullable=False),
    Column("requester_org", String(50), nullable=False),
    Column("requester_subject", String(200), nullable=False),
    Column("quota", BigInteger, nullable=False),
    Column("request", Text, nullable=False, doc="the request payload as JSON (criteria, fields)"),
    Column("status", String(20), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)
