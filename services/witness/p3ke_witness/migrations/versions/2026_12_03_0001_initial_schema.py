"""initial schema: the witnessed logs' state, the cosigned checkpoints and the alarms

Revision ID: 0001
Revises: (none)
Create Date: 2026-12-03 09:00:00

`witness_cosigned` and `witness_alarms` are evidence: they refuse UPDATE, DELETE and TRUNCATE in the database
itself (PostgreSQL: a statement trigger enabled ALWAYS; SQLite: BEFORE UPDATE/DELETE triggers). `witness_logs`
holds the latest cosigned checkpoint per origin and moves forward by compare-and-set.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from p3ke_platform.migration_ops import create_messaging_tables_v1, drop_messaging_tables_v1

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("witness_cosigned", "witness_alarms")
PG_FUNCTION = """
CREATE OR REPLACE FUNCTION p3ke_witness_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the witness keeps its evidence append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def upgrade() -> None:
    create_messaging_tables_v1()
    op.create_table('witness_logs',
    sa.Column('origin', sa.String(length=300), nullable=False),
    sa.Column('tree_size', sa.BigInteger(), nullable=False),
    sa.Column('root_hash', sa.LargeBinary(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('log_key', sa.String(length=300), nullable=False),
    sa.Column('cosigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('origin', name=op.f('pk_witness_logs'))
    )
    op.create_table('witness_cosigned',
    sa.Column('origin', sa.String(length=300), nullable=False),
    sa.Column('tree_size', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('root_hash', sa.LargeBinary(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('cosignature', sa.Text(), nullable=False),
    sa.Column('cosigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('origin', 'tree_size', name=op.f('pk_witness_cosigned'))
    )
    op.create_table('witness_alarms',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('origin', sa.String(length=300), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cosigned_size', sa.BigInteger(), nullable=False),
    sa.Column('cosigned_root', sa.LargeBinary(), nullable=False),
    sa.Column('cosigned_note', sa.Text(), nullable=False),
    sa.Column('offered_size', sa.BigInteger(), nullable=False),
    sa.Column('offered_root', sa.LargeBinary(), nullable=False),
    sa.Column('offered_note', sa.Text(), nullable=False),
    sa.Column('old_size', sa.BigInteger(), nullable=False),
    sa.Column('proof', sa.Text(), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_witness_alarms'))
    )
    op.create_index('ix_witness_alarms_origin_kind', 'witness_alarms', ['origin', 'kind'], unique=False)
    if op.get_bind().dialect.name == "sqlite":
        for table in APPEND_ONLY:
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} BEGIN SELECT "
                    f"RAISE(ABORT, 'the witness keeps its evidence append-only: {verb} on {table} refused'); END"
                )
        return
    op.execute(PG_FUNCTION)
    for table in APPEND_ONLY:
        op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION p3ke_witness_refuse_change()")
        op.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_append_only")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in APPEND_ONLY:
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
    else:
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS p3ke_witness_refuse_change()")
    op.drop_index('ix_witness_alarms_origin_kind', table_name='witness_alarms')
    op.drop_table('witness_alarms')
    op.drop_table('witness_cosigned')
    op.drop_table('witness_logs')
    drop_messaging_tables_v1()
