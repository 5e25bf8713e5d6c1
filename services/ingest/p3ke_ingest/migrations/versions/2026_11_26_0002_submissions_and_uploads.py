"""submissions, uploads, dataset version metadata

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 02:15:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('dataset_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('submission_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('agreement_id', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('supersedes', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('family_snapshot_uri', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('family_snapshot_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('counts_by_desil', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('counts_by_province', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('changes', sa.JSON(), nullable=True))
        batch_op.create_index('ix_dataset_versions_published_at', ['published_at'], unique=False)
        batch_op.create_index('ix_dataset_versions_snapshot_sha256', ['snapshot_sha256'], unique=False)

    op.create_table('ingest_submissions',
    sa.Column('submission_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('phase', sa.String(length=40), nullable=False),
    sa.Column('progress', sa.Float(), nullable=False),
    sa.Column('sources', sa.JSON(), nullable=False),
    sa.Column('input_key', sa.String(length=64), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('submitted_by', sa.String(length=200), nullable=False),
    sa.Column('actor', sa.JSON(), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claimed_by', sa.String(length=200), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('dataset_version_id', sa.String(length=100), nullable=True),
    sa.Column('summary', sa.JSON(), nullable=True),
    sa.Column('reasons', sa.JSON(), nullable=True),
    sa.Column('report_path', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('submission_id', name=op.f('pk_ingest_submissions'))
    )
    with op.batch_alter_table('ingest_submissions', schema=None) as batch_op:
        batch_op.create_index('ix_ingest_submissions_input_key', ['input_key'], unique=False)
        batch_op.create_index('ix_ingest_submissions_status', ['status', 'submitted_at'], unique=False)

    op.create_table('ingest_uploads',
    sa.Column('upload_id', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('bytes', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('uploaded_by', sa.String(length=200), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submission_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('upload_id', name=op.f('pk_ingest_uploads'))
    )


def downgrade() -> None:
    op.drop_table('ingest_uploads')
    with op.batch_alter_table('ingest_submissions', schema=None) as batch_op:
        batch_op.drop_index('ix_ingest_submissions_status')
        batch_op.drop_index('ix_ingest_submissions_input_key')
    op.drop_table('ingest_submissions')
    with op.batch_alter_table('dataset_versions', schema=None) as batch_op:
        batch_op.drop_index('ix_dataset_versions_snapshot_sha256')
        batch_op.drop_index('ix_dataset_versions_published_at')
        batch_op.drop_column('changes')
        batch_op.drop_column('counts_by_province')
        batch_op.drop_column('counts_by_desil')
        batch_op.drop_column('family_snapshot_sha256')
        batch_op.drop_column('family_snapshot_uri')
        batch_op.drop_column('supersedes')
        batch_op.drop_column('agreement_id')
        batch_op.drop_column('submission_id')
