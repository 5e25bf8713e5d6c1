"""notifications of the obligations desk: what was announced (Kafka event, email), once

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 16:00:00

`audit_notifications` holds one row per announcement (an obligation's status change or reminder, an incident
opened), written in the transaction that recorded the change; the notification job queues its Kafka event
and sends its email after that transaction commits, and records each (so a restart sends nothing twice).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('audit_notifications',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('event_type', sa.String(length=80), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('party', sa.String(length=20), nullable=False),
    sa.Column('created_at', TZ, nullable=False),
    sa.Column('event_emitted_at', TZ, nullable=True),
    sa.Column('mail_status', sa.String(length=20), nullable=False),
    sa.Column('mail_attempts', sa.SmallInteger(), nullable=False),
    sa.Column('mail_at', TZ, nullable=True),
    sa.Column('mail_error', sa.String(length=500), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_notifications')),
    sa.UniqueConstraint('key', name=op.f('uq_audit_notifications_key'))
    )
    op.create_index('ix_audit_notifications_pending', 'audit_notifications', ['mail_status', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_audit_notifications_pending', table_name='audit_notifications')
    op.drop_table('audit_notifications')
