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
    Date,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
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
    Column("key_id", String(16), nullable=False, server_default="k1",
           doc="the subject hash key the reference was computed with (migration 0011; before it: k1)"),
)

# subject hash key rotation (migration 0011; service_layer/subject_index.py): old reference -> the same person's
# reference under a newer key, computed from NIKs by a party that holds them (only references reach the log). A
# lookup under the new key also finds the entries indexed under the old one, after the old key left the ring.
# Append-only (INSERT and SELECT granted); the entries and their index are never rewritten.
subject_ref_map = Table(
    "audit_subject_ref_map", metadata,
    Column("old_ref", String(64), primary_key=True),
    Column("new_ref", String(64), primary_key=True),
    Column("old_key_id", String(16), nullable=False),
    Column("new_key_id", String(16), nullable=False),
    Column("mapped_at", DateTime(timezone=True), nullable=False),
)
Index("ix_audit_subject_ref_map_new", subject_ref_map.c.new_ref)

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

# ---------------------------------------------------------------------------------------------------
# Incidents (UU PDP Art. 46), legal holds and data-subject requests (UU PDP Art. 32): migration 0007.
# `audit_case_history` and `audit_incident_notices` are append-only (triggers); the others change as a
# case moves on, each change written to the history in the same transaction.
# ---------------------------------------------------------------------------------------------------

