"""Ingest tables: dataset versions (published snapshots), submissions (validation jobs) and uploads.

A dataset version row exists only for a published version: it is inserted in the same transaction
as its `dataset-updated` event, after its snapshot file is in place, so no half version is ever
visible. A submission is the job that leads to it (or to a refusal), with its progress and report.
"""

from sqlalchemy import JSON, BigInteger, Column, DateTime, Float, Index, Integer, String, Table, Text

from p3ke_platform.db import new_metadata
from p3ke_platform.messaging.tables import messaging_tables
from p3ke_platform.retention.tables import disposal_tables

metadata = new_metadata()
tables = messaging_tables(metadata)
disposal = disposal_tables(metadata)  # the retention disposal job's intents and lease

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
    # added in 0002
    Column("submission_id", String(64), nullable=True),
    Column("agreement_id", String(100), nullable=True),
    Column("supersedes", String(100), nullable=True),
    Column("family_snapshot_uri", Text, nullable=True),
    Column("family_snapshot_sha256", String(64), nullable=True),
    Column("counts_by_desil", JSON, nullable=True),
    Column("counts_by_province", JSON, nullable=True),
    Column("changes", JSON, nullable=True, doc="persons added/removed/changed against `supersedes`"),
)
Index("ix_dataset_versions_published_at", dataset_versions.c.published_at)
Index("ix_dataset_versions_snapshot_sha256", dataset_versions.c.snapshot_sha256)

submissions = Table(
    "ingest_submissions", metadata,
    Column("submission_id", String(64), primary_key=True),
    Column("status", String(20), nullable=False, doc="queued | running | published | unchanged | refused | failed"),
    Column("phase", String(40), nullable=False, default=""),
    Column("progress", Float, nullable=False, default=0.0),
    Column("sources", JSON, nullable=False, doc="per file: kind, name, bytes, sha256 (no path for uploads)"),
    Column("input_key", String(64), nullable=False, doc="sha256 over the inputs and the validation rules"),
    Column("rules", JSON, nullable=False),
    Column("submitted_by", String(200), nullable=False),
    Column("actor", JSON, nullable=False),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("claimed_by", String(200), nullable=True),
    Column("heartbeat_at", DateTime(timezone=True), nullable=True),
    Column("dataset_version_id", String(100), nullable=True),
    Column("summary", JSON, nullable=True, doc="rows, rejected, findings by code, per file"),
    Column("reasons", JSON, nullable=True, doc="why the version was refused or the job failed"),
    Column("report_path", Text, nullable=True, doc="masked findings (Parquet), relative to the ingest dir"),
)
Index("ix_ingest_submissions_status", submissions.c.status, submissions.c.submitted_at)
Index("ix_ingest_submissions_input_key", submissions.c.input_key)

uploads = Table(
    "ingest_uploads", metadata,
    Column("upload_id", String(64), primary_key=True),
    Column("filename", String(255), nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("path", Text, nullable=False, doc="relative to the ingest dir"),
    Column("uploaded_by", String(200), nullable=False),
    Column("uploaded_at", DateTime(timezone=True), nullable=False),
    Column("submission_id", String(64), nullable=True),
)
