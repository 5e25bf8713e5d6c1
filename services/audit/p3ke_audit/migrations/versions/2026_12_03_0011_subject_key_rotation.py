"""subject key rotation: the key id of every indexed subject reference, and the old -> new reference map

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 21:00:00

`audit_subject_refs.key_id` names the subject hash key a reference was computed with (P3KE_SUBJECT_HASH_KEYS);
every reference indexed before is `k1`, the single key there was. Adding a column with a constant default
rewrites no row (the append-only triggers of migration 0002 stay as they are, and fire on no statement here).

`audit_subject_ref_map` holds (old reference, new reference) pairs computed from NIKs by a party that holds them,
so that a lookup under a newer key also finds the entries indexed under an older one once that key has left the
ring. It only ever receives INSERTs: a trigger refuses UPDATE, DELETE and TRUNCATE, like the log's.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from p3ke_platform.migration_ops import (
    create_append_only_triggers_v1,
    create_refusing_function_v1,
    drop_append_only_triggers_v1,
)

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = "p3ke_subject_ref_map_refuse_change"
MESSAGE = "the subject reference map is append-only"
APPEND_ONLY = ("audit_subject_ref_map",)


def upgrade() -> None:
    op.add_column('audit_subject_refs',
                  sa.Column('key_id', sa.String(length=16), server_default='k1', nullable=False))
    op.create_table('audit_subject_ref_map',
    sa.Column('old_ref', sa.String(length=64), nullable=False),
    sa.Column('new_ref', sa.String(length=64), nullable=False),
    sa.Column('old_key_id', sa.String(length=16), nullable=False),
    sa.Column('new_key_id', sa.String(length=16), nullable=False),
    sa.Column('mapped_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('old_ref', 'new_ref', name=op.f('pk_audit_subject_ref_map'))
    )
    op.create_index('ix_audit_subject_ref_map_new', 'audit_subject_ref_map', ['new_ref'], unique=False)
    create_refusing_function_v1(FUNCTION, MESSAGE)
    create_append_only_triggers_v1(APPEND_ONLY, function=FUNCTION, message=MESSAGE)


def downgrade() -> None:
    drop_append_only_triggers_v1(APPEND_ONLY, function=FUNCTION)
    op.drop_index('ix_audit_subject_ref_map_new', table_name='audit_subject_ref_map')
    op.drop_table('audit_subject_ref_map')
    op.drop_column('audit_subject_refs', 'key_id')
