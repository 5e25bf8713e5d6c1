"""The obligations desk's API: deadlines of the PKS as records (service_layer/obligations.py).

Read by compliance auditors and operators of both parties; force majeure, liaison officer changes and
evidence are recorded by compliance auditors. Obligations hold no personal data; nothing here reads the log's
entries except an M&E report's, by its event id, as evidence.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import Response

from p3ke_audit.adapters import obligation_store as store
from p3ke_audit.domain import obligations as rules
from p3ke_audit.entrypoints.deps import Ctx
from p3ke_audit.entrypoints.obligations_dto import (
    ForceMajeureIn,
    ForceMajeureOut,
    FulfilmentIn,
    HistoryOut,
    LiaisonChangeIn,
    LiaisonChangeOut,
    LiaisonOfficerOut,
    LiaisonOfficersOut,
    NoticeIn,
    ObligationDetail,
    ObligationOut,
    Party,
)
from p3ke_audit.service_layer import calendar_feeds, obligations
from p3ke_audit.service_layer.context import AuditContext
from p3ke_platform.api_errors import LocalizedHTTPException
from p3ke_platform.auth import Principal, require
from p3ke_platform.refusal import messages

M = messages("audit")  # reasons in the caller's language (PO domain `audit`)
Reader = Annotated[Principal, Depends(require("compliance-auditor", "operator"))]
Recorder = Annotated[Principal, Depends(require("compliance-auditor"))]
ObligationId = Annotated[str, Path(min_length=1, max_length=120, pattern=r"^[a-z0-9][a-z0-9._-]*$")]
MAX_LIST = 1000

router = APIRouter(prefix="/v1", tags=["obligations"])
_ICS = {200: {"content": {"text/calendar": {}}, "description": "RFC 5545 calendar, one all-day event per deadline"}}


def _answer(exc: obligations.ObligationError) -> HTTPException:
    return LocalizedHTTPException(exc.status, exc.message)


def _notice(body: NoticeIn | None) -> obligations.Notice | None:
    return obligations.Notice(body.reference, body.date, body.document_sha256) if body else None


def _out(ctx: AuditContext, obligation_id: str) -> ObligationOut:
    with ctx.sessions() as session:
        row = store.get(session, obligation_id)
    if row is None:
        raise LocalizedHTTPException(404, M("obligation.not_found", obligation=obligation_id))
    return ObligationOut.of(row, obligations.status_of(ctx, row), obligations.today(ctx))


@router.get("/obligations", response_model=list[ObligationOut],
            summary="Obligations of the PKS with their deadlines, by due date (status as of today)")
def list_obligations(principal: Reader, ctx: Ctx, status: rules.Status | None = None, party: Party | None = None,
                     kind: Annotated[str | None, Query(description=f"one of {', '.join(rules.KINDS)}")] = None,
                     limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 200) -> list[ObligationOut]:
    if kind is not None and kind not in rules.KINDS:
        raise LocalizedHTTPException(422, M("obligation.unknown_kind", kind=kind[:50], kinds=", ".join(rules.KINDS)))
    today = obligations.today(ctx)
    with ctx.sessions() as session:
        rows = store.listing(session, today=today, due_soon_days=ctx.settings.obligation_due_soon_days,
                             status=status, party=party, kind=kind, limit=limit)
    return [ObligationOut.of(r, obligations.status_of(ctx, r, today), today) for r in rows]


@router.get("/obligations/calendar.ics", response_class=Response, responses=_ICS,
            summary="iCalendar feed of a party's open deadlines (its own and both parties')")
def calendar_feed(principal: Reader, ctx: Ctx, party: Party) -> Response:
    body = calendar_feeds.party_calendar(ctx, party)
    return Response(body, media_type="text/calendar; charset=utf-8", headers={
        "Content-Disposition": f'inline; filename="tenggat-pks-{party}.ics"'})


@router.get("/obligations/{obligation_id}", response_model=ObligationDetail,
            summary="One obligation with its append-only history")
def get_obligation(principal: Reader, ctx: Ctx, obligation_id: ObligationId) -> ObligationDetail:
    out = _out(ctx, obligation_id)
    with ctx.sessions() as session:
        history = [HistoryOut(**{k: h[k] for k in HistoryOut.model_fields}) for h in store.history(session, out.id)]
    return ObligationDetail(**out.model_dump(), history=history)


@router.post("/obligations/{obligation_id}/fulfilment", response_model=ObligationOut,
             summary="Record the evidence that fulfils an obligation (a letter, an M&E report, a feedback batch)")
def fulfil(principal: Recorder, ctx: Ctx, obligation_id: ObligationId, body: FulfilmentIn) -> ObligationOut:
    try:
        obligations.fulfil(ctx, obligation_id, evidence_kind=body.evidence, reference=body.reference,
                           dated=body.date, sha256=body.document_sha256, actor=principal.subject)
    except obligations.ObligationError as exc:
        raise _answer(exc) from None
    return _out(ctx, obligation_id)


@router.post("/force-majeure", response_model=ForceMajeureOut, status_code=201,
             summary="Record a force majeure (Art. 12): its written notice is due in 14 working days")
def record_force_majeure(principal: Recorder, ctx: Ctx, body: ForceMajeureIn) -> ForceMajeureOut:
    try:
        obligation_id = obligations.record_force_majeure(
            ctx, org=body.org or principal.org, occurred_on=body.occurred_on, summary=body.summary,
            authority_statement=body.authority_statement, notice=_notice(body.notice), actor=principal.subject,
            actor_org=principal.org)
    except obligations.ObligationError as exc:
        raise _answer(exc) from None
    out = _out(ctx, obligation_id)
    return ForceMajeureOut(force_majeure_id=out.source_id, obligation=out)


@router.get("/liaison-officers", response_model=LiaisonOfficersOut,
            summary="The liaison officers of both parties (Art. 13): in effect today, and every change")
def list_liaison_officers(principal: Reader, ctx: Ctx) -> LiaisonOfficersOut:
    with ctx.unit_of_work() as uow:  # the terms' officers are recorded on first use
        obligations.sync_agreement(ctx, uow.session, ctx.clock())
    with ctx.sessions() as session:
        rows = store.officers(session)
    current = store.current_officers(rows, obligations.today(ctx))
    return LiaisonOfficersOut(current=[LiaisonOfficerOut.of(r) for r in current.values()],
                              history=[LiaisonOfficerOut.of(r) for r in rows])


@router.post("/liaison-officers", response_model=LiaisonChangeOut, status_code=201,
             summary="Record a change of liaison officer (Art. 13(2)): its written notice is due in 6 working days")
def record_liaison_change(principal: Recorder, ctx: Ctx, body: LiaisonChangeIn) -> LiaisonChangeOut:
    officer = body.model_dump(include={"position", "office", "address", "email", "phone"})
    try:
        record_id, obligation_id = obligations.record_liaison_change(
            ctx, org=body.org or principal.org, officer=officer, effective_from=body.effective_from,
            notice=_notice(body.notice), actor=principal.subject, actor_org=principal.org)
    except obligations.ObligationError as exc:
        raise _answer(exc) from None
    with ctx.sessions() as session:
        row = next(r for r in store.officers(session, body.org or principal.org) if r["id"] == record_id)
    return LiaisonChangeOut(officer=LiaisonOfficerOut.of(row), obligation=_out(ctx, obligation_id))
