"""Targeting API: dataset versions, extract requests (submit, status), planning counts, eligibility rules.

A request submitted here is published as `extract-requested` through the outbox and then handled by
the worker exactly like one a ministry platform puts on the topic, so both paths behave the same.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from pydantic import ValidationError
from sqlalchemy import insert, select

from p3ke_platform.agreement import agreement_day
from p3ke_platform.auth import Principal, require
from p3ke_platform.service import Runtime
from p3ke_schemas import Actor, ExtractRequested
from p3ke_targeting.adapters.orm import datasets, extract_requests, extracts
from p3ke_targeting.adapters.snapshot import SnapshotError
from p3ke_targeting.domain.selection import Invalid
from p3ke_targeting.entrypoints.dto import (
    DatasetVersion,
    ExtractRequestIn,
    PlanCell,
    PlanIn,
    PlanOut,
    RequestStatus,
)
from p3ke_targeting.service_layer.context import context_for
from p3ke_targeting.service_layer.handlers import same_request
from p3ke_targeting.service_layer.planning import plan

Officer = Annotated[Principal, Depends(require("program-officer", "data-steward", "operator"))]
Requester = Annotated[Principal, Depends(require("program-officer", "service-account", org="kemnaker"))]
Planner = Annotated[Principal, Depends(require("program-officer", "data-steward"))]


def actor_of(principal: Principal) -> Actor:
    return Actor(org=principal.org, subject=principal.subject, roles=sorted(principal.roles),  # type: ignore[arg-type]
                 service_account=principal.service_account)


def routers(runtime: Runtime) -> list[APIRouter]:
    router = APIRouter(prefix="/v1", tags=["targeting"])

    def ctx() -> Any:
        return context_for(runtime.settings)

    @router.get("/datasets", response_model=list[DatasetVersion])
    def list_datasets(_: Officer, limit: Annotated[int, Query(ge=1, le=500)] = 100,
                      offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> list[DatasetVersion]:
        """Dataset versions targeting has received, oldest first, a page at a time."""
        with runtime.sessions() as session:
            rows = session.execute(select(datasets).order_by(datasets.c.published_at, datasets.c.dataset_version_id)
                                   .limit(limit).offset(offset)).mappings().all()
        return [DatasetVersion(**row) for row in rows]

    @router.post("/extract-requests", response_model=RequestStatus, status_code=202,
                 summary="Request a purpose-bound extract (published as extract-requested)",
                 responses={200: {"model": RequestStatus,
                                  "description": "This request_id was submitted before with the same content"}})
    def submit(body: ExtractRequestIn, principal: Requester, response: Response) -> RequestStatus:
        context = ctx()
        try:
            request = ExtractRequested(
                request_id=body.request_id or f"req-{uuid.uuid4()}",
                agreement_id=body.agreement_id or context.agreement_id, program=body.program,
                criteria=body.criteria, quota=body.quota, fields=body.fields, justification=body.justification,
                requested_by=actor_of(principal), dataset_version_id=body.dataset_version_id,
                requested_at=context.clock())
        except ValidationError as exc:
            raise HTTPException(422, [{"loc": e["loc"], "msg": e["msg"]} for e in exc.errors()]) from None
        with runtime.unit_of_work() as uow:
            row = uow.session.execute(select(extract_requests).where(
                extract_requests.c.request_id == request.request_id)).mappings().first()
            if row is not None:
                if row["requester_org"] != principal.org or not same_request(row["request"], request):
                    raise HTTPException(409, f"request_id {request.request_id!r} is already used by another request")
                response.status_code = 200
                return _status(uow.session, row)
            uow.session.execute(insert(extract_requests).values(
                request_id=request.request_id, agreement_id=request.agreement_id, program=str(request.program),
                requester_org=principal.org, requester_subject=principal.subject, quota=request.quota,
                request=request.model_dump_json(), status="submitted", received_at=request.requested_at))
            uow.emit(request)
        response.headers["Location"] = f"/v1/extract-requests/{request.request_id}"
        return RequestStatus(request_id=request.request_id, program=str(request.program), status="submitted",
                             received_at=request.requested_at)

    @router.get("/extract-requests/{request_id}", response_model=RequestStatus)
    def get_request(request_id: str, principal: Officer) -> RequestStatus:
        with runtime.sessions() as session:
            row = session.execute(select(extract_requests).where(
                extract_requests.c.request_id == request_id)).mappings().first()
            # another party's request is reported as absent, not forbidden (no object enumeration)
            if row is None or (principal.org != row["requester_org"] and principal.org != "kemenkopmk"):
                raise HTTPException(404, f"no extract request {request_id!r}")
            return _status(session, row)

    @router.post("/plans", response_model=PlanOut, summary="Aggregate counts for criteria (small cells suppressed)")
    def plan_counts(body: PlanIn, principal: Planner) -> PlanOut:
        context = ctx()
        now = context.clock()
        program = str(body.program)
        decision = context.policy.decide(principal.org, principal.roles, "plan-aggregates", program, at=now)
        resource = body.dataset_version_id or "current"
        if not decision.allowed:
            _record(runtime, principal, resource, outcome="denied", reason=decision.reason, program=program)
            raise HTTPException(403, decision.reason)
        refused: str | None = None
        with runtime.sessions() as session:  # (recorded after this read ends: SQLite has one writer)
            try:
                result = plan(context, session, program=program, criteria=body.criteria,
                              dataset_version_id=body.dataset_version_id, group_by=body.group_by,
                              today=agreement_day(now))
            except (Invalid, SnapshotError) as exc:
                refused = exc.reason if isinstance(exc, Invalid) else str(exc)
        if refused is not None:
            _record(runtime, principal, resource, outcome="denied", reason=refused, program=program)
            raise HTTPException(422, refused)
        _record(runtime, principal, result.dataset_version_id, count=result.matched, program=program,
                purpose=f"planning counts (aggregates only) {body.model_dump_json(exclude={'program'})}")
        return PlanOut(dataset_version_id=result.dataset_version_id, program=program,
                       rules_version=result.rules_version, reference_date=result.reference_date,
                       group_by=result.group_by, min_cell=result.min_cell,
                       excludes_earlier_recipients=result.excludes_earlier_recipients,
                       cells=[PlanCell(**vars(c)) for c in result.cells], total_shown=result.total_shown,
                       suppressed_cells=result.suppressed_cells)

    @router.get("/eligibility-rules", summary="The eligibility rules per program and their version")
    def eligibility_rules(_: Officer) -> dict[str, Any]:
        rules = ctx().rules
        return {"rules_version": rules.rules_version, **rules.model_dump(mode="json", exclude={"checksum"})}

    return [router]


def _status(session: Any, row: Any) -> RequestStatus:
    status = RequestStatus(**{k: row[k] for k in RequestStatus.model_fields if k in row})
    if row["extract_id"]:
        ext = session.execute(select(extracts).where(extracts.c.extract_id == row["extract_id"])).mappings().first()
        if ext is not None:
            status = status.model_copy(update={
                "record_count": ext["record_count"], "counts_by_desil": json.loads(ext["counts_by_desil"]),
                "counts_by_region": json.loads(ext["counts_by_region"]), "file_sha256": ext["file_sha256"]})
    return status


def _record(runtime: Runtime, principal: Principal, resource_id: str, *, outcome: str = "allowed",
            reason: str | None = None, count: int = 0, program: str | None = None, purpose: str | None = None) -> None:
    """Planning reads personal data to count it: recorded like any other access (refusals too)."""
    with runtime.unit_of_work() as uow:
        uow.record_access(actor=actor_of(principal), action="query" if outcome == "allowed" else "refusal",
                          resource_type="dataset-version", resource_id=resource_id, outcome=outcome, reason=reason,
                          record_count=count, program=program, purpose=(purpose or "")[:2000] or None)