incidents = Table(
    "audit_incidents", metadata,
    Column("incident_id", String(40), primary_key=True),
    Column("source", String(20), nullable=False, doc="manual | violation | forged-event"),
    Column("source_key", String(300), nullable=True, doc="what an automatic incident is about (evidence grouped)"),
    Column("title", String(300), nullable=False),
    Column("description", Text, nullable=False),
    Column("status", String(20), nullable=False, doc="open | notices-overdue | closed"),
    Column("discovered_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False, doc="discovered_at + 72 calendar hours"),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("opened_by_org", String(50), nullable=True, doc="null: opened by the service itself"),
    Column("opened_by", String(200), nullable=True),
    Column("data_kinds", Text, nullable=False, doc="JSON list of the kinds of personal data concerned"),
    Column("subject_count", BigInteger, nullable=True, doc="data subjects concerned (null: not known yet)"),
    Column("subject_refs", Text, nullable=False, doc="JSON list of keyed subject references (never a NIK)"),
    Column("resources", Text, nullable=False, doc="JSON list of {resource_type, resource_id}"),
    Column("breach_confirmed", Boolean, nullable=True, doc="the closure's finding"),
    Column("closure_summary", Text, nullable=True),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("closed_by_org", String(50), nullable=True),
    Column("closed_by", String(200), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index("ix_audit_incidents_status", incidents.c.status, incidents.c.due_at)
Index("ix_audit_incidents_source_key", incidents.c.source_key)

incident_evidence = Table(
    "audit_incident_evidence", metadata,
    Column("kind", String(60), primary_key=True, doc="a violation kind of /v1/violations, or forged-event"),
    Column("entry_key", String(200), primary_key=True, doc="the entry's event id (unusual volume: actor and day)"),
    Column("incident_id", String(40), nullable=False),
    Column("leaf_index", BigInteger, nullable=True),
    Column("added_at", DateTime(timezone=True), nullable=False),
)
Index("ix_audit_incident_evidence_incident", incident_evidence.c.incident_id)

incident_notices = Table(
    "audit_incident_notices", metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    Column("incident_id", String(40), nullable=False),
    Column("recipient", String(20), nullable=False, doc="subjects | authority | liaison"),
    Column("sent_at", DateTime(timezone=True), nullable=False),
    Column("channel", String(50), nullable=False),
    Column("reference", String(300), nullable=False, doc="the letter's number, the message's id"),
    Column("addressee", String(300), nullable=True, doc="who it was addressed to (an office, an officer)"),
    Column("summary", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("recorded_by_org", String(50), nullable=False),
    Column("recorded_by", String(200), nullable=False),
)
Index("ix_audit_incident_notices_incident", incident_notices.c.incident_id)

legal_holds = Table(
    "audit_legal_holds", metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    Column("incident_id", String(40), nullable=False),
    Column("resource_type", String(100), nullable=True, doc="a resource held (with resource_id), or null"),
    Column("resource_id", String(200), nullable=True),
    Column("subject_ref", String(64), nullable=True, doc="a data subject held, by keyed reference, or null"),
    Column("since", DateTime(timezone=True), nullable=False),
    Column("released_at", DateTime(timezone=True), nullable=True, doc="null while the hold applies"),
)
Index("ix_audit_legal_holds_resource", legal_holds.c.resource_type, legal_holds.c.resource_id)
Index("ix_audit_legal_holds_subject", legal_holds.c.subject_ref)
Index("ix_audit_legal_holds_incident", legal_holds.c.incident_id)

subject_requests = Table(
    "audit_subject_requests", metadata,
    Column("request_id", String(40), primary_key=True),
    Column("kind", String(20), nullable=False, doc="access | correct | restrict | erase"),
    Column("subject_ref", String(64), nullable=False, doc="HMAC-SHA256(P3KE_SUBJECT_HASH_KEY, NIK); never the NIK"),
    Column("status", String(20), nullable=False, doc="open | answered"),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False, doc="received_at + 72 calendar hours"),
    Column("office", String(200), nullable=False, doc="where the person came"),
    Column("intake_org", String(50), nullable=False),
    Column("intake_by", String(200), nullable=False),
    Column("identity_document", String(40), nullable=False, doc="the document's type; never its number"),
    Column("identity_checked_by", String(200), nullable=False),
    Column("identity_checked_at", DateTime(timezone=True), nullable=False),
    Column("details", Text, nullable=True, doc="what the person asks (refused if it holds a NIK)"),
    Column("routed_to_org", String(50), nullable=True, doc="party 1 for correct, restrict and erase"),
    Column("response_pdf_sha256", String(64), nullable=True),
    Column("response_json_sha256", String(64), nullable=True),
    Column("response_at", DateTime(timezone=True), nullable=True, doc="when the response bundle was last made"),
    Column("answered_at", DateTime(timezone=True), nullable=True),
    Column("answered_by_org", String(50), nullable=True),
    Column("answered_by", String(200), nullable=True),
    Column("answer_outcome", String(30), nullable=True, doc="fulfilled | partially-fulfilled | refused"),
    Column("answer_channel", String(30), nullable=True),
    Column("answer_sent", Text, nullable=True, doc="what was sent to the person"),
    Column("answer_reason", Text, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index("ix_audit_subject_requests_status", subject_requests.c.status, subject_requests.c.due_at)
Index("ix_audit_subject_requests_subject", subject_requests.c.subject_ref)

case_history = Table(
    "audit_case_history", metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    Column("case_type", String(20), nullable=False, doc="incident | subject-request | calendar-feed"),
    Column("case_id", String(40), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("change", String(40), nullable=False, doc="opened, facts, notice, notices-overdue, closed, answered, ..."),
    Column("actor_org", String(50), nullable=True, doc="null: the service itself"),
    Column("actor", String(200), nullable=True),
    Column("detail", Text, nullable=False, doc="JSON of what changed (no NIK)"),
)
Index("ix_audit_case_history_case", case_history.c.case_type, case_history.c.case_id)

incident_scan = Table(
    "audit_incident_scan", metadata,
    Column("name", String(40), primary_key=True, doc="the scan (one row: log)"),
    Column("last_seq", BigInteger, nullable=False, doc="entries up to this seq were examined"),
    Column("scanned_at", DateTime(timezone=True), nullable=False),
)

CASE_APPEND_ONLY_TABLES = ("audit_case_history", "audit_incident_notices", "audit_incident_evidence")
CASE_TABLES = ("audit_incidents", "audit_legal_holds", "audit_subject_requests", "audit_incident_scan")

# ---------------------------------------------------------------------------------------------------
# Obligations with deadlines (PKS Art. 4(2)/5(1), 7, 8(2), 12(3), 13(2)): migration 0006.
# `audit_obligations` changes (its recorded status, its fulfilment); every change is also written to the
# append-only `audit_obligation_history`. Liaison officers and force majeure records are append-only too.
# ---------------------------------------------------------------------------------------------------

obligations = Table(
    "audit_obligations", metadata,
    Column("id", String(120), primary_key=True, doc="stable: derived from what started it"),
    Column("kind", String(40), nullable=False, doc="monitoring-evaluation | expiry-notice | data-balikan | "
           "force-majeure-notice | liaison-change-notice"),
    Column("article", String(60), nullable=False, doc="the article that sets it, e.g. 'Pasal 12 ayat (3)'"),
    Column("party", String(50), nullable=False, doc="the responsible org, or 'both' (PARA PIHAK)"),
    Column("agreement_id", String(100), nullable=True),
    Column("source_type", String(40), nullable=False, doc="agreement | handover | force-majeure | liaison-change"),
    Column("source_id", String(200), nullable=False),
    Column("title", Text, nullable=False, doc="what is due, in Indonesian"),
    Column("start_date", Date, nullable=False, doc="the Jakarta day that started it"),
    Column("due_date", Date, nullable=False, doc="the last day to fulfil it (inclusive)"),
    Column("due_rule", Text, nullable=False, doc="how the due date was computed (days off skipped named)"),
    Column("reminders", Text, nullable=True, doc='JSON [{"code", "on", "days_before_end"}]'),
    Column("reminded_days", SmallInteger, nullable=True, doc="the last reminder recorded (days before the end)"),
    Column("status", String(20), nullable=False, doc="the status the sweep last recorded"),
    Column("fulfilled_on", Date, nullable=True, doc="the day of the evidence (a letter's date)"),
    Column("fulfilled_at", DateTime(timezone=True), nullable=True, doc="when the fulfilment was recorded"),
    Column("evidence_kind", String(30), nullable=True, doc="letter | me-report | feedback-batch | addendum | "
           "termination-notice"),
    Column("evidence_ref", String(200), nullable=True),
    Column("evidence_sha256", String(64), nullable=True, doc="of the signed letter's PDF, if given"),
    Column("fulfilled_by", String(200), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
Index("ix_audit_obligations_due", obligations.c.due_date)
Index("ix_audit_obligations_source", obligations.c.source_type, obligations.c.source_id)

obligation_history = Table(
    "audit_obligation_history", metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    Column("obligation_id", String(120), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("change", String(40), nullable=False, doc="created | status | reminder-<n>d | due-changed | fulfilled"),
    Column("status", String(20), nullable=False, doc="the status after the change"),
    Column("note", Text, nullable=False),
    Column("actor", String(200), nullable=True, doc="null: the service itself"),
)
Index("ix_audit_obligation_history_obligation", obligation_history.c.obligation_id, obligation_history.c.id)

liaison_officers = Table(
    "audit_liaison_officers", metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    Column("officer_id", String(100), nullable=False, doc="the terms' id, or one given to a notified change"),
    Column("party", SmallInteger, nullable=False),
    Column("org", String(50), nullable=False),
    Column("position", String(500), nullable=False, doc="an office's head by job title (Art. 13(1)), not a name"),
    Column("office", String(500), nullable=False),
    Column("address", String(500), nullable=False),
    Column("email", String(200), nullable=False, doc="the office's address"),
    Column("phone", String(100), nullable=True),
    Column("effective_from", Date, nullable=False),
    Column("source", String(20), nullable=False, doc="terms | notice"),
    Column("notice_ref", String(200), nullable=True, doc="the notice letter's number (Art. 13(2))"),
    Column("obligation_id", String(120), nullable=True, doc="the notice obligation the change started"),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("recorded_by_org", String(50), nullable=True),
    Column("recorded_by", String(200), nullable=True),
)
Index("ix_audit_liaison_officers_org", liaison_officers.c.org, liaison_officers.c.effective_from)

force_majeure = Table(
    "audit_force_majeure", metadata,
    Column("id", String(64), primary_key=True),
    Column("org", String(50), nullable=False, doc="the party affected, who must notify the other (Art. 12(3))"),
    Column("occurred_on", Date, nullable=False),
    Column("summary", Text, nullable=False, doc="what happened (no personal data)"),
    Column("authority_statement", String(300), nullable=True, doc="the competent authority's statement (Art. 12(2))"),
    Column("obligation_id", String(120), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("recorded_by_org", String(50), nullable=False),
    Column("recorded_by", String(200), nullable=False),
)

OBLIGATION_APPEND_ONLY_TABLES = ("audit_obligation_history", "audit_liaison_officers", "audit_force_majeure")

notifications = Table(
    "audit_notifications", metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False, unique=True, doc="what it announces, once: <kind>:<id>:<change>"),
    Column("event_type", String(80), nullable=False, doc="the Kafka event it is published as"),
    Column("payload", Text, nullable=False, doc="the event's data (JSON; ids, dates and counts only)"),
    Column("party", String(20), nullable=False, doc="whose addresses are emailed: an org, or both"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("event_emitted_at", DateTime(timezone=True), nullable=True, doc="queued in the outbox"),
    Column("mail_status", String(20), nullable=False, doc="pending | sent | failed | skipped"),
    Column("mail_attempts", SmallInteger, nullable=False),
    Column("mail_at", DateTime(timezone=True), nullable=True, doc="the last attempt"),
    Column("mail_error", String(500), nullable=True),
)
Index("ix_audit_notifications_pending", notifications.c.mail_status, notifications.c.id)

processing_records = Table(
    "audit_processing_records", metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    Column("document", String(10), nullable=False, doc="ropa (UU PDP Art. 31) | dpia (Art. 34)"),
    Column("version", Integer, nullable=False, doc="1, 2, ... per document"),
    Column("terms_sha256", String(64), nullable=True, doc="the digest of the agreement files it was built from"),
    Column("agreement_id", String(100), nullable=False),
    Column("terms_version", String(200), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("issued_by", String(200), nullable=False, doc="the account, or urn:p3ke:service:audit when automatic"),
    Column("reason", String(20), nullable=False, doc="first | terms-changed | requested"),
    Column("sha256", String(64), nullable=False, doc="SHA-256 of `body`"),
    Column("body", Text, nullable=False, doc="the document, canonical JSON (no personal data: counts only)"),
    UniqueConstraint("document", "version", name="uq_audit_processing_records_document_version"),
)
PROCESSING_RECORDS_APPEND_ONLY_TABLES = ("audit_processing_records",)

# calendar feeds (migration 0010): secret feed URLs a calendar app subscribes to without a bearer token; only the
# SHA-256 of each URL's token is kept; a feed is revoked, never deleted (its history: audit_case_history)
calendar_feeds = Table(
    "audit_calendar_feeds", metadata,
    Column("id", String(40), primary_key=True),
    Column("token_sha256", String(64), nullable=False, unique=True, doc="SHA-256 (hex) of the URL's token"),
    Column("party", String(20), nullable=False, doc="whose deadlines it serves: kemenkopmk | kemnaker"),
    Column("label", String(100), nullable=False, doc="what it is for (no personal data)"),
    Column("created_by_org", String(50), nullable=False, doc="whose compliance auditors may revoke it"),
    Column("created_by", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Column("revoked_by", String(200), nullable=True),
)
