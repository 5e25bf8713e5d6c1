"""An extract request arriving, by either path: submitted through the API, or received as an
`extract-requested` event (from a ministry platform, or the one the API published).

Both paths store the request through `_store`, the one place a row of `extract_requests` is
written, with the same idempotency: one `request_id`, one request. The same request again finds
the stored one; the same id with other content is a `Conflict`. The row keeps the path it came by
(`api` or `platform`), which extract-prepared and the BAST report.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from sqlalchemy import RowMapping, insert, select

from p3ke_platform import purpose_text
from p3ke_platform.unit_of_work import UnitOfWork
from p3ke_schemas import ExtractRequested
from p3ke_schemas.events import RequestPath
from p3ke_targeting.adapters.orm import extract_requests
from p3ke_targeting.service_layer.context import Context

FINAL = ("accepted", "rejected")
"""Statuses of a decided request: delivered again, it is not decided again."""


class Conflict(Exception):
    """The request id is already used by a different request."""

    def __init__(self, request_id: str) -> None:
        super().__init__(f"request_id {request_id} is already used by a different extract request")
        self.request_id = request_id


def same_request(stored_json: str, request: ExtractRequested) -> bool:
    """Two requests with one request_id are the same if they ask the same (who and when may differ
    in form, e.g. a re-sent event); anything else reusing the id is a conflict."""
    keys = ("agreement_id", "program", "criteria", "quota", "fields", "justification", "purpose",
            "dataset_version_id", "recipient")
    stored = json.loads(stored_json)
    current = json.loads(storable(request))
    return all(stored.get(k) == current.get(k) for k in keys)


def storable(request: ExtractRequested) -> str:
    """The request as stored: as received, except a justification the check refuses (it may hold a NIK or a
    name), which is kept only as its SHA-256, enough to tell the same request from another."""
    data = json.loads(request.model_dump_json())
    if purpose_text.refusal(request.justification) is not None:
        digest = hashlib.sha256(request.justification.encode()).hexdigest()
        data["justification"] = f"withheld (refused by the justification check), sha256 {digest}"
    return json.dumps(data)


def submit(ctx: Context, uow: UnitOfWork, request: ExtractRequested) -> RowMapping | None:
    """The API path: store the request as `submitted` and publish it as `extract-requested` (the worker
    then decides it like any other, see `receive`). Returns None for a new request, or the stored row
    when the requester's org submitted this same request before; raises Conflict when the id is
    another request's or another org's."""
    row = _store(uow, request, status="submitted", path="api", received_at=request.requested_at)
    if row is None:
        uow.emit(request)
    elif row["requester_org"] != request.requested_by.org:
        raise Conflict(request.request_id)
    return row


def receive(ctx: Context, uow: UnitOfWork, request: ExtractRequested) -> datetime | None:
    """The event path: store the request as `received` unless it is stored already (submitted through
    the API, or delivered before). Returns when this service received it (its own clock, never the
    producer's `requested_at`) if it is still to be decided, else None; raises Conflict when the id is
    another request's."""
    now = ctx.clock()
    row = _store(uow, request, status="received", path="platform", received_at=now)
    if row is None:
        return now
    if row["status"] in FINAL:
        return None
    received: datetime = row["received_at"]
    return received if received.tzinfo else received.replace(tzinfo=UTC)  # SQLite keeps no zone: stored as UTC


def path_of(uow: UnitOfWork, request_id: str) -> RequestPath | None:
    """How the stored request came (None for a request stored before paths were recorded)."""
    path = uow.session.scalar(select(extract_requests.c.path).where(extract_requests.c.request_id == request_id))
    return path if path in ("api", "platform") else None


def _store(uow: UnitOfWork, request: ExtractRequested, *, status: str, path: RequestPath,
           received_at: datetime) -> RowMapping | None:
    """The stored request with this id if there is one (the same request, else Conflict); else the
    request stored now with `status` and the `path` it came by, and None. A request the API submitted
    comes back as its own event: it is found here, and stays `api`."""
    row = uow.session.execute(select(extract_requests).where(
        extract_requests.c.request_id == request.request_id)).mappings().first()
    if row is not None:
        if not same_request(row["request"], request):
            raise Conflict(request.request_id)
        return row
    uow.session.execute(insert(extract_requests).values(
        request_id=request.request_id, agreement_id=request.agreement_id, program=str(request.program),
        requester_org=request.requested_by.org, requester_subject=request.requested_by.subject,
        quota=request.quota, request=storable(request), status=status, received_at=received_at,
        path=path))
    return None
