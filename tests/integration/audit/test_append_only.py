"""The log tables only ever grow: triggers refuse UPDATE/DELETE/TRUNCATE for everyone (also under
session_replication_role=replica), and the application role is granted INSERT and SELECT only."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from p3ke_audit.adapters.grants import grant_sql
from p3ke_audit.adapters.orm import LOG_TABLES
from tests.integration.audit.helpers import audit_runtime, make_log

CHANGES = {
    "audit_entries": ["UPDATE audit_entries SET payload = '{}' WHERE leaf_index = 0",
                      "DELETE FROM audit_entries WHERE leaf_index = 0", "DELETE FROM audit_entries"],
    "audit_tree_nodes": ["UPDATE audit_tree_nodes SET hash = hash", "DELETE FROM audit_tree_nodes"],
    "audit_checkpoints": ["UPDATE audit_checkpoints SET note = 'x'", "DELETE FROM audit_checkpoints"],
    "audit_subject_refs": ["DELETE FROM audit_subject_refs"],
    "audit_verifications": ["DELETE FROM audit_verifications WHERE 1 = 0"],  # refused even if nothing matches
    "audit_cosignatures": ["UPDATE audit_cosignatures SET line = line WHERE 1 = 0",
                           "DELETE FROM audit_cosignatures WHERE 1 = 0"],
}
COLUMN = {"audit_entries": "payload", "audit_tree_nodes": "hash", "audit_checkpoints": "note",
          "audit_subject_refs": "subject_ref", "audit_verifications": "message",
          "audit_cosignatures": "line"}


def _refused(engine: sa.Engine, sql: str, *, replica: bool = False) -> str:
    with engine.connect() as conn:
        if replica:
            conn.execute(text("SET session_replication_role = replica"))
        with pytest.raises(sa.exc.DBAPIError) as failure:
            conn.execute(text(sql))
        conn.rollback()
    return str(failure.value.orig)


def test_triggers_refuse_changes_for_the_owner(database_url: str, tmp_path: Path) -> None:
    runtime = audit_runtime(database_url, tmp_path, audit_checkpoint_every=4)
    make_log(runtime, 10)
    postgres = runtime.engine.dialect.name == "postgresql"
    assert set(CHANGES) == set(LOG_TABLES)
    for table, statements in CHANGES.items():
        if table in ("audit_verifications", "audit_cosignatures") and not postgres:
            continue  # SQLite's statement-less triggers fire per row only
        for sql in statements:
            assert "append-only" in _refused(runtime.engine, sql)
            if postgres:  # ENABLE ALWAYS: replication mode does not silence them
                assert "append-only" in _refused(runtime.engine, sql, replica=True)
        if postgres:
            assert "append-only" in _refused(runtime.engine, f"TRUNCATE {table}")
            assert "append-only" in _refused(runtime.engine, f"TRUNCATE {table}", replica=True)
    with runtime.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_entries")).scalar() == 10


@pytest.mark.postgres
def test_the_application_role_may_only_insert_and_select(postgres_url: str, tmp_path: Path) -> None:
    database_url = postgres_url  # PostgreSQL only (SQLite has no roles; it serialises writers)
    runtime = audit_runtime(database_url, tmp_path, audit_checkpoint_every=4)
    make_log(runtime, 5)
    role = f"audit_app_{make_url(database_url).database}"
    with runtime.engine.begin() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN PASSWORD 'app-pass'"))
        conn.exec_driver_sql(grant_sql(role))  # exactly what `p3ke audit grant-sql` prints
    app_url = make_url(database_url).set(username=role, password="app-pass")
    app = create_engine(app_url)
    try:
        # the application can append (through the real appender) and read
        app_runtime = audit_runtime(app_url.render_as_string(hide_password=False), tmp_path,
                                    audit_checkpoint_every=4)
        make_log(app_runtime, 5, seed=2)
        with app.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM audit_entries")).scalar() == 10
        for table in LOG_TABLES:
            for sql in (f"UPDATE {table} SET {COLUMN[table]} = NULL", f"DELETE FROM {table}", f"TRUNCATE {table}"):
                assert "permission denied" in _refused(app, sql)
    finally:
        app.dispose()
