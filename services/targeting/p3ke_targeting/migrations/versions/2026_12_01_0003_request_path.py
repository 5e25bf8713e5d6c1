"""extract_requests.path: whether a request came through the API or from a ministry platform

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('extract_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('path', sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('extract_requests', schema=None) as batch_op:
        batch_op.drop_column('path')
