"""append-only log tables, Merkle tree, checkpoints, subject index

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 09:00:00

The log tables refuse UPDATE, DELETE and TRUNCATE in the database itself:

* PostgreSQL: one statement-level trigger per table raising an exception, enabled ALWAYS so that it
  also fires under `session_replication_role = replica` (which silences ordinary triggers). A
  superuser can still disable it; the Merkle tree and the signed checkpoints make that visible.
* SQLite: BEFORE UPDATE / BEFORE DELETE triggers with RAISE(ABORT) (SQLite has no TRUNCATE; a
  DELETE without WHERE fires the trigger too).

The application role gets INSERT and SELECT only (`p3ke audit grant-sql` prints the GRANTs).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOG_TABLES = ("audit_entries", "audit_tree_nodes", "audit_checkpoints", "audit_subject_refs",
              "audit_verifications")

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION p3ke_audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def _is_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('leaf_index', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('leaf_hash', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('actor_roles', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('program', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('agreement_id', sa.String(length=100), nullable=True))
    op.create_index('ix_audit_entries_leaf_index', 'audit_entries', ['leaf_index'], unique=True)

    op.create_table('audit_tree_nodes',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('level', sa.SmallInteger(), nullable=False),
    sa.Column('idx', sa.BigInteger(), nullable=False),
    sa.Column('hash', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_tree_nodes'))
    )
    op.create_table('audit_checkpoints',
    sa.Column('tree_size', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('root_hash', sa.LargeBinary(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('key_id', sa.String(length=8), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tree_size', name=op.f('pk_audit_checkpoints'))
    )
    op.create_table('audit_subject_refs',
    sa.Column('subject_ref', sa.String(length=64), nullable=False),
    sa.Column('leaf_index', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.PrimaryKeyConstraint('subject_ref', 'leaf_index', name=op.f('pk_audit_subject_refs'))
    )
    op.create_table('audit_verifications',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tree_size', sa.BigInteger(), nullable=False),
    sa.Column('checkpoint_size', sa.BigInteger(), nullable=True),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('first_bad_leaf', sa.BigInteger(), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_verifications'))
    )

    if _is_sqlite():
        for table in LOG_TABLES:
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: {verb} on {table} refused'); END"
                )
    else:
        op.execute(PG_FUNCTION)
        for table in LOG_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION p3ke_audit_refuse_change()"
            )
            op.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_append_only")


def downgrade() -> None:
    # Downgrading is the one sanctioned way to lift the protection (the schema owner, knowingly).
    if _is_sqlite():
        for table in LOG_TABLES:
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
    else:
        for table in LOG_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS p3ke_audit_refuse_change()")
    op.drop_table('audit_verifications')
    op.drop_table('audit_subject_refs')
    op.drop_table('audit_checkpoints')
    op.drop_table('audit_tree_nodes')
    op.drop_index('ix_audit_entries_leaf_index', table_name='audit_entries')
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_column('agreement_id')
        batch_op.drop_column('program')
        batch_op.drop_column('actor_roles')
        batch_op.drop_column('leaf_hash')
        batch_op.drop_column('leaf_index')
