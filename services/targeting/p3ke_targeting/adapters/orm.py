"""Targeting tables: the dataset versions it may select from, extract requests, frozen extracts, the milestones
of the handovers made from them (for the retention schedule), the planning query budget, and the disposal job's
intents and lease."""

from sqlalchemy import BigInteger, Boolean, Column, Date, DateTime, Integer, String, Table, Text

from p3ke_platform.db import new_metadata
from p3ke_platform.messaging.tables import messaging_tables
from p3ke_platform.retention.tables import disposal_tables

metadata = new_metadata()
tables = messaging_tables(metadata)
disposal = disposal_tables(metadata)  # the retention disposal job's intents and lease

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
    Column("status", String(20), nullable=False, doc="submitted (API) | received | accepted | rejected"),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("reason", Text, nullable=True, doc="why it was rejected"),
    Column("extract_id", String(100), nullable=True),
    Column("dataset_version_id", String(100), nullable=True),
    Column("rules_version", String(100), nullable=True),
    Column("terms_version", String(100), nullable=True),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    # since 0003
    Column("path", String(20), nullable=True,
           doc="how the request came: api (targeting's HTTP API) | platform (extract-requested from a ministry "
               "platform); null for requests stored before 0003"),
)

extracts = Table(
    "extracts", metadata,
    Column("extract_id", String(100), primary_key=True),
    Column("request_id", String(100), nullable=False, unique=True),
    Column("agreement_id", String(100), nullable=False),
    Column("program", String(100), nullable=False, index=True),
    Column("dataset_version_id", String(100), nullable=False),
    Column("rules_version", String(100), nullable=False),
    Column("terms_version", String(100), nullable=False),
    Column("record_count", BigInteger, nullable=False),
    Column("counts_by_desil", Text, nullable=False, doc="JSON object desil -> persons"),
    Column("counts_by_region", Text, nullable=False, doc="JSON object province code -> persons"),
    Column("file_uri", Text, nullable=False),
    Column("file_sha256", String(64), nullable=False),
    Column("ledger_uri", Text, nullable=False, doc="keyed NIK hashes of the recipients (Parquet)"),
    Column("ledger_sha256", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # since 0005
    Column("ledger_key_id", String(16), nullable=True,
           doc="the subject hash key the ledger's references were computed with; null before 0005: k1"),
)

extract_milestones = Table(
    "extract_milestones", metadata,
    Column("extract_id", String(100), primary_key=True),
    Column("milestone", String(30), primary_key=True,
           doc="package-downloaded | handover-revoked | purpose-ended (handover-milestone, from delivery)"),
    Column("handover_id", String(100), nullable=False),
    Column("agreement_id", String(100), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False, doc="the first report wins"),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

plan_budget = Table(
    "plan_budget", metadata,
    Column("caller_org", String(50), primary_key=True),
    Column("caller_subject", String(200), primary_key=True),
    Column("day", Date, primary_key=True, doc="the Jakarta calendar day"),
    Column("used", Integer, nullable=False, doc="protected planning queries answered or attempted that day"),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
