"""retention (issue #18): the milestones of the handovers made from each extract, the key id of each ledger, and the
retention disposal job's intents and lease

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 12:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from p3ke_platform.retention.tables import create_disposal_tables_v1, drop_disposal_tables_v1

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'extract_milestones',
        sa.Column('extract_id', sa.String(length=100), nullable=False),
        sa.Column('milestone', sa.String(length=30), nullable=False),
        sa.Column('handover_id', sa.String(length=100), nullable=False),
        sa.Column('agreement_id', sa.String(length=100), nullable=False),
        sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('extract_id', 'milestone', name=op.f('pk_extract_milestones')),
    )
    with op.batch_alter_table('extracts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ledger_key_id', sa.String(length=16), nullable=True))
    create_disposal_tables_v1()


def downgrade() -> None:
    drop_disposal_tables_v1()
    with op.batch_alter_table('extracts', schema=None) as batch_op:
        batch_op.drop_column('ledger_key_id')
    op.drop_table('extract_milestones')
