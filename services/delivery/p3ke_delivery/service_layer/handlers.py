"""Open a handover for each accepted extract (the BAST and signing land with the delivery issue)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import insert, select

from p3ke_delivery.adapters.orm import handovers
from p3ke_platform.messaging.inbox import RejectEvent
from p3ke_platform.unit_of_work import UnitOfWork
from p3ke_schemas import CloudEvent, ExtractPrepared


def extract_prepared(uow: UnitOfWork, event: CloudEvent) -> None:
    data = event.data
    assert isinstance(data, ExtractPrepared)
    if data.status != "accepted":
        return
    if not (data.extract_id and data.file_sha256):
        raise RejectEvent("an accepted extract-prepared needs extract_id and file_sha256")
    exists = uow.session.scalar(select(handovers.c.handover_id).where(
        handovers.c.request_id == data.request_id))
    if exists:
        return
    uow.session.execute(insert(handovers).values(
        handover_id=f"ho-{uuid.uuid4().hex[:16]}", request_id=data.request_id, extract_id=data.extract_id,
        agreement_id=data.agreement_id, program=str(data.program), record_count=data.record_count,
        extract_sha256=data.file_sha256, status="awaiting-bast", created_at=datetime.now(UTC)))


HANDLERS = {"p3ke.extract-prepared.v1": extract_prepared}
