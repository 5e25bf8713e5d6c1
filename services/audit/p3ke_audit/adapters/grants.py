"""The PostgreSQL privileges of the audit service's application role: INSERT and SELECT on the log.

Run once by the schema owner after `migrate` (the owner keeps the DDL rights; the processes
connect as the application role). The triggers of migration 0002 refuse UPDATE, DELETE and
TRUNCATE even for the owner; these GRANTs make the application role unable to try.
"""

from __future__ import annotations

import re

from p3ke_audit.adapters.orm import LOG_TABLES

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
    ]) + "\n"
