"""Alembic operations the services' migrations share: the outbox and inbox tables, append-only tables.

Versioned by name and never changed once released, because migrations are history: a later change to
these tables gets a `_v2` function called from a new revision of each service.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def create_messaging_tables_v1() -> None:
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(length=100), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_inbox")),
    )
    op.create_table(
        "outbox",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_pending", ["seq"], unique=False,
                              postgresql_where=sa.text("sent_at IS NULL"), sqlite_where=sa.text("sent_at IS NULL"))


def drop_messaging_tables_v1() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_pending", postgresql_where=sa.text("sent_at IS NULL"),
                            sqlite_where=sa.text("sent_at IS NULL"))
    op.drop_table("outbox")
    op.drop_table("inbox")


def create_append_only_triggers_v1(tables: tuple[str, ...], *, function: str, message: str) -> None:
    """Tables that refuse UPDATE, DELETE and TRUNCATE, for everyone, in the database itself.

    SQLite: BEFORE UPDATE / BEFORE DELETE triggers raising `<message>: <VERB> on <table> refused`. PostgreSQL:
    one statement-level trigger per table running `function` (one made by `create_refusing_function_v1`, or an
    existing one), enabled ALWAYS so that replication mode does not silence it.
    """
    if op.get_bind().dialect.name == "sqlite":
        for table in tables:
            for verb in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                           f"BEGIN SELECT RAISE(ABORT, '{message}: {verb} on {table} refused'); END")
        return
    for table in tables:
        op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {table} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()")
        op.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_append_only")


def create_refusing_function_v1(function: str, message: str) -> None:
    """PostgreSQL: the trigger function of `create_append_only_triggers_v1`, raising `<message>: <op> on <table>
    refused` (insufficient_privilege). Nothing on SQLite."""
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute(f"""
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{message}: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$
""")


def drop_append_only_triggers_v1(tables: tuple[str, ...], *, function: str | None = None) -> None:
    """Undo `create_append_only_triggers_v1` (and drop `function`, if given, on PostgreSQL)."""
    if op.get_bind().dialect.name == "sqlite":
        for table in tables:
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
        return
    for table in tables:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    if function:
        op.execute(f"DROP FUNCTION IF EXISTS {function}()")
