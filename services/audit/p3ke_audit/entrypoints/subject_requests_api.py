"""Data-subject requests (UU PDP Art. 32), for compliance auditors of either party.

The person comes to an office; staff enter the NIK in the request BODY (never a URL), with how the identity was
checked (the document's type and who checked it; never its number). The NIK is keyed at once
(`HMAC-SHA256(P3KE_SUBJECT_HASH_KEY, nik)`) and never stored, logged or answered. Every intake, read and export
is recorded in the log under the person's keyed reference, so it appears in their own trail. Requests to
correct, restrict or erase are routed to party 1, the register's steward, who alone answers them.

The answer to an access request is made by `POST /v1/subject-requests/{id}/response` with the person's NIK in the
body again (checked against the request's keyed reference): the person's records as each source service holds them
(P3KE_AUDIT_SUBJECT_SOURCES, asked with the caller's token) and their trail. The GET response.pdf/.json, which have
no NIK to ask the sources with, give the trail only and say so.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from p3ke_audit.adapters import subject_response_pdf
from p3ke_audit.domain import subject_requests as rules
from p3ke_audit.entrypoints.deps import Auditor, Ctx
from p3ke_audit.service_layer import subject_records, subject_response
from p3ke_audit.service_layer import subject_requests as desk
from p3ke_audit.service_layer.context import AuditContext
from p3ke_platform.api import refusal_answer
from p3ke_platform.api_errors import LocalizedHTTPException
from p3ke_platform.auth import Principal
from p3ke_platform.logging import redact_text
from p3ke_platform.refusal import Refused, messages

router = APIRouter(tags=["subject-requests"])
M = messages("audit")  # reasons in the caller's language (PO domain `audit`)
RESOURCE = "subject-request"
PURPOSE = "permintaan subjek data / data-subject request (UU PDP Pasal 32)"
RequestId = Annotated[str, Path(min_length=1, max_length=40)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IdentityCheckIn(Strict):
    """How the person's identity was checked at the office: the document's type and who checked it. The
    document's number is never entered (an unknown field is refused)."""

    document_type: rules.IdentityDocument
    checked_by: str | None = Field(default=None, min_length=1, max_length=200,
                                   description="the officer who checked (default: the caller)")
    checked_at: AwareDatetime | None = Field(default=None, description="default: the time of receipt")


class SubjectRequestIn(Strict):
    nik: str = Field(min_length=16, max_length=16, pattern=r"^[0-9]{16}$",
                     description="the person's NIK: keyed at once, never stored")
    kind: rules.Kind
    identity_check: IdentityCheckIn
    office: str = Field(min_length=2, max_length=200, description="where the person came",
                        examples=["Dinas Sosial Kabupaten Bogor"])
    details: str | None = Field(default=None, max_length=2000, description="what the person asks (no NIK)")
    received_at: AwareDatetime | None = Field(default=None, description="default: now")


class ResponseIn(Strict):
    nik: str = Field(min_length=16, max_length=16, pattern=r"^[0-9]{16}$",
                     description="the person's NIK, to ask the source services with: keyed and checked against the "
                     "request, never stored")
    format: Literal["pdf", "json"] = "pdf"


class AnswerIn(Strict):
    outcome: rules.Outcome = "fulfilled"
    channel: Literal["in-person", "email", "post", "other"]
    sent: str = Field(min_length=5, max_length=2000, description="what was sent to the person",
                      examples=["PDF dan JSON jawaban diserahkan langsung di kantor"])
    sent_at: AwareDatetime | None = Field(default=None, description="default: now")
    reason: str | None = Field(default=None, max_length=2000, description="required unless fulfilled")


class HistoryOut(BaseModel):
    at: datetime
    change: str
    actor_org: str | None
    actor: str | None
    detail: dict[str, Any]


class SubjectRequestOut(BaseModel):
    request_id: str
    kind: str
    subject_ref: str = Field(description="the person's keyed reference (HMAC-SHA256 of the NIK); never the NIK")
    status: str = Field(description="open | answered")
    overdue: bool = Field(description="open and past due_at")
    answered_late: bool
    hours_left: float | None
    received_at: datetime
    due_at: datetime = Field(description="received_at + 72 calendar hours")
    office: str
    intake_org: str
    intake_by: str
    identity_document: str
    identity_checked_by: str
    identity_checked_at: datetime
    details: str | None
    routed_to_org: str | None = Field(description="party 1 (the steward) for correct, restrict and erase")
    response_pdf_sha256: str | None
    response_json_sha256: str | None
    response_at: datetime | None
    answered_at: datetime | None
    answered_by_org: str | None
    answered_by: str | None
    answer_outcome: str | None
    answer_channel: str | None
    answer_sent: str | None
    answer_reason: str | None


