"""incidents (UU PDP Art. 46), legal holds and data-subject requests (UU PDP Art. 32)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 14:00:00

`audit_incidents` and `audit_subject_requests` hold one row per case, changed as the case moves on;
`audit_legal_holds` the holds an open incident puts on the data it names (released at closure; read by the
disposal jobs through GET /v1/legal-holds); `audit_incident_scan` how far the automatic scan of the log got.
Append-only (triggers refusing UPDATE, DELETE and TRUNCATE, as the log's): `audit_case_history` (every change
of either kind of case), `audit_incident_notices` (the notices sent) and `audit_incident_evidence` (the log
entries an automatic incident was opened from; its key makes the scan idempotent).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from p3ke_platform.migration_ops import (
    create_append_only_triggers_v1,
    create_refusing_function_v1,
    drop_append_only_triggers_v1,
)

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = "p3ke_cases_refuse_change"
MESSAGE = "case history is append-only"
APPEND_ONLY = ("audit_case_history", "audit_incident_notices", "audit_incident_evidence")
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('audit_incidents',
    sa.Column('incident_id', sa.String(length=40), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('source_key', sa.String(length=300), nullable=True),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('discovered_at', TZ, nullable=False),
    sa.Column('due_at', TZ, nullable=False),
    sa.Column('opened_at', TZ, nullable=False),
    sa.Column('opened_by_org', sa.String(length=50), nullable=True),
    sa.Column('opened_by', sa.String(length=200), nullable=True),
    sa.Column('data_kinds', sa.Text(), nullable=False),
    sa.Column('subject_count', sa.BigInteger(), nullable=True),
    sa.Column('subject_refs', sa.Text(), nullable=False),
    sa.Column('resources', sa.Text(), nullable=False),
    sa.Column('breach_confirmed', sa.Boolean(), nullable=True),
    sa.Column('closure_summary', sa.Text(), nullable=True),
    sa.Column('closed_at', TZ, nullable=True),
    sa.Column('closed_by_org', sa.String(length=50), nullable=True),
    sa.Column('closed_by', sa.String(length=200), nullable=True),
    sa.Column('updated_at', TZ, nullable=False),
    sa.PrimaryKeyConstraint('incident_id', name=op.f('pk_audit_incidents'))
    )
    op.create_index('ix_audit_incidents_status', 'audit_incidents', ['status', 'due_at'], unique=False)
    op.create_index('ix_audit_incidents_source_key', 'audit_incidents', ['source_key'], unique=False)
    op.create_table('audit_incident_evidence',
    sa.Column('kind', sa.String(length=60), nullable=False),
    sa.Column('entry_key', sa.String(length=200), nullable=False),
    sa.Column('incident_id', sa.String(length=40), nullable=False),
    sa.Column('leaf_index', sa.BigInteger(), nullable=True),
    sa.Column('added_at', TZ, nullable=False),
    sa.PrimaryKeyConstraint('kind', 'entry_key', name=op.f('pk_audit_incident_evidence'))
    )
    op.create_index('ix_audit_incident_evidence_incident', 'audit_incident_evidence', ['incident_id'], unique=False)
    op.create_table('audit_incident_notices',
    sa.Column('id', SEQ, autoincrement=True, nullable=False),
    sa.Column('incident_id', sa.String(length=40), nullable=False),
    sa.Column('recipient', sa.String(length=20), nullable=False),
    sa.Column('sent_at', TZ, nullable=False),
    sa.Column('channel', sa.String(length=50), nullable=False),
    sa.Column('reference', sa.String(length=300), nullable=False),
    sa.Column('addressee', sa.String(length=300), nullable=True),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('recorded_at', TZ, nullable=False),
    sa.Column('recorded_by_org', sa.String(length=50), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_incident_notices'))
    )
    op.create_index('ix_audit_incident_notices_incident', 'audit_incident_notices', ['incident_id'], unique=False)
    op.create_table('audit_legal_holds',
    sa.Column('id', SEQ, autoincrement=True, nullable=False),
    sa.Column('incident_id', sa.String(length=40), nullable=False),
    sa.Column('resource_type', sa.String(length=100), nullable=True),
    sa.Column('resource_id', sa.String(length=200), nullable=True),
    sa.Column('subject_ref', sa.String(length=64), nullable=True),
    sa.Column('since', TZ, nullable=False),
    sa.Column('released_at', TZ, nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_legal_holds'))
    )
    op.create_index('ix_audit_legal_holds_resource', 'audit_legal_holds', ['resource_type', 'resource_id'],
                    unique=False)
    op.create_index('ix_audit_legal_holds_subject', 'audit_legal_holds', ['subject_ref'], unique=False)
    op.create_index('ix_audit_legal_holds_incident', 'audit_legal_holds', ['incident_id'], unique=False)
    op.create_table('audit_subject_requests',
    sa.Column('request_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('subject_ref', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('received_at', TZ, nullable=False),
    sa.Column('due_at', TZ, nullable=False),
    sa.Column('office', sa.String(length=200), nullable=False),
    sa.Column('intake_org', sa.String(length=50), nullable=False),
    sa.Column('intake_by', sa.String(length=200), nullable=False),
    sa.Column('identity_document', sa.String(length=40), nullable=False),
    sa.Column('identity_checked_by', sa.String(length=200), nullable=False),
    sa.Column('identity_checked_at', TZ, nullable=False),
    sa.Column('details', sa.Text(), nullable=True),
    sa.Column('routed_to_org', sa.String(length=50), nullable=True),
    sa.Column('response_pdf_sha256', sa.String(length=64), nullable=True),
    sa.Column('response_json_sha256', sa.String(length=64), nullable=True),
    sa.Column('response_at', TZ, nullable=True),
    sa.Column('answered_at', TZ, nullable=True),
    sa.Column('answered_by_org', sa.String(length=50), nullable=True),
    sa.Column('answered_by', sa.String(length=200), nullable=True),
    sa.Column('answer_outcome', sa.String(length=30), nullable=True),
    sa.Column('answer_channel', sa.String(length=30), nullable=True),
    sa.Column('answer_sent', sa.Text(), nullable=True),
    sa.Column('answer_reason', sa.Text(), nullable=True),
    sa.Column('updated_at', TZ, nullable=False),
    sa.PrimaryKeyConstraint('request_id', name=op.f('pk_audit_subject_requests'))
    )
    op.create_index('ix_audit_subject_requests_status', 'audit_subject_requests', ['status', 'due_at'],
                    unique=False)
    op.create_index('ix_audit_subject_requests_subject', 'audit_subject_requests', ['subject_ref'], unique=False)
    op.create_table('audit_case_history',
    sa.Column('id', SEQ, autoincrement=True, nullable=False),
    sa.Column('case_type', sa.String(length=20), nullable=False),
    sa.Column('case_id', sa.String(length=40), nullable=False),
    sa.Column('at', TZ, nullable=False),
    sa.Column('change', sa.String(length=40), nullable=False),
    sa.Column('actor_org', sa.String(length=50), nullable=True),
    sa.Column('actor', sa.String(length=200), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_case_history'))
    )
    op.create_index('ix_audit_case_history_case', 'audit_case_history', ['case_type', 'case_id'], unique=False)
    op.create_table('audit_incident_scan',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.Column('scanned_at', TZ, nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_audit_incident_scan'))
    )
    create_refusing_function_v1(FUNCTION, MESSAGE)
    create_append_only_triggers_v1(APPEND_ONLY, function=FUNCTION, message=MESSAGE)


def downgrade() -> None:
    drop_append_only_triggers_v1(APPEND_ONLY, function=FUNCTION)
    op.drop_table('audit_incident_scan')
    op.drop_index('ix_audit_case_history_case', table_name='audit_case_history')
    op.drop_table('audit_case_history')
    op.drop_index('ix_audit_subject_requests_subject', table_name='audit_subject_requests')
    op.drop_index('ix_audit_subject_requests_status', table_name='audit_subject_requests')
    op.drop_table('audit_subject_requests')
    op.drop_index('ix_audit_legal_holds_incident', table_name='audit_legal_holds')
    op.drop_index('ix_audit_legal_holds_subject', table_name='audit_legal_holds')
    op.drop_index('ix_audit_legal_holds_resource', table_name='audit_legal_holds')
    op.drop_table('audit_legal_holds')
    op.drop_index('ix_audit_incident_notices_incident', table_name='audit_incident_notices')
    op.drop_table('audit_incident_notices')
    op.drop_index('ix_audit_incident_evidence_incident', table_name='audit_incident_evidence')
    op.drop_table('audit_incident_evidence')
    op.drop_index('ix_audit_incidents_source_key', table_name='audit_incidents')
    op.drop_index('ix_audit_incidents_status', table_name='audit_incidents')
    op.drop_table('audit_incidents')
