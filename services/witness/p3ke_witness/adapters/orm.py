"""Witness tables (plus the shared outbox/inbox, unused: the witness emits and consumes no events).

* `witness_logs`: per log origin, the latest checkpoint this witness cosigned (size, root, the signed note as
  the log sent it). The one mutable table: it moves forward only through a compare-and-set on
  (origin, tree_size, root_hash) (`adapters/state.py`), so two concurrent requests can never roll it back.
* `witness_cosigned`: every checkpoint it cosigned, with the cosignature line it returned (append-only).
* `witness_alarms`: forks and rollbacks it refused, with both conflicting signed notes and the proof received
  as evidence (append-only).

The append-only tables refuse UPDATE, DELETE and TRUNCATE in the database itself (migration 0001).
"""

from sqlalchemy import BigInteger, Column, DateTime, Index, LargeBinary, String, Table, Text

from p3ke_platform.db import new_metadata
from p3ke_platform.messaging.tables import SeqType, messaging_tables

metadata = new_metadata()
tables = messaging_tables(metadata)

logs = Table(
    "witness_logs", metadata,
    Column("origin", String(300), primary_key=True),
    Column("tree_size", BigInteger, nullable=False),
    Column("root_hash", LargeBinary, nullable=False),
    Column("note", Text, nullable=False, doc="the log's signed note, as received"),
    Column("log_key", String(300), nullable=False, doc="the configured verifier key that verified it"),
    Column("cosigned_at", DateTime(timezone=True), nullable=False),
)

cosigned = Table(
    "witness_cosigned", metadata,
    Column("origin", String(300), primary_key=True),
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("root_hash", LargeBinary, nullable=False),
    Column("note", Text, nullable=False),
    Column("cosignature", Text, nullable=False, doc="the cosignature line returned, with its newline"),
    Column("cosigned_at", DateTime(timezone=True), nullable=False),
)

alarms = Table(
    "witness_alarms", metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    Column("origin", String(300), nullable=False),
    Column("kind", String(20), nullable=False, doc="fork | rollback"),
    Column("raised_at", DateTime(timezone=True), nullable=False),
    Column("cosigned_size", BigInteger, nullable=False, doc="the size this witness had cosigned"),
    Column("cosigned_root", LargeBinary, nullable=False),
    Column("cosigned_note", Text, nullable=False, doc="evidence: the note it had cosigned"),
    Column("offered_size", BigInteger, nullable=False, doc="the size of the conflicting checkpoint"),
    Column("offered_root", LargeBinary, nullable=False),
    Column("offered_note", Text, nullable=False, doc="evidence: the conflicting note, validly signed by the log"),
    Column("old_size", BigInteger, nullable=False, doc="the old size of the request"),
    Column("proof", Text, nullable=False, doc="the consistency proof received, base64 hashes one a line"),
    Column("detail", Text, nullable=False),
)
Index("ix_witness_alarms_origin_kind", alarms.c.origin, alarms.c.kind)

APPEND_ONLY = ("witness_cosigned", "witness_alarms")