class SubjectRequestDetail(SubjectRequestOut):
    history: list[HistoryOut]


def _record(ctx: AuditContext, principal: Principal, request_id: str, *, action: str, subject_ref: str,
            uow: Any = None, count: int = 1) -> None:
    """The access recorded in the log under the person's keyed reference."""
    def write(u: Any) -> None:
        u.record_access(actor=principal.actor(), action=action, resource_type=RESOURCE, resource_id=request_id,
                        subject_refs=[subject_ref], record_count=count, purpose=PURPOSE)
    if uow is not None:
        write(uow)
        return
    with ctx.unit_of_work() as own:
        write(own)


def _missing(request_id: str) -> HTTPException:
    return LocalizedHTTPException(404, M("subject_request.not_found", request=request_id))


def _no_nik(*texts: str | None) -> None:
    if any(t and redact_text(t) != t for t in texts):
        raise LocalizedHTTPException(422, M("subject_request.free_text_nik"))


@router.post("/subject-requests", response_model=SubjectRequestDetail, status_code=201,
             summary="Receive a data subject's request at an office (NIK in the body only; UU PDP Art. 32)")
def receive(principal: Auditor, ctx: Ctx, body: SubjectRequestIn) -> SubjectRequestDetail:
    _no_nik(body.details, body.office, body.identity_check.checked_by)
    now = ctx.clock()
    received = body.received_at or now
    intake = desk.Intake(kind=body.kind, subject_ref=ctx.subject_ref(body.nik), office=body.office,
                         identity_document=body.identity_check.document_type,
                         identity_checked_by=body.identity_check.checked_by or principal.subject,
                         identity_checked_at=body.identity_check.checked_at or received, received_at=received,
                         details=body.details)
    try:
        with ctx.unit_of_work() as uow:
            request_id = desk.receive(uow.session, intake, now=now, who=(principal.org, principal.subject),
                                      steward_org=ctx.policy.agreement.base.party(1).org)
            _record(ctx, principal, request_id, action="upload", subject_ref=intake.subject_ref, uow=uow)
    except rules.RequestRuleError as exc:
        raise LocalizedHTTPException(exc.status, exc.message, headers={"X-P3KE-Rule": exc.code},
                                     rule=exc.code) from None
    with ctx.sessions() as session:
        return SubjectRequestDetail(**desk.view(session, request_id, ctx.clock()))


@router.get("/subject-requests", response_model=list[SubjectRequestOut],
            summary="Data-subject requests, by id (keyset pages); no NIK in the answer")
