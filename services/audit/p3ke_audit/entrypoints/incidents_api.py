"""The incident register (UU PDP Art. 46) and the legal holds, for compliance auditors of either party.

Opening an incident, learning more, recording the notices sent and closing it are each one transaction with the
history row and the record of the access in the log (the data subjects named by keyed hash only). Reading the
register is recorded like every compliance query. NIKs, when an auditor names the subjects concerned, travel in
the request body only and are keyed at once. `GET /v1/legal-holds` also serves operators and service accounts:
the disposal jobs ask it before they dispose of anything (see the README).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from p3ke_audit.domain import incidents as rules
from p3ke_audit.entrypoints.deps import Auditor, Ctx, record_query
from p3ke_audit.entrypoints.subject_requests_api import router as subject_requests_router
from p3ke_audit.service_layer import incidents as register
from p3ke_audit.service_layer import notifications
from p3ke_audit.service_layer.context import AuditContext
from p3ke_platform.api import refusal_answer
from p3ke_platform.api_errors import LocalizedHTTPException
from p3ke_platform.auth import Principal, PrincipalDep
from p3ke_platform.logging import redact_text
from p3ke_platform.refusal import Refused, messages

router = APIRouter(prefix="/v1", tags=["incidents"])
M = messages("audit")  # reasons in the caller's language (PO domain `audit`)
router.include_router(subject_requests_router)

HOLD_READERS = ("compliance-auditor", "operator", "service-account")
RULE_STATUS = {"future-time": 422, "summary-too-short": 422}
MAX_SUBJECTS = 10_000

Nik = Annotated[str, Field(pattern=r"^[0-9]{16}$")]
SubjectRef = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="HMAC-SHA256 of a NIK (hex)")]
IncidentId = Annotated[str, Path(min_length=1, max_length=40)]
Text = Annotated[str, Field(min_length=1, max_length=4000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ResourceIn(Strict):
    resource_type: str = Field(min_length=1, max_length=100, examples=["extract"])
    resource_id: str = Field(min_length=1, max_length=200, examples=["ext-1"])


class KnownIn(Strict):
    """What is known (all optional): kinds of personal data, how many subjects, which ones (NIKs, keyed at once,
    or keyed references), the resources concerned."""

    description: str | None = Field(default=None, max_length=4000)
    data_kinds: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=50, examples=[["nik", "nama", "alamat"]])
    subject_count: int | None = Field(default=None, ge=0, le=10**12)
    niks: list[Nik] = Field(default_factory=list, max_length=MAX_SUBJECTS,
                            description="NIKs of the subjects concerned: keyed at once, never stored")
    subject_refs: list[SubjectRef] = Field(default_factory=list, max_length=MAX_SUBJECTS)
    resources: list[ResourceIn] = Field(default_factory=list, max_length=1000)


class IncidentIn(KnownIn):
    title: str = Field(min_length=5, max_length=300)
    discovered_at: AwareDatetime | None = Field(default=None, description="when it was discovered (default: now)")


class NoticeIn(Strict):
    recipient: rules.Recipient = Field(description="subjects | authority | liaison (the other party's officer)")
    sent_at: AwareDatetime | None = Field(default=None, description="when it was sent (default: now)")
    channel: str = Field(min_length=1, max_length=50, examples=["surat", "email"])
    reference: str = Field(min_length=1, max_length=300, description="the letter's number, the message's id")
    addressee: str | None = Field(default=None, max_length=300)
    summary: str = Field(min_length=5, max_length=4000, description="what the notice said")


class ClosureIn(Strict):
    summary: str = Field(min_length=10, max_length=4000)
    breach_confirmed: bool = Field(default=True, description="false: the investigation found no personal-data "
                                   "breach (then only the liaison officer must have been told; explain why)")


class ResourceOut(BaseModel):
    resource_type: str
    resource_id: str


class IncidentOut(BaseModel):
    incident_id: str
    source: str = Field(description="manual | violation | forged-event")
    source_key: str | None
    title: str
    description: str
    status: str = Field(description="open | notices-overdue | closed (as of now)")
    discovered_at: datetime
    due_at: datetime = Field(description="discovered_at + 72 calendar hours (UU PDP Art. 46)")
    hours_left: float | None = Field(description="until due_at (negative: overdue); null when closed")
    opened_at: datetime
    opened_by_org: str | None
    opened_by: str | None = Field(description="null: opened by the service from the log")
    data_kinds: list[str]
    subject_count: int | None
    subject_refs: list[str] = Field(description="the subjects concerned, by keyed reference")
    resources: list[ResourceOut]
    notices_missing: list[str]
    notices_late: list[str] = Field(description="recipients first told after due_at")
    active_holds: int
    breach_confirmed: bool | None
    closure_summary: str | None
    closed_at: datetime | None
    closed_by_org: str | None
    closed_by: str | None


class NoticeOut(BaseModel):
    recipient: str
    sent_at: datetime
    channel: str
    reference: str
    addressee: str | None
    summary: str
    recorded_at: datetime
    recorded_by_org: str
    recorded_by: str


class EvidenceOut(BaseModel):
    kind: str
    entry_key: str
    leaf_index: int | None
    added_at: datetime


class HistoryOut(BaseModel):
    at: datetime
    change: str
    actor_org: str | None
    actor: str | None
    detail: dict[str, Any]


class IncidentDetail(IncidentOut):
    notices: list[NoticeOut]
    evidence: list[EvidenceOut]
    history: list[HistoryOut]


class HoldOut(BaseModel):
    id: int
    incident_id: str
    resource_type: str | None
    resource_id: str | None
    subject_ref: str | None
    since: datetime
    released_at: datetime | None


def no_nik(*texts: str | None) -> None:
    """422 if free text holds a NIK-like number (it would be stored and shown)."""
    if any(t and redact_text(t) != t for t in texts):
        raise LocalizedHTTPException(422, M("incident.free_text_nik"))


def known_of(ctx: AuditContext, body: KnownIn) -> register.Known:
    no_nik(body.description, *body.data_kinds, *(r.resource_id for r in body.resources))
    refs = [*body.subject_refs, *(ctx.subject_ref(n) for n in body.niks)]
    return register.Known(description=body.description, data_kinds=body.data_kinds, subject_count=body.subject_count,
                          subject_refs=refs, resources=[(r.resource_type, r.resource_id) for r in body.resources])


class Change:
    """The transaction of one change: its session, and the incident it concerns (set by the opener)."""

    def __init__(self, session: Any, incident_id: str) -> None:
        self.session = session
        self.incident_id = incident_id


@contextmanager
def change(ctx: AuditContext, principal: Principal, incident_id: str = "",
           subject_refs: list[str] | None = None) -> Iterator[Change]:
    """One transaction changing an incident, recorded in the log (the subjects it names by keyed reference);
    rule and lookup errors as 4xx answers."""
    try:
        with ctx.unit_of_work() as uow:
            register.mark_overdue(uow.session, ctx.clock())
            work = Change(uow.session, incident_id)
            yield work
            uow.record_access(actor=principal.actor(), action="upload", resource_type="incident",
                              resource_id=work.incident_id, subject_refs=subject_refs or (),
                              purpose="register insiden / incident register (UU PDP Pasal 46)")
    except register.NotFound:
        raise LocalizedHTTPException(404, M("incident.not_found", incident=incident_id)) from None
    except rules.IncidentRuleError as exc:
        raise LocalizedHTTPException(RULE_STATUS.get(exc.code, 409), exc.message, headers={"X-P3KE-Rule": exc.code},
                                     rule=exc.code) from None


def detail(ctx: AuditContext, incident_id: str) -> IncidentDetail:
    with ctx.sessions() as session:
        return IncidentDetail(**register.view(session, incident_id, ctx.clock()))


@router.post("/incidents", response_model=IncidentDetail, status_code=201,
             summary="Open an incident by hand (UU PDP Art. 46): the 72-hour clock starts at its discovery")
def open_incident(principal: Auditor, ctx: Ctx, body: IncidentIn) -> IncidentDetail:
    no_nik(body.title)
    known = known_of(ctx, body)
    now = ctx.clock()
    with change(ctx, principal, subject_refs=list(known.subject_refs)) as work:
        work.incident_id = register.open_incident(work.session, now=now, who=(principal.org, principal.subject),
                                                  source="manual", title=body.title,
                                                  discovered_at=body.discovered_at or now, known=known)
    incident_id = work.incident_id
    notifications.dispatch(ctx)  # committed: announce it now (Kafka, email)
    return detail(ctx, incident_id)


@router.get("/incidents", response_model=list[IncidentOut], summary="The incident register, by id (keyset pages)")
def list_incidents(principal: Auditor, ctx: Ctx,
                   status: Annotated[Literal["open", "notices-overdue", "closed"] | None, Query()] = None,
                   after: Annotated[str | None, Query(max_length=40)] = None,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[IncidentOut]:
    with ctx.sessions() as session, session.begin():
        register.mark_overdue(session, ctx.clock())
        rows = register.listing(session, ctx.clock(), status=status, after=after, limit=limit)
    record_query(ctx, principal, resource_id="incidents", count=len(rows), what={"status": str(status)})
    return [IncidentOut(**r) for r in rows]


@router.get("/incidents/{incident_id}", response_model=IncidentDetail,
            summary="One incident with its notices, evidence and history")
def get_incident(principal: Auditor, ctx: Ctx, incident_id: IncidentId) -> IncidentDetail:
    with ctx.sessions() as session, session.begin():
        register.mark_overdue(session, ctx.clock())
    try:
        out = detail(ctx, incident_id)
    except register.NotFound:
        raise LocalizedHTTPException(404, M("incident.not_found", incident=incident_id)) from None
    record_query(ctx, principal, resource_id=f"incident:{incident_id}", count=1)
    return out


@router.post("/incidents/{incident_id}/facts", response_model=IncidentDetail,
             summary="Record what was learnt: data kinds, subjects (held), resources (held)")
def learn(principal: Auditor, ctx: Ctx, incident_id: IncidentId, body: KnownIn) -> IncidentDetail:
    known = known_of(ctx, body)
    with change(ctx, principal, incident_id, subject_refs=list(known.subject_refs)) as work:
        register.learn(work.session, incident_id, now=ctx.clock(), who=(principal.org, principal.subject), known=known)
    return detail(ctx, incident_id)


@router.post("/incidents/{incident_id}/notices", response_model=IncidentDetail, status_code=201,
             summary="Record a notice sent to the data subjects, the authority or the other party's liaison officer")
def add_notice(principal: Auditor, ctx: Ctx, incident_id: IncidentId, body: NoticeIn) -> IncidentDetail:
    no_nik(body.summary, body.reference, body.addressee)
    now = ctx.clock()
    with change(ctx, principal, incident_id) as work:
        register.add_notice(work.session, incident_id, now=now, who=(principal.org, principal.subject),
                            recipient=body.recipient, sent_at=body.sent_at or now, channel=body.channel,
                            reference=body.reference, summary=body.summary, addressee=body.addressee)
    return detail(ctx, incident_id)


@router.post("/incidents/{incident_id}/closure", response_model=IncidentDetail,
             summary="Close the incident (refused while a required notice is missing); its legal holds are released")
def close_incident(principal: Auditor, ctx: Ctx, incident_id: IncidentId, body: ClosureIn) -> IncidentDetail:
    no_nik(body.summary)
    with change(ctx, principal, incident_id) as work:
        register.close(work.session, incident_id, now=ctx.clock(), who=(principal.org, principal.subject),
                       summary=body.summary, breach_confirmed=body.breach_confirmed)
    return detail(ctx, incident_id)


def hold_reader(request: Request, ctx: Ctx, principal: PrincipalDep) -> Principal:
    if not principal.has_any_role(*HOLD_READERS):
        raise refusal_answer(ctx, principal, Refused(403, M("role.holds", roles=", ".join(HOLD_READERS)),
                                                     rule="role"),
                             action="query", resource_type="legal-holds", resource_id=request.url.path)
    return principal


@router.get("/legal-holds", response_model=list[HoldOut],
            summary="Legal holds of open incidents: what the disposal jobs must not dispose of (keyset pages)")
def list_holds(principal: Annotated[Principal, Depends(hold_reader)], ctx: Ctx,
               active: bool = True,
               resource_type: Annotated[str | None, Query(max_length=100)] = None,
               resource_id: Annotated[str | None, Query(max_length=200)] = None,
               subject_ref: Annotated[str | None, Query(pattern=r"^[0-9a-f]{64}$")] = None,
               after: Annotated[int, Query(ge=0, le=2**62)] = 0,
               limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> list[HoldOut]:
    with ctx.sessions() as session:
        rows = register.holds(session, active=active, resource_type=resource_type, resource_id=resource_id,
                              subject_ref=subject_ref, after=after, limit=limit)
    record_query(ctx, principal, resource_id="legal-holds", count=len(rows),
                 what={"active": str(active), "resource_type": str(resource_type)})
    return [HoldOut(**r) for r in rows]
