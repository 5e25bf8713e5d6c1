"""BAST, signatures, packages, download links

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

_HANDOVER_COLUMNS = (
    ('extract_uri', sa.String(length=1000)),
    ('dataset_version_id', sa.String(length=100)),
    ('reason', sa.Text()),
    ('updated_at', sa.DateTime(timezone=True)),
    ('claimed_until', sa.DateTime(timezone=True)),
    ('bast_number', sa.String(length=100)),
    ('bast_issued_at', sa.DateTime(timezone=True)),
    ('terms_version', sa.String(length=100)),
    ('signatory_1', sa.String(length=100)),
    ('signatory_2', sa.String(length=100)),
    ('bast_file', sa.String(length=200)),
    ('bast_sha256', sa.String(length=64)),
    ('current_file', sa.String(length=200)),
    ('current_sha256', sa.String(length=64)),
    ('fields', sa.Text()),
    ('package_file', sa.String(length=200)),
    ('package_sha256', sa.String(length=64)),
    ('package_size', sa.BigInteger()),
    ('password_ciphertext', sa.LargeBinary()),
    ('password_released_at', sa.DateTime(timezone=True)),
    ('password_released_to', sa.String(length=200)),
    ('signed_at', sa.DateTime(timezone=True)),
    ('revoked_at', sa.DateTime(timezone=True)),
    ('revoked_by', sa.String(length=200)),
)


def upgrade() -> None:
    with op.batch_alter_table('handovers', schema=None) as batch_op:
        for name, type_ in _HANDOVER_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_unique_constraint(batch_op.f('uq_handovers_bast_number'), ['bast_number'])

    op.create_table('signatures',
    sa.Column('handover_id', sa.String(length=100), nullable=False),
    sa.Column('party', sa.Integer(), nullable=False),
    sa.Column('org', sa.String(length=50), nullable=False),
    sa.Column('signatory_id', sa.String(length=100), nullable=False),
    sa.Column('field', sa.String(length=100), nullable=False),
    sa.Column('certificate_sha256', sa.String(length=64), nullable=False),
    sa.Column('certificate_subject', sa.String(length=1000), nullable=False),
    sa.Column('certificate_serial', sa.String(length=100), nullable=False),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('uploaded_by', sa.String(length=200), nullable=False),
    sa.Column('document_sha256', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['handover_id'], ['handovers.handover_id'],
                            name=op.f('fk_signatures_handover_id_handovers')),
    sa.PrimaryKeyConstraint('handover_id', 'party', name=op.f('pk_signatures'))
    )
    op.create_table('download_links',
    sa.Column('link_id', sa.String(length=64), nullable=False),
    sa.Column('handover_id', sa.String(length=100), nullable=False),
    sa.Column('issued_to', sa.String(length=200), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('downloads', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_download_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['handover_id'], ['handovers.handover_id'],
                            name=op.f('fk_download_links_handover_id_handovers')),
    sa.PrimaryKeyConstraint('link_id', name=op.f('pk_download_links'))
    )
    with op.batch_alter_table('download_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_download_links_handover_id'), ['handover_id'], unique=False)

    op.create_table('bast_counters',
    sa.Column('scope', sa.String(length=200), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('scope', name=op.f('pk_bast_counters'))
    )


def downgrade() -> None:
    op.drop_table('bast_counters')
    with op.batch_alter_table('download_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_download_links_handover_id'))
    op.drop_table('download_links')
    op.drop_table('signatures')
    with op.batch_alter_table('handovers', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_handovers_bast_number'), type_='unique')
        batch_op.drop_column('attempts')
        for name, _ in reversed(_HANDOVER_COLUMNS):
            batch_op.drop_column(name)
