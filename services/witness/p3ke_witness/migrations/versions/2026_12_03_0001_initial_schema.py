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

from p3ke_platform.migration_ops import (
    create_append_only_triggers_v1,
    create_messaging_tables_v1,
    create_refusing_function_v1,
    drop_append_only_triggers_v1,
    drop_messaging_tables_v1,
)

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("witness_cosigned", "witness_alarms")
FUNCTION = "p3ke_witness_refuse_change"
MESSAGE = "the witness keeps its evidence append-only"


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
    create_refusing_function_v1(FUNCTION, MESSAGE)
    create_append_only_triggers_v1(APPEND_ONLY, function=FUNCTION, message=MESSAGE)


def downgrade() -> None:
    drop_append_only_triggers_v1(APPEND_ONLY, function=FUNCTION)
    op.drop_index('ix_witness_alarms_origin_kind', table_name='witness_alarms')
    op.drop_table('witness_alarms')
    op.drop_table('witness_cosigned')
    op.drop_table('witness_logs')
    drop_messaging_tables_v1()
