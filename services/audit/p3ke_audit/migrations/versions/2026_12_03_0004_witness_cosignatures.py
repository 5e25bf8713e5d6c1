"""witnesses' cosignatures of checkpoints, and what the log last heard from each witness

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 09:00:00

`audit_cosignatures` keeps every C2SP cosignature line a witness returned for a checkpoint. It is a log
table: append-only like those of 0002 (triggers refusing UPDATE, DELETE and TRUNCATE; INSERT and SELECT
granted). `audit_witness_state` holds one row per configured witness (last contact, last error, the size it
knows); it changes with every request and is not evidence of anything.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from p3ke_platform.migration_ops import create_append_only_triggers_v1, drop_append_only_triggers_v1

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "audit_cosignatures"


def upgrade() -> None:
    op.create_table(TABLE,
    sa.Column('tree_size', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('key_id', sa.String(length=8), nullable=False),
    sa.Column('witness', sa.String(length=200), nullable=False),
    sa.Column('line', sa.Text(), nullable=False),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tree_size', 'key_id', name=op.f('pk_audit_cosignatures'))
    )
    op.create_table('audit_witness_state',
    sa.Column('vkey', sa.String(length=300), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('cosigned_size', sa.BigInteger(), nullable=True),
    sa.Column('witness_size', sa.BigInteger(), nullable=True),
    sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('vkey', name=op.f('pk_audit_witness_state'))
    )
    # the function p3ke_audit_refuse_change() of 0002
    create_append_only_triggers_v1((TABLE,), function="p3ke_audit_refuse_change",
                                   message="the audit log is append-only")


def downgrade() -> None:
    drop_append_only_triggers_v1((TABLE,))
    op.drop_table('audit_witness_state')
    op.drop_table(TABLE)
