"""disposal_certificates: party 2's berita acara pemusnahan of a signed handover (when it is owed, as issued, as
signed)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 12:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('disposal_certificates',
    sa.Column('handover_id', sa.String(length=100), nullable=False),
    sa.Column('purpose_ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('purpose_ended_by', sa.String(length=200), nullable=True),
    sa.Column('purpose_ended_note', sa.Text(), nullable=True),
    sa.Column('due_reason', sa.String(length=30), nullable=True),
    sa.Column('due_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('due_by', sa.DateTime(timezone=True), nullable=True),
    sa.Column('due_announced_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('number', sa.String(length=100), nullable=True),
    sa.Column('method', sa.String(length=300), nullable=True),
    sa.Column('items', sa.Text(), nullable=True),
    sa.Column('destroyed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('issued_by', sa.String(length=200), nullable=True),
    sa.Column('signatory_id', sa.String(length=100), nullable=True),
    sa.Column('file', sa.String(length=200), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('certified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('certified_by', sa.String(length=200), nullable=True),
    sa.Column('signed_file', sa.String(length=200), nullable=True),
    sa.Column('signed_sha256', sa.String(length=64), nullable=True),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('certificate_sha256', sa.String(length=64), nullable=True),
    sa.Column('certificate_subject', sa.String(length=1000), nullable=True),
    sa.Column('certificate_serial', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['handover_id'], ['handovers.handover_id'],
                            name=op.f('fk_disposal_certificates_handover_id_handovers')),
    sa.PrimaryKeyConstraint('handover_id', name=op.f('pk_disposal_certificates')),
    sa.UniqueConstraint('number', name=op.f('uq_disposal_certificates_number'))
    )
    with op.batch_alter_table('disposal_certificates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disposal_certificates_sha256'), ['sha256'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('disposal_certificates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disposal_certificates_sha256'))
    op.drop_table('disposal_certificates')