def list_requests(principal: Auditor, ctx: Ctx,
                  status: Annotated[Literal["open", "answered"] | None, Query()] = None,
                  kind: Annotated[rules.Kind | None, Query()] = None,
                  after: Annotated[str | None, Query(max_length=40)] = None,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[SubjectRequestOut]:
    with ctx.sessions() as session:
        rows = desk.listing(session, ctx.clock(), status=status, kind=kind, after=after, limit=limit)
    with ctx.unit_of_work() as uow:
        uow.record_access(actor=principal.actor(), action="read", resource_type=RESOURCE, resource_id="list",
                          subject_refs=sorted({r["subject_ref"] for r in rows}), record_count=len(rows),
                          purpose=PURPOSE)
    return [SubjectRequestOut(**r) for r in rows]


@router.get("/subject-requests/{request_id}", response_model=SubjectRequestDetail,
            summary="One data-subject request with its history")
def get_request(principal: Auditor, ctx: Ctx, request_id: RequestId) -> SubjectRequestDetail:
    with ctx.sessions() as session:
        try:
            out = desk.view(session, request_id, ctx.clock())
        except desk.NotFound:
            raise _missing(request_id) from None
    _record(ctx, principal, request_id, action="read", subject_ref=out["subject_ref"])
    return SubjectRequestDetail(**out)


def _access_row(ctx: AuditContext, request_id: str) -> dict[str, Any]:
    """The request, if it is an access request (404 / 409 otherwise)."""
    with ctx.sessions() as session:
        try:
            row = desk.row_of(session, request_id)
        except desk.NotFound:
            raise _missing(request_id) from None
    if row["kind"] != "access":
        raise LocalizedHTTPException(409, M("subject_request.not_access", kind=row["kind"]))
    return row


def _bundle(ctx: AuditContext, principal: Principal, row: dict[str, Any], fmt: Literal["pdf", "json"],
            sources: list[subject_records.SourceAnswer] | None) -> Response:
    """The response bundle of an access request in `fmt`, recorded as an `export` of the person's data; only its
    SHA-256 is kept. `sources`: the source services' answers (None: trail only)."""
    now = ctx.clock()
    limit = ctx.settings.audit_max_export
    request_id = row["request_id"]
    held = sum(len(s.records) for s in sources or [])
    with ctx.unit_of_work() as uow:
        entries = desk.trail(uow.session, row["subject_ref"], limit)
        doc = subject_response.document(desk.shown(row, now), entries, complete=len(entries) < limit,
                                        policy=ctx.policy, generated_at=now, sources=sources)
        content = subject_response_pdf.render(doc) if fmt == "pdf" else subject_response.json_bytes(doc)
        desk.response_made(uow.session, request_id, now=now, who=(principal.org, principal.subject), fmt=fmt,
                           content=content, entries=len(entries), scope=doc["scope"], complete=doc["complete"],
                           sources={s.source: len(s.records) if s.answered else None for s in sources or []})
        _record(ctx, principal, request_id, action="export", subject_ref=row["subject_ref"], uow=uow,
                count=len(entries) + held)
    media = "application/pdf" if fmt == "pdf" else "application/json"
    return Response(content, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="jawaban-{request_id}.{fmt}"', "Cache-Control": "no-store"})


def _response(ctx: AuditContext, principal: Principal, request_id: str, fmt: Literal["pdf", "json"]) -> Response:
    return _bundle(ctx, principal, _access_row(ctx, request_id), fmt, None)


@router.post("/subject-requests/{request_id}/response", response_class=Response,
             responses={200: {"content": {"application/pdf": {}, "application/json": {}}}},
             summary="The answer to an access request: the person's records held by each service and their trail, "
                     "as an Indonesian PDF or JSON (NIK in the body; audited)")
def response_full(principal: Auditor, ctx: Ctx, request_id: RequestId, body: ResponseIn,
                  request: Request) -> Response:
    row = _access_row(ctx, request_id)
    if ctx.subject_ref(body.nik) != row["subject_ref"]:
        raise LocalizedHTTPException(422, M("subject_request.nik_mismatch"), headers={"X-P3KE-Rule": "nik-mismatch"},
                                     rule="nik-mismatch")
    sources = subject_records.collect(ctx.settings.audit_subject_sources, nik=body.nik, request_id=request_id,
                                      subject_ref=row["subject_ref"],
                                      authorization=request.headers.get("authorization", ""),
                                      timeout_s=ctx.settings.audit_subject_source_timeout_s)
    return _bundle(ctx, principal, row, body.format, sources)


@router.get("/subject-requests/{request_id}/response.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}},
            summary="The person's processing trail only, as an Indonesian PDF (audited); the full answer with "
                    "their records: POST /v1/subject-requests/{id}/response")
def response_pdf(principal: Auditor, ctx: Ctx, request_id: RequestId) -> Response:
    return _response(ctx, principal, request_id, "pdf")


@router.get("/subject-requests/{request_id}/response.json", response_class=Response,
            responses={200: {"content": {"application/json": {}}}},
            summary="The trail-only answer as machine-readable JSON (audited); full answer: POST .../response")
def response_json(principal: Auditor, ctx: Ctx, request_id: RequestId) -> Response:
    return _response(ctx, principal, request_id, "json")


@router.post("/subject-requests/{request_id}/answer", response_model=SubjectRequestDetail,
             summary="Mark the request answered, with what was sent (correct/restrict/erase: party 1 only)")
def answer(principal: Auditor, ctx: Ctx, request_id: RequestId, body: AnswerIn) -> SubjectRequestDetail:
    _no_nik(body.sent, body.reason)
    now = ctx.clock()
    try:
        with ctx.unit_of_work() as uow:
            row = desk.answer(uow.session, request_id, now=now, who=(principal.org, principal.subject),
                              outcome=body.outcome, channel=body.channel, sent=body.sent,
                              sent_at=body.sent_at or now, reason=body.reason)
            _record(ctx, principal, request_id, action="upload", subject_ref=row["subject_ref"], uow=uow)
    except desk.NotFound:
        raise _missing(request_id) from None
    except rules.RequestRuleError as exc:
        if exc.status == 403:  # another party's request: refused and recorded like any refusal
            raise refusal_answer(ctx, principal, Refused(403, exc.message, rule=exc.code), action="upload",
                                 resource_type=RESOURCE, resource_id=request_id) from None
        raise LocalizedHTTPException(exc.status, exc.message, headers={"X-P3KE-Rule": exc.code},
                                     rule=exc.code) from None
    with ctx.sessions() as session:
        return SubjectRequestDetail(**desk.view(session, request_id, ctx.clock()))
