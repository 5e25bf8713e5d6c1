"""Audit tables (plus the shared outbox/inbox). The log tables only ever receive INSERTs: triggers
refuse UPDATE, DELETE and TRUNCATE (migration 0002) and the application role is granted no more.

* `audit_entries`: one row per consumed event; `leaf_index`/`leaf_hash` place it in the Merkle tree.
  They are nullable only because a row written around the appender has none; `verify` reports it.
  `envelope`, `signature` and `key_id` are the event's origin evidence (null only in entries recorded
  before events were signed: leaf format 1, see domain/entry.py).
* `audit_tree_nodes`: the hash of every complete perfect subtree of level >= 1 (leaves are in
  `audit_entries`), written as the appends complete them; proofs read O(log n) of them.
* `audit_checkpoints`: the signed tree heads (C2SP checkpoint notes).
* `audit_subject_refs`: which entries name a data subject (the keyed hash of a NIK), for lookups.
* `audit_verifications`: the results of full verifications (`p3ke audit verify`).
* `audit_cosignatures`: witnesses' C2SP cosignature lines of checkpoints, as received (append-only).
* `audit_witness_state`: what the log last heard from each configured witness (the one mutable table here:
  it states contact, not history; the cosignatures are the evidence).
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
)

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
    Column("leaf_index", BigInteger, nullable=True, doc="position in the Merkle tree, from 0"),
    Column("leaf_hash", LargeBinary, nullable=True, doc="SHA-256(0x00 || canonical entry)"),
    Column("actor_roles", String(500), nullable=True, doc="' role1 role2 ' (spaces around each)"),
    Column("program", String(100), nullable=True),
    Column("agreement_id", String(100), nullable=True),
    # the origin evidence (migration 0003; null in entries of format 1, written before events were signed)
    Column("envelope", Text, nullable=True, doc="JCS of the event's signed CloudEvents attributes (no data)"),
    Column("signature", Text, nullable=True, doc="the event's ce_signature: a detached JWS over "
           "JCS({**envelope, 'data': payload})"),
    Column("key_id", String(200), nullable=True, doc="the kid of the key that signed the event"),
    # migration 0005: the entry's leaf format (its "v"; 3 for every entry appended since; null: rows written
    # before, whose format is 1 without origin evidence, else 2; see domain/entry.py)
    Column("leaf_format", SmallInteger, nullable=True, doc="the leaf format (1, 2, 3); null: derived (1 or 2)"),
)
Index("ix_audit_entries_resource", entries.c.resource_type, entries.c.resource_id)
Index("ix_audit_entries_actor", entries.c.actor_org, entries.c.actor_subject)
Index("ix_audit_entries_occurred_at", entries.c.occurred_at)
Index("ix_audit_entries_leaf_index", entries.c.leaf_index, unique=True)

tree_nodes = Table(
    "audit_tree_nodes", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False,
           doc="merkle.stored_index(level, idx): position in completion order"),
    Column("level", SmallInteger, nullable=False),
    Column("idx", BigInteger, nullable=False),
    Column("hash", LargeBinary, nullable=False),
)

checkpoints = Table(
    "audit_checkpoints", metadata,
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("root_hash", LargeBinary, nullable=False),
    Column("note", Text, nullable=False, doc="the signed note, as issued"),
    Column("key_id", String(8), nullable=False, doc="hex of the 4-byte C2SP key id"),
    Column("issued_at", DateTime(timezone=True), nullable=False),
)

subject_refs = Table(
    "audit_subject_refs", metadata,
    Column("subject_ref", String(64), primary_key=True),
    Column("leaf_index", BigInteger, primary_key=True, autoincrement=False),
)

verifications = Table(
    "audit_verifications", metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False),
    Column("tree_size", BigInteger, nullable=False),
    Column("checkpoint_size", BigInteger, nullable=True),
    Column("ok", Boolean, nullable=False),
    Column("first_bad_leaf", BigInteger, nullable=True),
    Column("message", Text, nullable=False),
)

cosignatures = Table(
    "audit_cosignatures", metadata,
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False, doc="the checkpoint cosigned"),
    Column("key_id", String(8), primary_key=True, doc="hex of the witness's 4-byte cosignature/v1 key id"),
    Column("witness", String(200), nullable=False, doc="the witness's name (its key name)"),
    Column("line", Text, nullable=False, doc="the cosignature line as received, ending in a newline"),
    Column("signed_at", DateTime(timezone=True), nullable=False, doc="the timestamp inside the cosignature"),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

witness_state = Table(
    "audit_witness_state", metadata,
    Column("vkey", String(300), primary_key=True, doc="the witness's verifier key (name+id+key)"),
    Column("name", String(200), nullable=False),
    Column("url", String(500), nullable=False),
    Column("status", String(20), nullable=False, doc="ok | unreachable | refused | behind"),
    Column("cosigned_size", BigInteger, nullable=True, doc="largest checkpoint it cosigned"),
    Column("witness_size", BigInteger, nullable=True, doc="the size it says it knows (a 409's body)"),
    Column("last_attempt_at", DateTime(timezone=True), nullable=True),
    Column("last_success_at", DateTime(timezone=True), nullable=True),
    Column("last_error", Text, nullable=True, doc="why the last request failed, for operators"),
)

LOG_TABLES = ("audit_entries", "audit_tree_nodes", "audit_checkpoints", "audit_subject_refs",
              "audit_verifications", "audit_cosignatures")
