"""the retention disposal job's intents and lease; handovers: the first download and the subject key id (issue #18)

`downloaded_at` (the first download of the package: the milestone that starts the package's retention period) is
filled for handovers downloaded before it existed from their links' last download, the earliest of them: never
earlier than the first download, so no package becomes due sooner than its rule says. `subject_key_id` (the subject
hash key the handover's `subject-refs.txt` was written with) stays NULL for earlier handovers: read as `k1`.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from p3ke_platform.retention.tables import create_disposal_tables_v1, drop_disposal_tables_v1

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_disposal_tables_v1()
    with op.batch_alter_table('handovers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('downloaded_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('subject_key_id', sa.String(length=16), nullable=True))
    op.execute(
        "UPDATE handovers SET downloaded_at = (SELECT MIN(l.last_download_at) FROM download_links l "
        "WHERE l.handover_id = handovers.handover_id AND l.downloads > 0) WHERE downloaded_at IS NULL")


def downgrade() -> None:
    with op.batch_alter_table('handovers', schema=None) as batch_op:
        batch_op.drop_column('subject_key_id')
        batch_op.drop_column('downloaded_at')
    drop_disposal_tables_v1()
