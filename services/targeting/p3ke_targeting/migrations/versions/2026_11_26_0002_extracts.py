"""extracts: outcomes of extract requests and the frozen extracts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 02:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('extract_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('extract_id', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('dataset_version_id', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('rules_version', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('terms_version', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table('extracts',
    sa.Column('extract_id', sa.String(length=100), nullable=False),
    sa.Column('request_id', sa.String(length=100), nullable=False),
    sa.Column('agreement_id', sa.String(length=100), nullable=False),
    sa.Column('program', sa.String(length=100), nullable=False),
    sa.Column('dataset_version_id', sa.String(length=100), nullable=False),
    sa.Column('rules_version', sa.String(length=100), nullable=False),
    sa.Column('terms_version', sa.String(length=100), nullable=False),
    sa.Column('record_count', sa.BigInteger(), nullable=False),
    sa.Column('counts_by_desil', sa.Text(), nullable=False),
    sa.Column('counts_by_region', sa.Text(), nullable=False),
    sa.Column('file_uri', sa.Text(), nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=False),
    sa.Column('ledger_uri', sa.Text(), nullable=False),
    sa.Column('ledger_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('extract_id', name=op.f('pk_extracts')),
    sa.UniqueConstraint('request_id', name=op.f('uq_extracts_request_id'))
    )
    with op.batch_alter_table('extracts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_extracts_program'), ['program'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('extracts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_extracts_program'))
    op.drop_table('extracts')
    with op.batch_alter_table('extract_requests', schema=None) as batch_op:
        batch_op.drop_column('decided_at')
        batch_op.drop_column('terms_version')
        batch_op.drop_column('rules_version')
        batch_op.drop_column('dataset_version_id')
        batch_op.drop_column('extract_id')
        batch_op.drop_column('reason')
