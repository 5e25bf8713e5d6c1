"""The PostgreSQL privileges of the audit service's application role: INSERT and SELECT on the log.

Run once by the schema owner after `migrate` (the owner keeps the DDL rights; the processes
connect as the application role). The triggers of migration 0002 refuse UPDATE, DELETE and
TRUNCATE even for the owner; these GRANTs make the application role unable to try.
"""

from __future__ import annotations

import re

from p3ke_audit.adapters.orm import CASE_APPEND_ONLY_TABLES, CASE_TABLES, LOG_TABLES, OBLIGATION_APPEND_ONLY_TABLES

_ROLE = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def grant_sql(role: str, schema: str = "public") -> str:
    if not _ROLE.fullmatch(role) or not _ROLE.fullmatch(schema):
        raise ValueError("role and schema must be plain lower-case SQL identifiers")
    log_tables = ", ".join(f"{schema}.{t}" for t in LOG_TABLES)
    return "\n".join([
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {role};",
        f"GRANT USAGE ON SCHEMA {schema} TO {role};",
        f"GRANT SELECT, INSERT ON {log_tables} TO {role};",
        f"GRANT USAGE ON SEQUENCE {schema}.audit_entries_seq_seq, {schema}.audit_verifications_id_seq TO {role};",
        "-- the shared messaging tables: the inbox is append-only too; the relay marks outbox rows sent",
        f"GRANT SELECT, INSERT ON {schema}.inbox TO {role};",
        f"GRANT SELECT, INSERT, UPDATE ON {schema}.outbox TO {role};",
        f"GRANT USAGE ON SEQUENCE {schema}.outbox_seq_seq TO {role};",
        "-- what the log last heard from each witness: contact state, not evidence",
        f"GRANT SELECT, INSERT, UPDATE ON {schema}.audit_witness_state TO {role};",
        f"GRANT SELECT ON {schema}.alembic_version TO {role};",
        *case_grants(role, schema),
        *obligation_grants(role, schema),
        "-- notifications (migration 0008): each announcement and whether it went out",
        f"GRANT SELECT, INSERT, UPDATE ON {schema}.audit_notifications TO {role};",
        f"GRANT USAGE ON SEQUENCE {schema}.audit_notifications_id_seq TO {role};",
        "-- ROPA and DPIA versions (migration 0009): append-only",
        f"GRANT SELECT, INSERT ON {schema}.audit_processing_records TO {role};",
        f"GRANT USAGE ON SEQUENCE {schema}.audit_processing_records_id_seq TO {role};",
        "-- calendar feeds (migration 0010): created, and revoked by setting its two columns; never deleted",
        f"GRANT SELECT, INSERT, UPDATE (revoked_at, revoked_by) ON {schema}.audit_calendar_feeds TO {role};",
        "-- the subject reference map (migration 0011, subject hash key rotation): append-only",
        f"GRANT SELECT, INSERT ON {schema}.audit_subject_ref_map TO {role};",
    ]) + "\n"


def case_grants(role: str, schema: str) -> list[str]:
    """Incidents, legal holds and data-subject requests (migration 0007): their history, notices and evidence
    append-only, the cases themselves changing as they move on."""
    return [
        "-- incidents and data-subject requests: history, notices and evidence append-only",
        f"GRANT SELECT, INSERT ON {', '.join(f'{schema}.{t}' for t in CASE_APPEND_ONLY_TABLES)} TO {role};",
        f"GRANT SELECT, INSERT, UPDATE ON {', '.join(f'{schema}.{t}' for t in CASE_TABLES)} TO {role};",
        f"GRANT USAGE ON SEQUENCE {schema}.audit_case_history_id_seq, {schema}.audit_incident_notices_id_seq, "
        f"{schema}.audit_legal_holds_id_seq TO {role};",
    ]


def obligation_grants(role: str, schema: str) -> list[str]:
    """Obligations (migration 0006): their history, the liaison officers and force majeure records append-only,
    the obligations themselves changing (their recorded status and fulfilment)."""
    return [
        "-- obligations: history, liaison officers and force majeure append-only",
        f"GRANT SELECT, INSERT ON {', '.join(f'{schema}.{t}' for t in OBLIGATION_APPEND_ONLY_TABLES)} TO {role};",
        f"GRANT SELECT, INSERT, UPDATE ON {schema}.audit_obligations TO {role};",
        f"GRANT USAGE ON SEQUENCE {schema}.audit_obligation_history_id_seq, {schema}.audit_liaison_officers_id_seq "
        f"TO {role};",
    ]
