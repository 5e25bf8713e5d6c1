"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-26 01:18:29.540733
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
    op.create_table('handovers',
    sa.Column('handover_id', sa.String(length=100), nullable=False),
    sa.Column('request_id', sa.String(length=100), nullable=False),
    sa.Column('extract_id', sa.String(length=100), nullable=False),
    sa.Column('agreement_id', sa.String(length=100), nullable=False),
    sa.Column('program', sa.String(length=100), nullable=False),
    sa.Column('record_count', sa.BigInteger(), nullable=False),
    sa.Column('extract_sha256', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('handover_id', name=op.f('pk_handovers')),
    sa.UniqueConstraint('request_id', name=op.f('uq_handovers_request_id'))
    )


def downgrade() -> None:
    op.drop_table('handovers')
    drop_messaging_tables_v1()
