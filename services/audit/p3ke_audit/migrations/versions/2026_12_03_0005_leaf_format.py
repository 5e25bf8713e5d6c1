"""the leaf format of every entry: RFC 8785 (JCS) leaves from now on (format 3)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 09:00:00

Entries appended from now on are of leaf format 3 (the RFC 8785 JCS of the entry object, p3ke_audit/domain/
entry.py), which has the same fields as format 2: a row keeps its format in `leaf_format`. The column is
nullable: the rows written before have none, and their format stays derived as before (1 without origin
evidence, else 2), so their leaf hashes are unchanged.

Adding a column fires none of the append-only triggers of 0002 (PostgreSQL: ALTER TABLE is not an UPDATE;
SQLite: ADD COLUMN alters the table in place, so its triggers stay). The application role's table-level
`GRANT SELECT, INSERT` covers the new column.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('leaf_format', sa.SmallInteger(), nullable=True))


def downgrade() -> None:
    # Without the column, format 3 rows would be read as format 2 and no longer match their leaves: the schema
    # owner's knowing choice only.
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_column('leaf_format')
