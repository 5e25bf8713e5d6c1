"""Learn what was handed over: snapshots, extracts and signed handovers, each exactly once, and settle
a handover's delivered counts as soon as everything it needs has arrived (in any order).

Each handler is `handler(ctx, uow, event)`: the process's context (runtime.context), the inbox batch's
unit of work, the event."""

from __future__ import annotations

import json

from sqlalchemy import insert, select, update

from p3ke_feedback.adapters.orm import extracts, signed_handovers, snapshots
from p3ke_feedback.domain.model import period_of
from p3ke_feedback.service_layer.context import Context
from p3ke_feedback.service_layer.handovers import serialize_settlement, settle, settle_where
from p3ke_platform.messaging.inbox import RejectEvent
from p3ke_platform.unit_of_work import UnitOfWork
from p3ke_schemas import CloudEvent, DatasetUpdated, ExtractPrepared, HandoverSigned


def dataset_updated(ctx: Context, uow: UnitOfWork, event: CloudEvent) -> None:
    data = event.data
    assert isinstance(data, DatasetUpdated)
    serialize_settlement(uow.session)
    known = uow.session.execute(select(snapshots.c.snapshot_sha256).where(
        snapshots.c.dataset_version_id == data.dataset_version_id)).first()
    if known is not None:
        if known.snapshot_sha256 not in (None, data.snapshot_sha256):
            raise RejectEvent(f"dataset version {data.dataset_version_id} was announced before with another SHA-256")
        return
    uow.session.execute(insert(snapshots).values(
        dataset_version_id=data.dataset_version_id, snapshot_uri=data.snapshot_uri,
        snapshot_sha256=data.snapshot_sha256, individuals=data.individuals, published_at=data.published_at))
    waiting = select(extracts.c.extract_id).where(extracts.c.dataset_version_id == data.dataset_version_id)
    settle_where(ctx, uow.session, signed_handovers.c.extract_id.in_(waiting))


def extract_prepared(ctx: Context, uow: UnitOfWork, event: CloudEvent) -> None:
    data = event.data
    assert isinstance(data, ExtractPrepared)
    serialize_settlement(uow.session)
    if data.status != "accepted":
        return  # a refused request hands nothing over
    if not (data.extract_id and data.file_uri and data.file_sha256):
        raise RejectEvent("an accepted extract-prepared needs extract_id, file_uri and file_sha256")
    known = uow.session.execute(select(extracts.c.file_sha256).where(
        extracts.c.extract_id == data.extract_id)).first()
    if known is not None:
        if known.file_sha256 != data.file_sha256:
            raise RejectEvent(f"extract {data.extract_id} was announced before with another SHA-256")
        return
    uow.session.execute(insert(extracts).values(
        extract_id=data.extract_id, request_id=data.request_id, agreement_id=data.agreement_id,
        program=str(data.program), dataset_version_id=data.dataset_version_id, record_count=data.record_count,
        counts_by_desil=json.dumps(data.counts_by_desil, sort_keys=True), file_uri=data.file_uri,
        file_sha256=data.file_sha256, prepared_at=data.prepared_at))
    settle_where(ctx, uow.session, signed_handovers.c.extract_id == data.extract_id)


def handover_signed(ctx: Context, uow: UnitOfWork, event: CloudEvent) -> None:
    data = event.data
    assert isinstance(data, HandoverSigned)
    serialize_settlement(uow.session)
    known = uow.session.execute(select(signed_handovers.c.extract_id, signed_handovers.c.program).where(
        signed_handovers.c.handover_id == data.handover_id)).first()
    recipient = next((s.org for s in data.signers if s.party == 2), None)
    learned = {"extract_id": data.extract_id, "bast_number": data.bast_number, "recipient_org": recipient,
               "period": period_of(data.signed_at)}
    if known is not None:
        if known.extract_id is None and known.program == str(data.program):
            # recorded by the first schema version, which kept less: complete it
            uow.session.execute(update(signed_handovers).where(
                signed_handovers.c.handover_id == data.handover_id).values(**learned))
        elif (known.extract_id, known.program) != (data.extract_id, str(data.program)):
            raise RejectEvent(f"handover {data.handover_id} was announced before with another extract or program")
        else:
            return
    else:
        uow.session.execute(insert(signed_handovers).values(
            handover_id=data.handover_id, agreement_id=data.agreement_id, program=str(data.program),
            record_count=data.record_count, signed_at=data.signed_at, delivered_state="pending", **learned))
    settle(ctx, uow.session, data.handover_id)


HANDLERS = {
    "p3ke.handover-signed.v1": handover_signed,
    "p3ke.extract-prepared.v1": extract_prepared,
    "p3ke.dataset-updated.v1": dataset_updated,
}
