"""data_keys: each handover's data key, wrapped under the KEK ring; a tombstone (wrapped_key NULL) once destroyed

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 12:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('data_keys',
    sa.Column('key_id', sa.String(length=40), nullable=False),
    sa.Column('artefact_kind', sa.String(length=64), nullable=False),
    sa.Column('artefact_id', sa.String(length=200), nullable=False),
    sa.Column('wrapped_key', sa.LargeBinary(), nullable=True),
    sa.Column('kek_id', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rewrapped_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('destroyed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('destroyed_reason', sa.String(length=500), nullable=True),
    sa.PrimaryKeyConstraint('key_id', name=op.f('pk_data_keys'))
    )
    op.create_index('ix_data_keys_artefact', 'data_keys', ['artefact_kind', 'artefact_id'], unique=True)


def downgrade() -> None:
    op.drop_index('ix_data_keys_artefact', table_name='data_keys')
    op.drop_table('data_keys')
