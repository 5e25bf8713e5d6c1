"""The milestones of the handover made from each extract (`handover-milestone`, from delivery): the first download
of its package, the revocation of the handover, the end of its purpose. The extract's retention period starts at
the first of them (the retention schedule's `extract` rule); targeting keeps their times per extract.

The first report of a milestone wins: a re-delivered event (the inbox absorbs the same event id) or the same
milestone reported again (another event id) changes nothing, so the extract's due time never moves.
"""

from __future__ import annotations

from sqlalchemy import insert, select

from p3ke_platform.logging import get_logger
from p3ke_platform.messaging.inbox import RejectEvent
from p3ke_platform.unit_of_work import UnitOfWork
from p3ke_schemas import CloudEvent, HandoverMilestone
from p3ke_targeting.adapters.orm import extract_milestones, extracts
from p3ke_targeting.service_layer.context import Context

log = get_logger(__name__)


def handover_milestone(ctx: Context, uow: UnitOfWork, event: CloudEvent) -> None:
    data = event.data
    assert isinstance(data, HandoverMilestone)
    agreement = uow.session.scalar(select(extracts.c.agreement_id).where(extracts.c.extract_id == data.extract_id))
    if agreement is None:
        raise RejectEvent(
            f"ekstrak {data.extract_id!r} tidak dikenal layanan targeting: tonggak {data.milestone} serah terima "
            f"{data.handover_id} tidak dapat dicatat; periksa extract_id yang dikirim layanan delivery / extract "
            f"{data.extract_id!r} is not known to targeting: milestone {data.milestone} of handover "
            f"{data.handover_id} cannot be recorded; check the extract_id delivery sent")
    if data.agreement_id != agreement:
        raise RejectEvent(
            f"tonggak serah terima {data.handover_id} menyebut perjanjian {data.agreement_id!r}, sedangkan ekstrak "
            f"{data.extract_id} dibuat di bawah {agreement!r}; perbaiki agreement_id / the handover milestone of "
            f"{data.handover_id} names agreement {data.agreement_id!r}, but extract {data.extract_id} was made "
            f"under {agreement!r}; correct the agreement_id")
    m = extract_milestones.c
    recorded = uow.session.scalar(select(m.occurred_at).where(m.extract_id == data.extract_id,
                                                             m.milestone == data.milestone))
    if recorded is not None:
        return  # the first report wins
    uow.session.execute(insert(extract_milestones).values(
        extract_id=data.extract_id, milestone=data.milestone, handover_id=data.handover_id,
        agreement_id=data.agreement_id, occurred_at=data.occurred_at, recorded_at=ctx.clock()))
    log.info("handover milestone recorded", extract_id=data.extract_id, handover_id=data.handover_id,
             milestone=data.milestone)
