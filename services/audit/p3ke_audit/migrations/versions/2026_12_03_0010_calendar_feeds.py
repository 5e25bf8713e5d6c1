"""calendar feeds: secret per-party iCalendar URLs for calendar apps that cannot send a bearer token

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 20:00:00

`audit_calendar_feeds` holds one row per feed URL: the SHA-256 of its token (the token itself is shown once and
never kept), the party whose deadlines it serves, its label, who made it and when, and when and by whom it was
revoked. Rows are never deleted; their history is in `audit_case_history` (case type `calendar-feed`).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('audit_calendar_feeds',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('party', sa.String(length=20), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=False),
    sa.Column('created_by_org', sa.String(length=50), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', TZ, nullable=False),
    sa.Column('revoked_at', TZ, nullable=True),
    sa.Column('revoked_by', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_calendar_feeds')),
    sa.UniqueConstraint('token_sha256', name=op.f('uq_audit_calendar_feeds_token_sha256'))
    )


def downgrade() -> None:
    op.drop_table('audit_calendar_feeds')
