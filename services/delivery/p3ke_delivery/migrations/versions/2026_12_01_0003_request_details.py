"""handovers: what the request asked (requester, recipient, path, justification, criteria, fields)

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

_COLUMNS = (
    ('requester', sa.Text()),
    ('recipient', sa.Text()),
    ('request_path', sa.String(length=20)),
    ('justification', sa.Text()),
    ('criteria', sa.Text()),
    ('requested_fields', sa.Text()),
)


def upgrade() -> None:
    with op.batch_alter_table('handovers', schema=None) as batch_op:
        for name, type_ in _COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('handovers', schema=None) as batch_op:
        for name, _ in reversed(_COLUMNS):
            batch_op.drop_column(name)
