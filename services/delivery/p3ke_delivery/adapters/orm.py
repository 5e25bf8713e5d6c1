"""Delivery tables: handovers (one per accepted extract), their signatures, download links, and the
counters that number BASTs."""

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)

from p3ke_platform.db import new_metadata
from p3ke_platform.envelope import data_keys_table
from p3ke_platform.messaging.tables import messaging_tables
from p3ke_platform.retention.tables import disposal_tables

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
    # since 0002
    Column("extract_uri", String(1000)),
    Column("dataset_version_id", String(100)),
    Column("reason", Text, doc="why the handover failed or was revoked"),
    Column("updated_at", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("claimed_until", DateTime(timezone=True), doc="a preparer's lease"),
    Column("bast_number", String(100), unique=True),
    Column("bast_issued_at", DateTime(timezone=True)),
    Column("terms_version", String(100)),
    Column("signatory_1", String(100), doc="party 1's signatory named in the BAST"),
    Column("signatory_2", String(100), doc="party 2's signatory named in the BAST"),
    Column("bast_file", String(200), doc="the BAST as issued (unsigned)"),
    Column("bast_sha256", String(64)),
    Column("current_file", String(200), doc="the BAST as signed so far"),
    Column("current_sha256", String(64)),
    Column("fields", Text, doc="JSON list of the extract's columns"),
    Column("package_file", String(200)),
    Column("package_sha256", String(64)),
    Column("package_size", BigInteger),
    Column("password_ciphertext", LargeBinary, doc="sealed with the server key; cleared once released"),
    Column("password_released_at", DateTime(timezone=True)),
    Column("password_released_to", String(200)),
    Column("signed_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Column("revoked_by", String(200)),
    # since 0003: what the request asked, as extract-prepared reports it (null for handovers opened before)
    Column("requester", Text, doc="JSON Actor: who asked, as targeting verified it; the password is bound to it"),
    Column("recipient", Text, doc="JSON Actor: the person the request named to receive the package, if any"),
    Column("request_path", String(20), doc="api | platform"),
    Column("justification", Text),
    Column("criteria", Text, doc="JSON ExtractCriteria, with the reference date used"),
    Column("requested_fields", Text, doc="JSON list of the fields the request asked for"),
    # since 0004
    Column("purpose", String(64), doc="the request's purpose code (the policy decides every step with it)"),
    # since 0007
    Column("downloaded_at", DateTime(timezone=True), doc="the package's first download (handover-milestone)"),
    Column("subject_key_id", String(16), doc="the subject hash key subject-refs.txt was written with (NULL: k1)"),
)

signatures = Table(
    "signatures", metadata,
    Column("handover_id", String(100), ForeignKey("handovers.handover_id"), primary_key=True),
    Column("party", Integer, primary_key=True),
    Column("org", String(50), nullable=False),
    Column("signatory_id", String(100), nullable=False),
    Column("field", String(100), nullable=False),
    Column("certificate_sha256", String(64), nullable=False),
    Column("certificate_subject", String(1000), nullable=False),
    Column("certificate_serial", String(100), nullable=False),
    Column("signed_at", DateTime(timezone=True), nullable=False, doc="as the signer's machine claims"),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("uploaded_by", String(200), nullable=False),
    Column("document_sha256", String(64), nullable=False, doc="the BAST after this signature"),
)

download_links = Table(
    "download_links", metadata,
    Column("link_id", String(64), primary_key=True),
    Column("handover_id", String(100), ForeignKey("handovers.handover_id"), nullable=False, index=True),
    Column("issued_to", String(200), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("downloads", Integer, nullable=False, server_default="0"),
    Column("last_download_at", DateTime(timezone=True)),
)

bast_counters = Table(
    "bast_counters", metadata,
    Column("scope", String(200), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

# since 0006: party 2's disposal certificate (berita acara pemusnahan) of a signed handover
disposal_certificates = Table(
    "disposal_certificates", metadata,
    Column("handover_id", String(100), ForeignKey("handovers.handover_id"), primary_key=True),
    Column("purpose_ended_at", DateTime(timezone=True), doc="when the handover's purpose was declared ended"),
    Column("purpose_ended_by", String(200)),
    Column("purpose_ended_note", Text, doc="why (no personal data)"),
    Column("due_reason", String(30), doc="the trigger announced: purpose-ended | agreement-ended"),
    Column("due_since", DateTime(timezone=True)),
    Column("due_by", DateTime(timezone=True)),
    Column("due_announced_at", DateTime(timezone=True), doc="when disposal-status-changed (due) was emitted"),
    Column("number", String(100), unique=True),
    Column("method", String(300)),
    Column("items", Text, doc="JSON list of what was destroyed (package, extracted-files, copies, password)"),
    Column("destroyed_at", DateTime(timezone=True)),
    Column("notes", Text),
    Column("issued_at", DateTime(timezone=True)),
    Column("issued_by", String(200)),
    Column("signatory_id", String(100), doc="party 2's signatory named on the certificate"),
    Column("file", String(200), doc="the certificate as issued (unsigned)"),
    Column("sha256", String(64), index=True),
    Column("certified_at", DateTime(timezone=True)),
    Column("certified_by", String(200), doc="who uploaded the signed certificate"),
    Column("signed_file", String(200)),
    Column("signed_sha256", String(64)),
    Column("signed_at", DateTime(timezone=True), doc="as the signer's machine claims"),
    Column("certificate_sha256", String(64), doc="the signer's X.509 certificate"),
    Column("certificate_subject", String(1000)),
    Column("certificate_serial", String(100)),
)

# since 0005: each handover's data key (p3ke_platform.envelope), wrapped under the KEK ring; NULL once destroyed
data_keys = data_keys_table(metadata)

# since 0007: the retention disposal job's intents and lease (p3ke_platform.retention.tables)
disposal = disposal_tables(metadata)
