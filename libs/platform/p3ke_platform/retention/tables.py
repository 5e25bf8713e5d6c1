"""The two tables every owning service's database holds for its disposal job (`disposal.py`), and their migration.

- `retention_disposals`: one row per artefact the job decided to destroy, written (state `intent`) and committed
  BEFORE anything is destroyed, with what the `erase` record will need once the file is gone (its digest, the
  rule, the data subjects by keyed reference); it becomes `done` in the transaction that records the erasure. So
  a crash leaves either an intent whose file is still there (the next run re-checks the holds, then destroys and
  records it) or an intent whose file is gone (the next run records it): never a file gone without a record, nor
  a record of an erasure while the file is still there.
- `retention_leases`: one row per job; a run holds it until `expires_at`, so only one process disposes at a time.

Versioned like `migration_ops`: `create_disposal_tables_v1` never changes once released.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Column, DateTime, Index, MetaData, String, Table, Text

from p3ke_platform.messaging.tables import SeqType


@dataclass(frozen=True)
class DisposalTables:
    disposals: Table
    leases: Table


def disposal_tables(metadata: MetaData) -> DisposalTables:
    disposals = Table(
        "retention_disposals", metadata,
        Column("id", SeqType, primary_key=True, autoincrement=True),
        Column("kind", String(40), nullable=False),
        Column("resource_type", String(100), nullable=False),
        Column("resource_id", String(200), nullable=False),
        Column("path", Text, nullable=False, doc="the file destroyed, or '' when the artefact is not a file"),
        Column("sha256", String(64), nullable=True, doc="SHA-256 of what was destroyed"),
        Column("rule", Text, nullable=False, doc="the rule and its basis, as the erase record states them"),
        Column("trigger", String(40), nullable=False),
        Column("due_at", DateTime(timezone=True), nullable=False),
        Column("subject_refs", Text, nullable=False, doc="JSON list of keyed references (never a NIK)"),
        Column("subject_key_id", String(16), nullable=True),
        Column("state", String(10), nullable=False, doc="intent | done"),
        Column("decided_at", DateTime(timezone=True), nullable=False),
        Column("disposed_at", DateTime(timezone=True), nullable=True),
    )
    Index("ix_retention_disposals_state", disposals.c.state)
    Index("ix_retention_disposals_resource", disposals.c.resource_type, disposals.c.resource_id)
    leases = Table(
        "retention_leases", metadata,
        Column("job", String(60), primary_key=True),
        Column("holder", String(100), nullable=False),
        Column("expires_at", DateTime(timezone=True), nullable=False),
    )
    return DisposalTables(disposals=disposals, leases=leases)


def create_disposal_tables_v1() -> None:
    """Alembic: create both tables (call from a service's migration)."""
    from alembic import op

    op.create_table(
        "retention_disposals",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("resource_type", sa.String(length=100), nullable=False),
        sa.Column("resource_id", sa.String(length=200), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("trigger", sa.String(length=40), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subject_refs", sa.Text(), nullable=False),
        sa.Column("subject_key_id", sa.String(length=16), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disposed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_disposals")),
    )
    with op.batch_alter_table("retention_disposals", schema=None) as batch_op:
        batch_op.create_index("ix_retention_disposals_state", ["state"], unique=False)
        batch_op.create_index("ix_retention_disposals_resource", ["resource_type", "resource_id"], unique=False)
    op.create_table(
        "retention_leases",
        sa.Column("job", sa.String(length=60), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job", name=op.f("pk_retention_leases")),
    )


def drop_disposal_tables_v1() -> None:
    from alembic import op

    op.drop_table("retention_leases")
    with op.batch_alter_table("retention_disposals", schema=None) as batch_op:
        batch_op.drop_index("ix_retention_disposals_resource")
        batch_op.drop_index("ix_retention_disposals_state")
    op.drop_table("retention_disposals")
