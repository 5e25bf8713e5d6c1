"""the retention disposal job's intents and lease (issue #18)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 09:00:00
"""
from collections.abc import Sequence

from p3ke_platform.retention.tables import create_disposal_tables_v1, drop_disposal_tables_v1

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_disposal_tables_v1()


def downgrade() -> None:
    drop_disposal_tables_v1()
