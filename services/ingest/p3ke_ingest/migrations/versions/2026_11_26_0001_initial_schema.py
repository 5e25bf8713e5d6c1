"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-26 01:18:25.603408
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
    op.create_table('dataset_versions',
    sa.Column('dataset_version_id', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('snapshot_uri', sa.Text(), nullable=True),
    sa.Column('snapshot_sha256', sa.String(length=64), nullable=True),
    sa.Column('individuals', sa.BigInteger(), nullable=False),
    sa.Column('families', sa.BigInteger(), nullable=False),
    sa.Column('rows_rejected', sa.BigInteger(), nullable=False),
    sa.Column('submitted_by', sa.String(length=200), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('dataset_version_id', name=op.f('pk_dataset_versions'))
    )


def downgrade() -> None:
    op.drop_table('dataset_versions')
    drop_messaging_tables_v1()
