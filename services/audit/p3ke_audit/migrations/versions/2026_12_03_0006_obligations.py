"""obligations with deadlines (PKS Art. 4/5, 7, 8, 12, 13), their history, liaison officers, force majeure

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 12:00:00

`audit_obligations` holds one row per obligation: what is due, from whom, by when and how that date was
computed, and its fulfilment with the evidence. Its `status` is the status a sweep last recorded (the live
status derives from the clock); with the fulfilment columns it is what changes here. The other tables only
ever receive INSERTs (triggers refusing UPDATE, DELETE and TRUNCATE, like the log's):

* `audit_obligation_history`: every change of an obligation (created, status, reminder, due date, fulfilled);
* `audit_liaison_officers`: the liaison officers of each party (Art. 13), seeded from the terms and then
  changed by a notice; the current officer of a party is its latest row in effect;
* `audit_force_majeure`: the force majeure events recorded by either party (Art. 12).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from p3ke_platform.migration_ops import (
    create_append_only_triggers_v1,
    create_refusing_function_v1,
    drop_append_only_triggers_v1,
)

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = "p3ke_obligations_refuse_change"
MESSAGE = "obligation records are append-only"
APPEND_ONLY = ("audit_obligation_history", "audit_liaison_officers", "audit_force_majeure")
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table('audit_obligations',
    sa.Column('id', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('article', sa.String(length=60), nullable=False),
    sa.Column('party', sa.String(length=50), nullable=False),
    sa.Column('agreement_id', sa.String(length=100), nullable=True),
    sa.Column('source_type', sa.String(length=40), nullable=False),
    sa.Column('source_id', sa.String(length=200), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('due_rule', sa.Text(), nullable=False),
    sa.Column('reminders', sa.Text(), nullable=True),
    sa.Column('reminded_days', sa.SmallInteger(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('fulfilled_on', sa.Date(), nullable=True),
    sa.Column('fulfilled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('evidence_kind', sa.String(length=30), nullable=True),
    sa.Column('evidence_ref', sa.String(length=200), nullable=True),
    sa.Column('evidence_sha256', sa.String(length=64), nullable=True),
    sa.Column('fulfilled_by', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_obligations'))
    )
    op.create_index('ix_audit_obligations_due', 'audit_obligations', ['due_date'], unique=False)
    op.create_index('ix_audit_obligations_source', 'audit_obligations', ['source_type', 'source_id'], unique=False)
    op.create_table('audit_obligation_history',
    sa.Column('id', SEQ, autoincrement=True, nullable=False),
    sa.Column('obligation_id', sa.String(length=120), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('change', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_obligation_history'))
    )
    op.create_index('ix_audit_obligation_history_obligation', 'audit_obligation_history', ['obligation_id', 'id'],
                    unique=False)
    op.create_table('audit_liaison_officers',
    sa.Column('id', SEQ, autoincrement=True, nullable=False),
    sa.Column('officer_id', sa.String(length=100), nullable=False),
    sa.Column('party', sa.SmallInteger(), nullable=False),
    sa.Column('org', sa.String(length=50), nullable=False),
    sa.Column('position', sa.String(length=500), nullable=False),
    sa.Column('office', sa.String(length=500), nullable=False),
    sa.Column('address', sa.String(length=500), nullable=False),
    sa.Column('email', sa.String(length=200), nullable=False),
    sa.Column('phone', sa.String(length=100), nullable=True),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('notice_ref', sa.String(length=200), nullable=True),
    sa.Column('obligation_id', sa.String(length=120), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by_org', sa.String(length=50), nullable=True),
    sa.Column('recorded_by', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_liaison_officers'))
    )
    op.create_index('ix_audit_liaison_officers_org', 'audit_liaison_officers', ['org', 'effective_from'], unique=False)
    op.create_table('audit_force_majeure',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('org', sa.String(length=50), nullable=False),
    sa.Column('occurred_on', sa.Date(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('authority_statement', sa.String(length=300), nullable=True),
    sa.Column('obligation_id', sa.String(length=120), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by_org', sa.String(length=50), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_force_majeure'))
    )
    create_refusing_function_v1(FUNCTION, MESSAGE)
    create_append_only_triggers_v1(APPEND_ONLY, function=FUNCTION, message=MESSAGE)


def downgrade() -> None:
    drop_append_only_triggers_v1(APPEND_ONLY, function=FUNCTION)
    op.drop_table('audit_force_majeure')
    op.drop_index('ix_audit_liaison_officers_org', table_name='audit_liaison_officers')
    op.drop_table('audit_liaison_officers')
    op.drop_index('ix_audit_obligation_history_obligation', table_name='audit_obligation_history')
    op.drop_table('audit_obligation_history')
    op.drop_index('ix_audit_obligations_source', table_name='audit_obligations')
    op.drop_index('ix_audit_obligations_due', table_name='audit_obligations')
    op.drop_table('audit_obligations')
