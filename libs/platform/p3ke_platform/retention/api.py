"""`GET /v1/retention/due`: what one owning service keeps and when each artefact is due under the retention schedule,
for the compliance page's "Jadwal retensi / pemusnahan" panel (the audit service collects every owning service's
answer: P3KE_AUDIT_RETENTION_SOURCES) and for operators.

Each artefact of a kind this service owns (its inventory, `p3ke_<service>.service_layer.retention_inventory`) with
its kind, resource type and id, the SHA-256 its inventory knows, the due time (`due_at` with the agreement's end as
the services' agreement now stands: an artefact whose rule `ends_with_agreement` is due when the agreement ends at
the latest), the rule and its reason in Indonesian and English, its status (`overdue`, `upcoming`, `not-started`:
its period has not started yet) and the legal holds that name it (asked of the audit service as the disposal job
asks them, `holds.fetch_holds`; when they cannot be read the answer says why in `holds_problem` and `held_by` is
empty, never a silent "not held"). Soonest due first; `within_days` keeps only what is overdue or due within that
many days. Nothing of a data subject and no file path: kinds, ids, digests and times. The read is recorded in the
log as a `read` of `retention-due` (the service's name as its id), like any other read of the service's records.

A service mounts `retention_router()` among its routers (one line, as `subject_records_router`). Compliance
auditors and operators of either party may ask.
"""

from __future__ import annotations

import importlib
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from p3ke_platform.api import service_context
from p3ke_platform.auth import Principal, require

from .due import agreement_end
from .holds import Holds, HoldsUnavailable, fetch_holds
from .inventory import Scheduled, inventory_of, schedule_artefacts
from .schedule import KIND_TEXT, Schedule

ENDPOINT = "/v1/retention/due"
RESOURCE_TYPE = "retention-due"
PURPOSE = "jadwal retensi dan pemusnahan / retention and disposal schedule (UU PDP Pasal 16(2), 43-44)"
Status = Literal["overdue", "upcoming", "not-started"]


class DueArtefact(BaseModel):
    """One artefact the service keeps and when it is due; nothing of a data subject, no file path."""

    kind: str = Field(description="the schedule's kind of artefact", examples=["current-snapshot"])
    kind_id: str = Field(description="the kind in Indonesian", examples=["snapshot yang berlaku"])
    kind_en: str = Field(description="the kind in English", examples=["current snapshot"])
    resource_type: str = Field(description="the audit log's resource type", examples=["dataset-version"])
    resource_id: str = Field(description="the artefact's id in the audit log's terms")
    sha256: str | None = Field(default=None, description="the SHA-256 the service's records hold, if any")
    status: Status = Field(description="overdue (due time passed) | upcoming | not-started (no due time yet)")
    due_at: datetime | None = Field(default=None, description="when it is due (UTC); null: not started")
    trigger: str | None = Field(default=None, description="the event its period runs from")
    ends_with_agreement: bool = Field(description="its rule makes it due when the agreement ends at the latest")
    capped_by_agreement: bool = Field(default=False, description="due at the agreement's end, before its own period")
    awaiting_certificate: bool = Field(default=False, description="not before party 2's disposal certificate")
    reason_id: str | None = Field(default=None, description="why it is due then, in Indonesian")
    reason_en: str | None = Field(default=None, description="why it is due then, in English")
    rule_id: str = Field(description="the rule, in Indonesian")
    rule_en: str = Field(description="the rule, in English")
    basis_id: str = Field(description="the rule's legal basis, in Indonesian")
    basis_en: str = Field(description="the rule's legal basis, in English")
    held_by: list[str] = Field(default_factory=list, description="the incidents whose legal hold names it")


class RetentionDueOut(BaseModel):
    service: str
    generated_at: datetime
    agreement_ends_at: datetime = Field(description="the agreement's end as its terms now stand (UTC)")
    schedule_title: str = Field(description="the schedule's title (the file it was read from is not shown)")
    within_days: int | None = Field(description="only what is overdue or due within this many days; null: all")
    artefacts: int = Field(description="artefacts of the kinds this service owns, listed or not")
    overdue: int = Field(description="of them, past their due time")
    upcoming: int = Field(description="of them, with a due time still ahead")
    not_started: int = Field(description="of them, whose period has not started yet")
    held: int = Field(description="of the listed, named by a legal hold")
    holds_checked: bool = Field(description="false: the legal holds could not be read (holds_problem says why)")
    holds_problem: str | None = Field(default=None, description="why the holds could not be read (id / en)")
    items: list[DueArtefact]


def _status(item: Scheduled, now: datetime) -> Status:
    if item.due is None:
        return "not-started"
    return "overdue" if item.due.at <= now else "upcoming"


