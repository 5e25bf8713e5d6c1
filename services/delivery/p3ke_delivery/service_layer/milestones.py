"""The milestones of a handover that start the retention periods of what was built for it: `handover-milestone`,
emitted through the outbox in the transaction that records the milestone, once per milestone per handover.

- `package-downloaded`: the first download only (`handovers.downloaded_at` is set once, by a conditional update,
  so two first downloads at once emit one event);
- `handover-revoked`: the revocation (a handover is revoked once);
- `purpose-ended`: the declaration that the handover's purpose ended (declared once).

Targeting times the disposal of the extract the package was built from by them; delivery's own inventory
(`retention_inventory.py`) reads the same times from its tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import update

from p3ke_delivery.adapters.orm import handovers
from p3ke_platform.unit_of_work import UnitOfWork
from p3ke_schemas import HandoverMilestone

Milestone = Literal["package-downloaded", "handover-revoked", "purpose-ended"]


def emit(uow: UnitOfWork, handover: Any, milestone: Milestone, at: datetime) -> None:
    """`handover-milestone` for this handover (a row of `handovers`), in the caller's transaction."""
    handover_id = str(handover["handover_id"])
    uow.emit(HandoverMilestone(handover_id=handover_id, extract_id=str(handover["extract_id"]),
                               agreement_id=str(handover["agreement_id"]), milestone=milestone, occurred_at=at),
             subject=handover_id)


def first_download(uow: UnitOfWork, handover: Any, at: datetime) -> bool:
    """Record the package's first download and emit its milestone; False (nothing emitted) when it was downloaded
    before."""
    first = uow.session.execute(update(handovers).where(handovers.c.handover_id == handover["handover_id"],
                                                        handovers.c.downloaded_at.is_(None))
                                .values(downloaded_at=at)).rowcount
    if first:
        emit(uow, handover, "package-downloaded", at)
    return bool(first)
