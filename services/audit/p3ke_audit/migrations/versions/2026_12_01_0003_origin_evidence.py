"""origin evidence of every entry: the signed envelope, the signature and its key id

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 09:00:00

Entries appended from now on keep the event's signature (leaf format 2, p3ke_audit/domain/entry.py):
`envelope` (the JCS of the signed CloudEvents attributes), `signature` (the detached JWS of `ce_signature`)
and `key_id` (its kid); `payload` then holds the data exactly as signed. The columns are nullable: entries
written before (format 1) have none, and their leaf hashes stay as they are.

Adding columns fires none of the append-only triggers of 0002 (PostgreSQL: ALTER TABLE is not an UPDATE;
SQLite: ADD COLUMN alters the table in place, so its triggers stay). The application role's table-level
`GRANT SELECT, INSERT` covers the new columns.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('envelope', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('signature', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('key_id', sa.String(length=200), nullable=True))


def downgrade() -> None:
    # Dropping the evidence makes format 2 entries unverifiable: the schema owner's knowing choice only.
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_column('key_id')
        batch_op.drop_column('signature')
        batch_op.drop_column('envelope')
