"""plan_budget: protected planning queries per caller and Jakarta day

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 18:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'plan_budget',
        sa.Column('caller_org', sa.String(length=50), nullable=False),
        sa.Column('caller_subject', sa.String(length=200), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('used', sa.Integer(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('caller_org', 'caller_subject', 'day', name=op.f('pk_plan_budget')),
    )


def downgrade() -> None:
    op.drop_table('plan_budget')
