"""Targeting API: dataset versions, extract requests (submit, status), planning counts, eligibility rules.

A request submitted here is published as `extract-requested` through the outbox and then handled by
the worker exactly like one a ministry platform puts on the topic, so both paths behave the same
(`service_layer/requests.py` stores either).
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy import select

from p3ke_platform import purpose_text
from p3ke_platform.agreement import agreement_day
from p3ke_platform.api import audited_refusal
from p3ke_platform.api_errors import LocalizedHTTPException
from p3ke_platform.auth import Principal
from p3ke_platform.refusal import Refused, messages
from p3ke_platform.retention.api import retention_router
from p3ke_schemas import ExtractRequested
from p3ke_targeting.adapters.orm import datasets, extract_requests, extracts
from p3ke_targeting.adapters.snapshot import SnapshotError
from p3ke_targeting.domain import cell_key, plan_dimensions
from p3ke_targeting.domain.selection import Invalid
from p3ke_targeting.entrypoints.deps import Ctx, Officer, Planner, Requester
from p3ke_targeting.entrypoints.dto import (
    DatasetVersion,
    ExtractRequestIn,
    PlanBudget,
    PlanCell,
    PlanIn,
    PlanOut,
    RequestStatus,
)
from p3ke_targeting.service_layer import plan_budget, requests
from p3ke_targeting.service_layer.added_programs import added_rule
from p3ke_targeting.service_layer.context import Context
from p3ke_targeting.service_layer.extracts import JUSTIFICATION_RULE
from p3ke_targeting.service_layer.plan_budget import Charged
from p3ke_targeting.service_layer.planning import plan

router = APIRouter(prefix="/v1", tags=["targeting"])
M = messages("targeting")  # reasons in the caller's language (PO domain `targeting`)


@router.get("/datasets", response_model=list[DatasetVersion])
def list_datasets(_: Officer, ctx: Ctx, limit: Annotated[int, Query(ge=1, le=500)] = 100,
                  offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> list[DatasetVersion]:
    """Dataset versions targeting has received, oldest first, a page at a time."""
    with ctx.sessions() as session:
        rows = session.execute(select(datasets).order_by(datasets.c.published_at, datasets.c.dataset_version_id)
                               .limit(limit).offset(offset)).mappings().all()
    return [DatasetVersion(**row) for row in rows]


@router.post("/extract-requests", response_model=RequestStatus, status_code=202,
             summary="Request a purpose-bound extract (published as extract-requested)",
             responses={200: {"model": RequestStatus,
                              "description": "This request_id was submitted before with the same content"}})
def submit(body: ExtractRequestIn, principal: Requester, ctx: Ctx, response: Response) -> RequestStatus:
    request_id = body.request_id or f"req-{uuid.uuid4()}"
    # checked before it is published or stored: a NIK or a name typed here would stay in Kafka and the audit log
    with audited_refusal(ctx, principal, action="refusal", resource_type="extract-request", resource_id=request_id,
                         program=str(body.program)):
        refused = purpose_text.refusal(body.justification)
        if refused is not None:
            raise Refused(422, refused, rule=JUSTIFICATION_RULE)
    try:
        request = ExtractRequested(
            request_id=request_id,
            agreement_id=body.agreement_id or ctx.agreement_id, program=body.program,
            criteria=body.criteria, quota=body.quota, fields=body.fields, justification=body.justification,
            purpose=body.purpose, requested_by=principal.actor(), dataset_version_id=body.dataset_version_id,
            requested_at=ctx.clock(), recipient=body.recipient)
    except ValidationError as exc:
        # each problem named in the caller's language, without the value sent (p3ke_platform.api_errors)
        raise RequestValidationError(exc.errors()) from None
    with ctx.unit_of_work() as uow:
        try:
            earlier = requests.submit(ctx, uow, request)
        except requests.Conflict:
            raise LocalizedHTTPException(409, M("request.id_taken", request=request.request_id)) from None
        if earlier is not None:
            response.status_code = 200
            return _status(uow.session, earlier)
    response.headers["Location"] = f"/v1/extract-requests/{request.request_id}"
    return RequestStatus(request_id=request.request_id, program=str(request.program), status="submitted",
                         received_at=request.requested_at)


@router.get("/extract-requests/{request_id}", response_model=RequestStatus)
def get_request(request_id: str, principal: Officer, ctx: Ctx) -> RequestStatus:
    with ctx.sessions() as session:
        row = session.execute(select(extract_requests).where(
            extract_requests.c.request_id == request_id)).mappings().first()
        # another party's request is reported as absent, not forbidden (no object enumeration)
        if row is None or (principal.org != row["requester_org"] and principal.org != "kemenkopmk"):
            raise LocalizedHTTPException(404, M("request.not_found", request=request_id))
        return _status(session, row)


@router.post("/plans", response_model=PlanOut,
             summary="Aggregate counts for criteria (party 1 exact; party 2 protected by the cell key method)")
def plan_counts(body: PlanIn, principal: Planner, ctx: Ctx) -> PlanOut:
    now = ctx.clock()
    today = agreement_day(now)
    program = str(body.program)
    exact = principal.org == ctx.policy.terms_at(now).party(1).org  # the data provider sees exact counts
    budget: Charged | None = None
    # planning reads personal data to count it: a data action of the agreement (refused outside its validity,
    # like an extract) recorded like any other access, refusals too
    with audited_refusal(ctx, principal, action="refusal", resource_type="dataset-version",
                         resource_id=body.dataset_version_id or "current", program=program):
        Refused.unless(ctx.policy.decide(principal.org, principal.roles, "plan-aggregates", program, at=now,
                                         purpose=body.purpose))
        try:
            if not exact:
                plan_dimensions.check(body.criteria, body.group_by, today)
                budget = plan_budget.charge(ctx, principal, today, now)
            with ctx.sessions() as session:  # (a refusal is recorded after this read ends: SQLite has one writer)
                result = plan(ctx, session, program=program, criteria=body.criteria,
                              dataset_version_id=body.dataset_version_id, group_by=body.group_by, today=today,
                              protected=not exact, added=added_rule(ctx, program, now, body.purpose))
        except Invalid as exc:
            raise Refused(422, exc.message or exc.reason, rule="invalid-request") from None
        except SnapshotError as exc:
            raise Refused(422, exc.message, rule="snapshot") from None
    asked = body.model_dump_json(exclude={"program", "purpose"})
    _record_query(ctx, principal, result.dataset_version_id, count=result.matched, program=program,
                  purpose=f"{body.purpose}: planning counts ({result.protection}"
                          f"{'; ' + budget.describe() if budget else ''}) {asked}")
    return PlanOut(dataset_version_id=result.dataset_version_id, program=program, purpose=body.purpose,
                   rules_version=result.rules_version, reference_date=result.reference_date,
                   group_by=result.group_by, protection=result.protection,  # type: ignore[arg-type]
                   method=cell_key.METHOD if not exact else None, min_cell=result.min_cell,
                   rounding_base=result.rounding_base, excludes_earlier_recipients=result.excludes_earlier_recipients,
                   cells=[PlanCell(**vars(c)) for c in result.cells], total_shown=result.total_shown,
                   suppressed_cells=result.suppressed_cells,
                   budget=PlanBudget(used=budget.used, limit=budget.limit, day=budget.day) if budget else None)


@router.get("/eligibility-rules", summary="The eligibility rules per program and their version")
def eligibility_rules(_: Officer, ctx: Ctx) -> dict[str, Any]:
    rules = ctx.rules
    return {"rules_version": rules.rules_version, **rules.model_dump(mode="json", exclude={"checksum"})}


routers = [router, retention_router()]


def _status(session: Any, row: Any) -> RequestStatus:
    status = RequestStatus(**{k: row[k] for k in RequestStatus.model_fields if k in row})
    if row["extract_id"]:
        ext = session.execute(select(extracts).where(extracts.c.extract_id == row["extract_id"])).mappings().first()
        if ext is not None:
            status = status.model_copy(update={
                "record_count": ext["record_count"], "counts_by_desil": json.loads(ext["counts_by_desil"]),
                "counts_by_region": json.loads(ext["counts_by_region"]), "file_sha256": ext["file_sha256"]})
    return status


def _record_query(ctx: Context, principal: Principal, resource_id: str, *, count: int, program: str,
                  purpose: str) -> None:
    """An allowed planning query in the audit log: the persons it counted, no subject references."""
    with ctx.unit_of_work() as uow:
        uow.record_access(actor=principal.actor(), action="query", resource_type="dataset-version",
                          resource_id=resource_id, record_count=count, program=program,
                          purpose=purpose[:2000] or None)
