"""Learn dataset versions; record extract requests (selection itself lands with the targeting issue)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select, update

from p3ke_platform.unit_of_work import UnitOfWork
from p3ke_schemas import CloudEvent, DatasetUpdated, ExtractRequested
from p3ke_targeting.adapters.orm import datasets, extract_requests


def dataset_updated(uow: UnitOfWork, event: CloudEvent) -> None:
    data = event.data
    assert isinstance(data, DatasetUpdated)
    known = uow.session.scalar(select(datasets.c.dataset_version_id).where(
        datasets.c.dataset_version_id == data.dataset_version_id))
    if known:
        return
    uow.session.execute(update(datasets).values(is_current=False))
    uow.session.execute(insert(datasets).values(
        dataset_version_id=data.dataset_version_id, snapshot_uri=data.snapshot_uri,
        snapshot_sha256=data.snapshot_sha256, individuals=data.individuals, families=data.families,
        published_at=data.published_at, is_current=True))


def extract_requested(uow: UnitOfWork, event: CloudEvent) -> None:
    data = event.data
    assert isinstance(data, ExtractRequested)
    exists = uow.session.scalar(select(extract_requests.c.request_id).where(
        extract_requests.c.request_id == data.request_id))
    if exists:
        return  # the same request sent again (another event id) is one request
    uow.session.execute(insert(extract_requests).values(
        request_id=data.request_id, agreement_id=data.agreement_id, program=str(data.program),
        requester_org=data.requested_by.org, requester_subject=data.requested_by.subject,
        quota=data.quota, request=data.model_dump_json(), status="received",
        received_at=datetime.now(UTC)))


HANDLERS = {
    "p3ke.dataset-updated.v1": dataset_updated,
    "p3ke.extract-requested.v1": extract_requested,
}
