"""processing records: every issued version of the ROPA (UU PDP Art. 31) and the DPIA (Art. 34)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 18:00:00

`audit_processing_records` holds one row per issued version of a document: its number, the terms digest it was
built from, when and by whom it was issued and why (first, terms-changed, requested), and the document itself
(canonical JSON, counts only) with its SHA-256. It only ever receives INSERTs: a trigger refuses UPDATE, DELETE
and TRUNCATE, like the log's.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from p3ke_platform.migration_ops import (
    create_append_only_triggers_v1,
    create_refusing_function_v1,
    drop_append_only_triggers_v1,
)

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = "p3ke_processing_records_refuse_change"
MESSAGE = "processing records are append-only"
APPEND_ONLY = ("audit_processing_records",)


def upgrade() -> None:
    op.create_table('audit_processing_records',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
    sa.Column('document', sa.String(length=10), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('terms_sha256', sa.String(length=64), nullable=True),
    sa.Column('agreement_id', sa.String(length=100), nullable=False),
    sa.Column('terms_version', sa.String(length=200), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('issued_by', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_processing_records')),
    sa.UniqueConstraint('document', 'version', name='uq_audit_processing_records_document_version')
    )
    create_refusing_function_v1(FUNCTION, MESSAGE)
    create_append_only_triggers_v1(APPEND_ONLY, function=FUNCTION, message=MESSAGE)


def downgrade() -> None:
    drop_append_only_triggers_v1(APPEND_ONLY, function=FUNCTION)
    op.drop_table('audit_processing_records')
