"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-26 01:18:31.440518
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from p3ke_platform.migration_ops import create_messaging_tables_v1, drop_messaging_tables_v1

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_messaging_tables_v1()
    op.create_table('signed_handovers',
    sa.Column('handover_id', sa.String(length=100), nullable=False),
    sa.Column('agreement_id', sa.String(length=100), nullable=False),
    sa.Column('program', sa.String(length=100), nullable=False),
    sa.Column('record_count', sa.BigInteger(), nullable=False),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('handover_id', name=op.f('pk_signed_handovers'))
    )
    op.create_table('snapshots',
    sa.Column('dataset_version_id', sa.String(length=100), nullable=False),
    sa.Column('snapshot_uri', sa.String(length=1000), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('dataset_version_id', name=op.f('pk_snapshots'))
    )


def downgrade() -> None:
    op.drop_table('snapshots')
    op.drop_table('signed_handovers')
    drop_messaging_tables_v1()
