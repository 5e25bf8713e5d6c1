"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-26 01:18:27.457713
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
    op.create_table('datasets',
    sa.Column('dataset_version_id', sa.String(length=100), nullable=False),
    sa.Column('snapshot_uri', sa.Text(), nullable=False),
    sa.Column('snapshot_sha256', sa.String(length=64), nullable=False),
    sa.Column('individuals', sa.BigInteger(), nullable=False),
    sa.Column('families', sa.BigInteger(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('is_current', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('dataset_version_id', name=op.f('pk_datasets'))
    )
    op.create_table('extract_requests',
    sa.Column('request_id', sa.String(length=100), nullable=False),
    sa.Column('agreement_id', sa.String(length=100), nullable=False),
    sa.Column('program', sa.String(length=100), nullable=False),
    sa.Column('requester_org', sa.String(length=50), nullable=False),
    sa.Column('requester_subject', sa.String(length=200), nullable=False),
    sa.Column('quota', sa.BigInteger(), nullable=False),
    sa.Column('request', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('request_id', name=op.f('pk_extract_requests'))
    )


def downgrade() -> None:
    op.drop_table('extract_requests')
    op.drop_table('datasets')
    drop_messaging_tables_v1()
