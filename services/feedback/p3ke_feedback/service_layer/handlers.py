"""Track what was handed over and which snapshots exist, to match data balikan against later."""

from __future__ import annotations

from sqlalchemy import insert, select

from p3ke_feedback.adapters.orm import signed_handovers, snapshots
from p3ke_platform.unit_of_work import UnitOfWork
from p3ke_schemas import CloudEvent, DatasetUpdated, HandoverSigned


def handover_signed(uow: UnitOfWork, event: CloudEvent) -> None:
    data = event.data
    assert isinstance(data, HandoverSigned)
    if uow.session.scalar(select(signed_handovers.c.handover_id).where(
            signed_handovers.c.handover_id == data.handover_id)):
        return
    uow.session.execute(insert(signed_handovers).values(
        handover_id=data.handover_id, agreement_id=data.agreement_id, program=str(data.program),
        record_count=data.record_count, signed_at=data.signed_at))


def dataset_updated(uow: UnitOfWork, event: CloudEvent) -> None:
    data = event.data
    assert isinstance(data, DatasetUpdated)
    if uow.session.scalar(select(snapshots.c.dataset_version_id).where(
            snapshots.c.dataset_version_id == data.dataset_version_id)):
        return
    uow.session.execute(insert(snapshots).values(
        dataset_version_id=data.dataset_version_id, snapshot_uri=data.snapshot_uri,
        published_at=data.published_at))


HANDLERS = {
    "p3ke.handover-signed.v1": handover_signed,
    "p3ke.dataset-updated.v1": dataset_updated,
}
