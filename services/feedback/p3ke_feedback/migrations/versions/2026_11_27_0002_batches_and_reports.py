"""extracts, feedback batches, promotions, delivered and report cells, publications

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MEASURES = ('rows', 'rejected', 'cls_in_extract', 'cls_in_p3ke_not_delivered', 'cls_not_in_p3ke',
            'cls_invalid_nik', 'cls_duplicate', 'served', 'served_in_extract', 'st_enrolled', 'st_completed',
            'st_dropped_out', 'st_benefit_paid', 'st_suspended', 'st_deceased', 'benefit_value')


def _measures() -> list[sa.Column]:
    return [sa.Column(name, sa.BigInteger(), server_default='0', nullable=False) for name in MEASURES]


def upgrade() -> None:
    with op.batch_alter_table('signed_handovers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('extract_id', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('bast_number', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('recipient_org', sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column('period', sa.String(length=7), nullable=True))
        batch_op.add_column(sa.Column('delivered_state', sa.String(length=20), server_default='pending',
                                      nullable=False))
        batch_op.add_column(sa.Column('delivered_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('delivered_total', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('first_feedback_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_feedback_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_signed_handovers_extract_id'), ['extract_id'], unique=False)

    with op.batch_alter_table('snapshots', schema=None) as batch_op:
        batch_op.add_column(sa.Column('snapshot_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('individuals', sa.BigInteger(), nullable=True))

    op.create_table('extracts',
    sa.Column('extract_id', sa.String(length=100), nullable=False),
    sa.Column('request_id', sa.String(length=100), nullable=False),
    sa.Column('agreement_id', sa.String(length=100), nullable=False),
    sa.Column('program', sa.String(length=100), nullable=False),
    sa.Column('dataset_version_id', sa.String(length=100), nullable=True),
    sa.Column('record_count', sa.BigInteger(), nullable=False),
    sa.Column('counts_by_desil', sa.Text(), nullable=False),
    sa.Column('file_uri', sa.Text(), nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=False),
    sa.Column('prepared_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('extract_id', name=op.f('pk_extracts'))
    )
    op.create_table('feedback_batches',
    sa.Column('batch_id', sa.String(length=100), nullable=False),
    sa.Column('handover_id', sa.String(length=100), nullable=False),
    sa.Column('agreement_id', sa.String(length=100), nullable=False),
    sa.Column('program', sa.String(length=100), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('supersedes', sa.String(length=100), nullable=True),
    sa.Column('superseded_by', sa.String(length=100), nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('file_format', sa.String(length=10), nullable=False),
    sa.Column('file_bytes', sa.BigInteger(), nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=False),
    sa.Column('dataset_version_id', sa.String(length=100), nullable=False),
    sa.Column('rows', sa.BigInteger(), nullable=False),
    sa.Column('rows_rejected', sa.BigInteger(), nullable=False),
    sa.Column('served', sa.BigInteger(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('submitted_org', sa.String(length=50), nullable=False),
    sa.Column('submitted_subject', sa.String(length=200), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('directory', sa.String(length=300), nullable=False),
    sa.PrimaryKeyConstraint('batch_id', name=op.f('pk_feedback_batches')),
    sa.UniqueConstraint('handover_id', 'file_sha256', name=op.f('uq_feedback_batches_handover_id_file_sha256'))
    )
    with op.batch_alter_table('feedback_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feedback_batches_handover_id'), ['handover_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_feedback_batches_program'), ['program'], unique=False)

    op.create_table('batch_cells',
    sa.Column('batch_id', sa.String(length=100), nullable=False),
    sa.Column('region', sa.String(length=10), nullable=False),
    sa.Column('desil', sa.Integer(), nullable=False),
    *_measures(),
    sa.PrimaryKeyConstraint('batch_id', 'region', 'desil', name=op.f('pk_batch_cells'))
    )
    op.create_table('promotions',
    sa.Column('batch_id', sa.String(length=100), nullable=False),
    sa.Column('row', sa.BigInteger(), nullable=False),
    sa.Column('promoted_by', sa.String(length=100), nullable=False),
    sa.Column('promoted_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('batch_id', 'row', name=op.f('pk_promotions'))
    )
    op.create_table('delivered_cells',
    sa.Column('handover_id', sa.String(length=100), nullable=False),
    sa.Column('region', sa.String(length=10), nullable=False),
    sa.Column('desil', sa.Integer(), nullable=False),
    sa.Column('delivered', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('handover_id', 'region', 'desil', name=op.f('pk_delivered_cells'))
    )
    op.create_table('report_cells',
    sa.Column('program', sa.String(length=100), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('region', sa.String(length=10), nullable=False),
    sa.Column('desil', sa.Integer(), nullable=False),
    sa.Column('delivered', sa.BigInteger(), server_default='0', nullable=False),
    *_measures(),
    sa.PrimaryKeyConstraint('program', 'period', 'region', 'desil', name=op.f('pk_report_cells'))
    )
    op.create_table('publications',
    sa.Column('publication_id', sa.String(length=100), nullable=False),
    sa.Column('published_org', sa.String(length=50), nullable=False),
    sa.Column('published_subject', sa.String(length=200), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('program', sa.String(length=100), nullable=True),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('grounds', sa.Text(), nullable=False),
    sa.Column('terms_version', sa.String(length=200), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('content_sha256', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('publication_id', name=op.f('pk_publications'))
    )


def downgrade() -> None:
    op.drop_table('publications')
    op.drop_table('report_cells')
    op.drop_table('delivered_cells')
    op.drop_table('promotions')
    op.drop_table('batch_cells')
    with op.batch_alter_table('feedback_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feedback_batches_program'))
        batch_op.drop_index(batch_op.f('ix_feedback_batches_handover_id'))
    op.drop_table('feedback_batches')
    op.drop_table('extracts')
    with op.batch_alter_table('snapshots', schema=None) as batch_op:
        batch_op.drop_column('individuals')
        batch_op.drop_column('snapshot_sha256')
    with op.batch_alter_table('signed_handovers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signed_handovers_extract_id'))
        for name in ('last_feedback_at', 'first_feedback_at', 'delivered_total', 'delivered_reason',
                     'delivered_state', 'period', 'recipient_org', 'bast_number', 'extract_id'):
            batch_op.drop_column(name)
