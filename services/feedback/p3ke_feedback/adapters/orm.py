"""Feedback tables: what was handed over (handovers, their extracts, snapshots), the data balikan
batches party 2 sent, and the running aggregates the reports read.

Person-level rows never live here: a batch's rows are Parquet files in the storage directory (the
uploaded file as received, the matched rows without names, the masked findings). The database keeps
ids, counts, checksums and paths, and the aggregates by program x period x regency x desil.
"""

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from p3ke_feedback.domain.cells import CELL_MEASURES
from p3ke_platform.db import new_metadata
from p3ke_platform.messaging.tables import messaging_tables
from p3ke_platform.retention.tables import disposal_tables

metadata = new_metadata()
tables = messaging_tables(metadata)
disposal = disposal_tables(metadata)  # the retention disposal job's intents and lease


def _measures() -> list[Column]:  # type: ignore[type-arg]
    return [Column(name, BigInteger, nullable=False, default=0, server_default="0") for name in CELL_MEASURES]


signed_handovers = Table(
    "signed_handovers", metadata,
    Column("handover_id", String(100), primary_key=True),
    Column("agreement_id", String(100), nullable=False),
    Column("program", String(100), nullable=False),
    Column("record_count", BigInteger, nullable=False),
    Column("signed_at", DateTime(timezone=True), nullable=False),
    Column("extract_id", String(100), nullable=True, index=True),
    Column("bast_number", String(100), nullable=True),
    Column("recipient_org", String(50), nullable=True, doc="party 2's org as it signed the BAST"),
    Column("period", String(7), nullable=True, doc="YYYY-MM of the signing day in Jakarta"),
    Column("delivered_state", String(20), nullable=False, default="pending", server_default="pending",
           doc="pending (extract or snapshot not known yet) | settled | problem"),
    Column("delivered_reason", Text, nullable=True),
    Column("delivered_total", BigInteger, nullable=True),
    Column("first_feedback_at", DateTime(timezone=True), nullable=True),
    Column("last_feedback_at", DateTime(timezone=True), nullable=True),
)

snapshots = Table(
    "snapshots", metadata,
    Column("dataset_version_id", String(100), primary_key=True),
    Column("snapshot_uri", String(1000), nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=False),
    Column("snapshot_sha256", String(64), nullable=True),
    Column("individuals", BigInteger, nullable=True),
)

extracts = Table(
    "extracts", metadata,
    Column("extract_id", String(100), primary_key=True),
    Column("request_id", String(100), nullable=False),
    Column("agreement_id", String(100), nullable=False),
    Column("program", String(100), nullable=False),
    Column("dataset_version_id", String(100), nullable=True),
    Column("record_count", BigInteger, nullable=False),
    Column("counts_by_desil", Text, nullable=False, doc="JSON object desil -> persons"),
    Column("file_uri", Text, nullable=False),
    Column("file_sha256", String(64), nullable=False),
    Column("prepared_at", DateTime(timezone=True), nullable=False),
)

feedback_batches = Table(
    "feedback_batches", metadata,
    Column("batch_id", String(100), primary_key=True),
    Column("handover_id", String(100), nullable=False, index=True),
    Column("agreement_id", String(100), nullable=False),
    Column("program", String(100), nullable=False, index=True),
    Column("period", String(7), nullable=False),
    Column("status", String(20), nullable=False, doc="current | superseded"),
    Column("supersedes", String(100), nullable=True),
    Column("superseded_by", String(100), nullable=True),
    Column("filename", String(255), nullable=False),
    Column("file_format", String(10), nullable=False),
    Column("file_bytes", BigInteger, nullable=False),
    Column("file_sha256", String(64), nullable=False),
    Column("dataset_version_id", String(100), nullable=False, doc="the snapshot rows were matched against"),
    Column("rows", BigInteger, nullable=False),
    Column("rows_rejected", BigInteger, nullable=False),
    Column("served", BigInteger, nullable=False),
    Column("summary", Text, nullable=False, doc="JSON: counts by class, status, province, finding; notes"),
    Column("submitted_org", String(50), nullable=False),
    Column("submitted_subject", String(200), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("directory", String(300), nullable=False, doc="the batch's files, relative to the storage directory"),
    UniqueConstraint("handover_id", "file_sha256"),
)

batch_cells = Table(
    "batch_cells", metadata,
    Column("batch_id", String(100), nullable=False),
    Column("region", String(10), nullable=False),
    Column("desil", Integer, nullable=False),
    *_measures(),
    PrimaryKeyConstraint("batch_id", "region", "desil"),
)

# rows stored as duplicates that count since: the row they repeated was superseded by a correction
promotions = Table(
    "promotions", metadata,
    Column("batch_id", String(100), nullable=False),
    Column("row", BigInteger, nullable=False),
    Column("promoted_by", String(100), nullable=False, doc="the correcting batch that left the row's person "
                                                            "counted nowhere else"),
    Column("promoted_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("batch_id", "row"),
)

delivered_cells = Table(
    "delivered_cells", metadata,
    Column("handover_id", String(100), nullable=False),
    Column("region", String(10), nullable=False),
    Column("desil", Integer, nullable=False),
    Column("delivered", BigInteger, nullable=False),
    PrimaryKeyConstraint("handover_id", "region", "desil"),
)

report_cells = Table(
    "report_cells", metadata,
    Column("program", String(100), nullable=False),
    Column("period", String(7), nullable=False),
    Column("region", String(10), nullable=False, doc="regency (4 digits), a province (2) or '' unknown"),
    Column("desil", Integer, nullable=False, doc="1-4, or 0 when not known (not in P3KE)"),
    Column("delivered", BigInteger, nullable=False, default=0, server_default="0"),
    *_measures(),
    PrimaryKeyConstraint("program", "period", "region", "desil"),
)

publications = Table(
    "publications", metadata,
    Column("publication_id", String(100), primary_key=True),
    Column("published_org", String(50), nullable=False),
    Column("published_subject", String(200), nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=False),
    Column("program", String(100), nullable=True),
    Column("purpose", Text, nullable=False),
    Column("grounds", Text, nullable=False, doc="JSON list of the disclosure consent ids it relies on"),
    Column("terms_version", String(200), nullable=False),
    Column("content", Text, nullable=False, doc="the published report (JSON, aggregates only)"),
    Column("content_sha256", String(64), nullable=False),
)