def _subjects_of(package: str) -> Any:
    """The service's `retention_disposal.subjects(ctx, artefact)`, if it has one (the keyed references an
    artefact holds, matched against holds that name a data subject)."""
    name = f"{package}.service_layer.retention_disposal"
    try:
        return getattr(importlib.import_module(name), "subjects", None)
    except ModuleNotFoundError as exc:
        if exc.name is not None and name.startswith(exc.name):
            return None
        raise


def _item(ctx: Any, schedule: Schedule, item: Scheduled, now: datetime, holds: Holds | None,
          subjects: Any) -> DueArtefact:
    a, due = item.artefact, item.due
    rule = schedule.rule(a.kind)
    held: list[str] = []
    if holds is not None:
        refs = subjects(ctx, a).refs if subjects is not None and holds.subjects else ()
        held = holds.holding(a.resource_type, a.resource_id, refs)
    return DueArtefact(
        kind=a.kind.value, kind_id=KIND_TEXT[a.kind][0], kind_en=KIND_TEXT[a.kind][1],
        resource_type=a.resource_type, resource_id=a.resource_id, sha256=a.sha256, status=_status(item, now),
        due_at=due.at if due else None, trigger=due.trigger.value if due else None,
        ends_with_agreement=rule.ends_with_agreement, capped_by_agreement=bool(due and due.capped_by_agreement),
        awaiting_certificate=bool(due and due.awaiting_certificate),
        reason_id=due.reason_id() if due else None, reason_en=due.reason_en() if due else None,
        rule_id=rule.describe_id(), rule_en=rule.describe_en(), basis_id=rule.basis_id, basis_en=rule.basis_en,
        held_by=held)


def due_listing(ctx: Any, *, limit: int, within_days: int | None = None,
                holds: Holds | None = None, holds_problem: str | None = None) -> RetentionDueOut:
    """The answer of `GET /v1/retention/due` for the service of `ctx`, at `ctx.clock()` (holds given, or asked
    of the audit service)."""
    now = ctx.clock()
    schedule: Schedule = ctx.retention_schedule
    package = ctx.runtime.spec.package
    source = inventory_of(package)
    ends = agreement_end(ctx.policy.agreement)
    found = list(source.artefacts(ctx)) if source is not None else []
    scheduled = [s for s in schedule_artefacts(schedule, found, ends)
                 if schedule.rule(s.artefact.kind).owner == ctx.service]
    if holds is None and holds_problem is None:
        try:
            holds = fetch_holds(ctx.settings, ctx.service)
        except HoldsUnavailable as exc:
            holds_problem = str(exc)
    horizon = now + timedelta(days=within_days) if within_days is not None else None
    shown = [s for s in scheduled if horizon is None or (s.due is not None and s.due.at <= horizon)][:limit]
    subjects = _subjects_of(package)
    items = [_item(ctx, schedule, s, now, holds, subjects) for s in shown]
    statuses = [_status(s, now) for s in scheduled]
    return RetentionDueOut(
        service=ctx.service, generated_at=now, agreement_ends_at=ends, schedule_title=schedule.title,
        within_days=within_days, artefacts=len(scheduled), overdue=statuses.count("overdue"),
        upcoming=statuses.count("upcoming"), not_started=statuses.count("not-started"),
        held=sum(1 for i in items if i.held_by), holds_checked=holds is not None, holds_problem=holds_problem,
        items=items)


Reader = Annotated[Principal, Depends(require("compliance-auditor", "operator"))]


def retention_router() -> APIRouter:
    """The `GET /v1/retention/due` route of an owning service; the read is recorded in the log."""
    router = APIRouter(prefix="/v1", tags=["retention"])

    @router.get("/retention/due", response_model=RetentionDueOut,
                summary="This service's artefacts and when each is due under the retention schedule (audited)")
    def retention_due(principal: Reader, ctx: Annotated[Any, Depends(service_context)],
                      limit: Annotated[int, Query(ge=1, le=1000)] = 200,
                      within_days: Annotated[int | None, Query(ge=0, le=3660)] = None) -> RetentionDueOut:
        answer = due_listing(ctx, limit=limit, within_days=within_days)
        with ctx.unit_of_work() as uow:
            uow.record_access(actor=principal.actor(), action="read", resource_type=RESOURCE_TYPE,
                              resource_id=ctx.service, record_count=len(answer.items), purpose=PURPOSE,
                              at=answer.generated_at)
        return answer

    return router


__all__ = ["ENDPOINT", "RESOURCE_TYPE", "DueArtefact", "RetentionDueOut", "due_listing", "retention_router"]
