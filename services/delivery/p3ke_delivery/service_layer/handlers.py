"""Open a handover for each accepted extract; the package and BAST are built by the preparer.

The handler only records the handover (status `preparing`), with what the request asked (requester,
recipient, path, justification, criteria, fields: for the BAST, and to bind the package password to
the requester): it runs inside the inbox's transaction,
and building a package for a large extract takes a while, which must not hold that transaction
(on SQLite it would hold the database's write lock).

The first step is the agreement's: delivery may prepare this extract now (prepare-extract for the handover's
program, purpose and fields, as agreement_steps asks it). When the policy refuses (the agreement has ended, the
program or purpose is no longer covered), the handover is recorded as `refused` with the policy's reason,
Indonesian first, the refusal is audited, and nothing is prepared: no package, no BAST number.
"""

from __future__ import annotations

import json

from sqlalchemy import insert, select

from p3ke_delivery.adapters.orm import handovers
from p3ke_delivery.domain.model import Status
from p3ke_delivery.service_layer import agreement_steps
from p3ke_delivery.service_layer.agreement_steps import StepRefused
from p3ke_delivery.service_layer.context import DeliveryContext
from p3ke_platform.ids import random_id
from p3ke_platform.logging import get_logger
from p3ke_platform.messaging.inbox import RejectEvent
from p3ke_platform.unit_of_work import UnitOfWork
from p3ke_schemas import CloudEvent, ExtractPrepared

log = get_logger(__name__)


def extract_prepared(ctx: DeliveryContext, uow: UnitOfWork, event: CloudEvent) -> None:
    data = event.data
    assert isinstance(data, ExtractPrepared)
    if data.status != "accepted":
        return
    if not (data.extract_id and data.file_sha256 and data.file_uri):
        raise RejectEvent("an accepted extract-prepared needs extract_id, file_uri and file_sha256")
    exists = uow.session.scalar(select(handovers.c.handover_id).where(
        handovers.c.request_id == data.request_id))
    if exists:
        return
    now = ctx.clock()
    program = str(data.program)
    handover_id = random_id("ho")
    status, reason, refused = Status.PREPARING, None, None
    try:
        agreement_steps.check(ctx, "prepare-extract", "prepare", program=program, purpose=data.purpose,
                              fields=data.fields, at=now)
    except StepRefused as exc:
        status, reason, refused = Status.REFUSED, exc.reason, exc
    uow.session.execute(insert(handovers).values(
        handover_id=handover_id, request_id=data.request_id, extract_id=data.extract_id,
        agreement_id=data.agreement_id, program=program, record_count=data.record_count,
        extract_sha256=data.file_sha256, extract_uri=data.file_uri, dataset_version_id=data.dataset_version_id,
        status=status, reason=reason, attempts=0, created_at=now, updated_at=now,
        requester=data.requester.model_dump_json() if data.requester else None,
        recipient=data.recipient.model_dump_json() if data.recipient else None,
        request_path=data.request_path, justification=data.justification, purpose=data.purpose,
        criteria=data.criteria.model_dump_json() if data.criteria else None,
        requested_fields=json.dumps(data.fields) if data.fields else None))
    if refused is not None:
        agreement_steps.record_refusal(ctx, uow, refused, handover_id=handover_id, agreement_id=data.agreement_id,
                                       program=program, purpose=data.purpose, record_count=data.record_count,
                                       at=now)
    log.info("handover opened", handover_id=handover_id, extract_id=data.extract_id, status=status,
             rule=refused.rule if refused else None)


HANDLERS = {"p3ke.extract-prepared.v1": extract_prepared}
