"""Feedback API: data balikan upload (party 2), batches and masked findings, reports for both parties
(JSON, CSV, charts, the yearly M&E PDF), and publication with the other party's consent.

Thin: each route turns the request into a call of the service layer. Data routes admit any
authenticated caller and let the agreement policy decide (`submit-feedback`, `read-reports`,
`publish-report`), so that a refusal is explained and recorded in the audit log (`data-access` with
outcome `denied`) rather than a bare 403. Upload: send the file as the raw body, e.g.
`curl --data-binary @balikan.csv -H 'Content-Type: text/csv' '.../v1/feedback-batches?handover_id=..&program=..'`.
"""

from __future__ import annotations

import io
import re
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse

from p3ke_feedback.adapters import charts, me_pdf
from p3ke_feedback.domain.report import DESIL_KEYS, STATUS_KEYS
from p3ke_feedback.domain.vocabulary import PROGRAM_PATTERN
from p3ke_feedback.entrypoints import dto
from p3ke_feedback.entrypoints.deps import Caller, Ctx, Reader
from p3ke_feedback.service_layer import batches, programs, publication, queries, reports, subject_records
from p3ke_feedback.service_layer.context import Context
from p3ke_feedback.service_layer.views import view_of
from p3ke_platform.agreement import agreement_day
from p3ke_platform.agreement.purposes import MONITORING_EVALUATION
from p3ke_platform.api import audited_refusal, refusal_answer
from p3ke_platform.api_errors import LocalizedHTTPException
from p3ke_platform.auth import Principal
from p3ke_platform.i18n import request_language
from p3ke_platform.refusal import Refused, messages
from p3ke_platform.retention.api import retention_router
from p3ke_platform.subject_records import subject_records_router
from p3ke_platform.tabular.archive_guard import ArchiveLimits
from p3ke_platform.tabular.csv_safe import SafeWriter
from p3ke_platform.uploads import receive_file

MonthQ = Annotated[str | None, Query(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", description="first/last month, YYYY-MM")]
IdQ = Annotated[str, Query(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")]
OptIdQ = Annotated[str | None, Query(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")]
RegionQ = Annotated[str | None, Query(pattern=r"^[0-9]{2}([0-9]{2})?$", description="only this province or regency")]
_PROGRAM_DOC = ("program code: one of the four of Art. 3, or one the parties added (written approval Art. 10(2), "
                "addendum Art. 14); lower case letters, digits and _")
ProgramQ = Annotated[str, Query(pattern=PROGRAM_PATTERN, description=_PROGRAM_DOC)]
OptProgramQ = Annotated[str | None, Query(pattern=PROGRAM_PATTERN, description=_PROGRAM_DOC)]
LevelQ = Annotated[Literal["national", "province", "regency"], Query()]
PeriodQ = Annotated[Literal["month", "quarter", "year", "all"], Query()]
_FILENAME = re.compile(r"[^A-Za-z0-9._ -]+")
_UPLOAD_BODY = {"requestBody": {"required": True, "description": "the data balikan file (CSV, XLSX or Parquet) as "
                                "the raw body", "content": {
                                    "text/csv": {"schema": {"type": "string", "format": "binary"}},
                                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}
_CSV = {200: {"content": {"text/csv": {}}, "description": "CSV (UTF-8 with BOM)"}}
_PDF = {200: {"content": {"application/pdf": {}}, "description": "the M&E report"}}
_CHART = {200: {"content": {"image/png": {}, "image/svg+xml": {}}, "description": "the chart"}}
M = messages("feedback")


def _filename(raw: str | None) -> str:
    name = (raw or "data-balikan").replace("\\", "/").rsplit("/", 1)[-1]
    return _FILENAME.sub("_", name).strip(" .")[:200] or "data-balikan"


def _may_read(ctx: Context, principal: Principal, program: str | None = None) -> None:
    Refused.unless(ctx.policy.decide(principal.org, principal.roles, "read-reports",
                                     programs.policy_scope(ctx, program), at=ctx.clock()))


router = APIRouter(prefix="/v1", tags=["feedback"])


# -- handovers ------------------------------------------------------------------------------------------
@router.get("/handovers", response_model=list[dto.SignedHandover],
            summary="Signed handovers, their delivered counts and feedback state")
def list_handovers(ctx: Ctx, _: Reader, program: OptProgramQ = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 100,
                   offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> list[dto.SignedHandover]:
    with ctx.sessions() as session:
        rows = queries.handovers(ctx, session, program, limit=limit, offset=offset)
    return [dto.SignedHandover(**{k: row[k] for k in dto.SignedHandover.model_fields}) for row in rows]


# -- batches --------------------------------------------------------------------------------------------
@router.post("/feedback-batches", status_code=201, response_model=dto.Batch, openapi_extra=_UPLOAD_BODY,
             summary="Upload data balikan for a handover (CSV, XLSX or Parquet as the raw body, streamed)",
             responses={200: {"model": dto.Batch, "description": "The same file was uploaded before for this "
                                                                 "handover: the earlier batch"}})
async def upload(ctx: Ctx, request: Request, principal: Caller, handover_id: IdQ, program: ProgramQ,
                 filename: Annotated[str | None, Query(max_length=255)] = None,
                 supersedes: OptIdQ = None, batch_id: OptIdQ = None) -> JSONResponse:
    actor = principal.actor()
    sub = batches.Submission(handover_id=handover_id, program=program, supersedes=supersedes,
                             batch_id=batch_id)

    def authorize() -> None:  # the agreement is asked before the upload is streamed to disk (a refusal costs nothing)
        with audited_refusal(ctx, principal, action="upload", resource_type="feedback-batch", resource_id=handover_id):
            batches.authorize(ctx, actor, program)

    def submit(upload_file: batches.Upload) -> batches.Stored:
        with audited_refusal(ctx, principal, action="upload", resource_type="feedback-batch",
                             resource_id=batch_id or handover_id):
            return batches.submit(ctx, actor, sub, upload_file)

    await run_in_threadpool(authorize)
    try:
        upload_file = await _receive(ctx, request, _filename(filename))
    except Refused as refused:
        raise await run_in_threadpool(refusal_answer, ctx, principal, refused, action="upload",
                                      resource_type="feedback-batch", resource_id=handover_id) from None
    stored = await run_in_threadpool(submit, upload_file)
    body = dto.batch(stored.batch, view_of(ctx, principal.org), duplicate=not stored.created,
                     lang=request_language(request))
    return JSONResponse(body.model_dump(mode="json"), status_code=201 if stored.created else 200,
                        headers={"Location": body.links.self})


@router.get("/feedback-batches", response_model=list[dto.Batch], summary="Feedback batches, newest first")
def list_batches(ctx: Ctx, principal: Caller, request: Request, handover_id: OptIdQ = None,
                 status: Literal["current", "superseded"] | None = None,
                 limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dto.Batch]:
    with audited_refusal(ctx, principal, action="query", resource_type="feedback-batch",
                         resource_id=handover_id or "all"):
        _may_read(ctx, principal)
    with ctx.sessions() as session:
        rows = queries.batches(session, handover_id, status, limit)
    view, lang = view_of(ctx, principal.org), request_language(request)
    return [dto.batch(r, view, lang=lang) for r in rows]


@router.get("/feedback-batches/{batch_id}", response_model=dto.Batch, summary="One batch and its counts")
def get_batch(ctx: Ctx, batch_id: str, principal: Caller, request: Request) -> dto.Batch:
    with audited_refusal(ctx, principal, action="read", resource_type="feedback-batch", resource_id=batch_id):
        _may_read(ctx, principal)
        with ctx.sessions() as session:
            row = queries.batch_row(session, batch_id)
    return dto.batch(row, view_of(ctx, principal.org), lang=request_language(request))


@router.get("/feedback-batches/{batch_id}/findings", response_model=dto.FindingsPage,
            summary="Row-level findings (values masked), page by page; the read is audited")
def findings(ctx: Ctx, batch_id: str, principal: Caller, request: Request, offset: Annotated[int, Query(ge=0)] = 0,
             limit: Annotated[int, Query(ge=1, le=1000)] = 100,
             code: Annotated[str | None, Query(max_length=60)] = None,
             severity: Literal["error", "warning"] | None = None) -> dto.FindingsPage:
    with audited_refusal(ctx, principal, action="read", resource_type="feedback-findings", resource_id=batch_id):
        _may_read(ctx, principal)
        with ctx.sessions() as session:
            row = queries.batch_row(session, batch_id)
        total, items = queries.findings_page(ctx, row, offset, limit, code, severity, request_language(request))
    with ctx.unit_of_work() as uow:
        uow.record_access(actor=principal.actor(), action="read", resource_type="feedback-findings",
                          resource_id=batch_id, record_count=len(items))
    return dto.FindingsPage(total=total, offset=offset, limit=limit, items=[dto.Finding(**i) for i in items])


@router.get("/feedback-batches/{batch_id}/findings.csv", response_class=StreamingResponse, responses=_CSV,
            summary="The whole findings report (masked) as CSV; the export is audited")
def findings_csv(ctx: Ctx, batch_id: str, principal: Caller, request: Request) -> StreamingResponse:
    with audited_refusal(ctx, principal, action="export", resource_type="feedback-findings", resource_id=batch_id):
        _may_read(ctx, principal)
        with ctx.sessions() as session:
            row = queries.batch_row(session, batch_id)
        count = queries.findings_count(ctx, row)
    with ctx.unit_of_work() as uow:
        uow.record_access(actor=principal.actor(), action="export", resource_type="feedback-findings",
                          resource_id=batch_id, record_count=count)
    return StreamingResponse(queries.findings_csv(ctx, row, lang=request_language(request)), media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="findings-{batch_id}.csv"'})


# -- reports --------------------------------------------------------------------------------------------
def _report(ctx: Context, principal: Principal, q: reports.ReportQuery, action: str = "query") -> Any:
    with audited_refusal(ctx, principal, action=action, resource_type="feedback-report",
                         resource_id=q.program or "all"):
        if q.start and q.end and q.start > q.end:
            raise Refused(422, M("period.start_after_end", start=q.start, end=q.end), rule="period")
        _may_read(ctx, principal, q.program)
        with ctx.sessions() as session:
            if q.program:
                programs.require_known(ctx, session, q.program)
            return reports.build(ctx, session, q, view_of(ctx, principal.org))


def _query(program: str | None, start: str | None, end: str | None, level: str, period: str,
           region: str | None) -> reports.ReportQuery:
    return reports.ReportQuery(program=program, start=start, end=end,
                               level=level, granularity=period, region=region)  # type: ignore[arg-type]


def _record_export(ctx: Context, principal: Principal, resource_type: str, program: Any, count: int) -> None:
    # Art. 7, aggregates only: an agreement-level purpose (p3ke_platform.agreement.purposes), so a report over
    # every program (no program) is not an access outside the programs
    with ctx.unit_of_work() as uow:
        uow.record_access(actor=principal.actor(), action="export", resource_type=resource_type,
                          resource_id=str(program) if program else "all", record_count=count,
                          program=str(program) if program else None, purpose=MONITORING_EVALUATION)


@router.get("/reports", response_model=dto.Report,
            summary="Delivered, served, coverage, share of desil 1, time to feedback, overdue handovers")
def get_report(ctx: Ctx, principal: Caller, program: OptProgramQ = None, start: MonthQ = None,
               end: MonthQ = None, level: LevelQ = "province", period: PeriodQ = "month",
               region: RegionQ = None) -> Response:
    report = dto.report(_report(ctx, principal, _query(program, start, end, level, period, region)))
    # serialised once here: the response model documents it (validating it again costs a regency report
    # tens of milliseconds)
    return Response(report.model_dump_json(), media_type="application/json")


@router.get("/reports/export.csv", response_class=StreamingResponse, responses=_CSV,
            summary="The report as CSV: one line per program, period, region and desil")
def export_report(ctx: Ctx, principal: Caller, program: OptProgramQ = None, start: MonthQ = None,
                  end: MonthQ = None, level: LevelQ = "province", period: PeriodQ = "month",
                  region: RegionQ = None) -> StreamingResponse:
    r = _report(ctx, principal, _query(program, start, end, level, period, region), "export")
    _record_export(ctx, principal, "feedback-report", program, len(r.rows))
    return StreamingResponse(iter([_report_csv(r)]), media_type="text/csv", headers={
        "Content-Disposition": 'attachment; filename="laporan-data-balikan.csv"'})


@router.get("/reports/charts/{chart}", response_class=Response, responses=_CHART,
            summary="A report chart (coverage, desil, classes, timeliness) as PNG or SVG")
def chart(ctx: Ctx, chart: Literal["coverage", "desil", "classes", "timeliness"], principal: Caller,
          format: Literal["png", "svg"] = "png", program: OptProgramQ = None,
          start: MonthQ = None, end: MonthQ = None, region: RegionQ = None) -> Response:
    r = _report(ctx, principal, _query(program, start, end, "province", "all", region))
    return Response(charts.render(chart, r, format), media_type=charts.MEDIA_TYPES[format])


@router.get("/reports/monitoring-evaluation.pdf", response_class=Response, responses=_PDF,
            summary="The monitoring and evaluation report (Art. 7) in Indonesian, for a year or any months")
def me_report(ctx: Ctx, principal: Caller, year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
              start: MonthQ = None, end: MonthQ = None, program: OptProgramQ = None) -> Response:
    if year is None and not (start or end):
        year = agreement_day(ctx.clock()).year
    if year is not None:
        start, end = start or f"{year}-01", end or f"{year}-12"
    r = _report(ctx, principal, _query(program, start, end, "province", "all", None), "export")
    pdf = me_pdf.render(r, _parties(ctx), generated_on=agreement_day(ctx.clock()))
    _record_export(ctx, principal, "feedback-me-report", program, len(r.rows))
    label = f"{start}_{end}".replace("-", "")
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="laporan-monev-p3ke-{label}.pdf"'})


@router.post("/reports/publications", status_code=201, response_model=dto.Publication,
             summary="Publish a report beyond the parties: needs the other party's consent (Art. 10(3)); "
                     "aggregates only, small cells suppressed")
def publish(ctx: Ctx, body: dto.PublicationIn, principal: Caller) -> dto.Publication:
    if body.start and body.end and body.start > body.end:
        raise LocalizedHTTPException(422, M("period.start_after_end", start=body.start, end=body.end), rule="period")
    q = reports.ReportQuery(program=str(body.program) if body.program else None, start=body.start, end=body.end,
                            level=body.level, granularity=body.period)
    with audited_refusal(ctx, principal, action="export", resource_type="feedback-report-publication",
                         resource_id="new"):
        content = publication.publish(ctx, principal.actor(), q, body.purpose)
    return dto.Publication(**content)


@router.get("/reports/publications/{publication_id}", response_model=dto.Publication,
            summary="A publication as it was published")
def get_publication(ctx: Ctx, publication_id: str, principal: Caller) -> dto.Publication:
    with audited_refusal(ctx, principal, action="read", resource_type="feedback-report-publication",
                         resource_id=publication_id):
        _may_read(ctx, principal)
        content = publication.stored(ctx, publication_id)
    return dto.Publication(**content)


routers = [router, subject_records_router(subject_records.lookup), retention_router()]


async def _receive(ctx: Context, request: Request, filename: str) -> batches.Upload:
    """Stream the request body to a file (never the whole upload in memory); raises Refused."""
    incoming = ctx.storage / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    received = await receive_file(request, incoming / f"{uuid.uuid4().hex}.part",
                                  limit=ctx.settings.feedback_max_upload_bytes,
                                  archive=ArchiveLimits.from_settings(ctx.settings))
    return batches.Upload(path=received.path, filename=filename, size=received.size, sha256=received.sha256)


def _parties(ctx: Context) -> me_pdf.Parties:
    terms = ctx.policy.terms_at(ctx.clock())
    return me_pdf.Parties.of(terms, example_terms=ctx.policy.agreement.example_terms(terms))


REPORT_CSV_COLUMNS = ("program", "period", "region", "region_name", "desil", "delivered", "served",
                      "served_in_extract", "coverage", "share_desil_1", "rows", "rejected", "benefit_value")
"""Then one column per match class of the report's view, then one per status; a suppressed count is empty."""


def _report_csv(r: Any) -> bytes:
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = SafeWriter(buffer)  # a cell starting like a formula is kept text
    writer.writerow((*REPORT_CSV_COLUMNS, *r.class_keys, *STATUS_KEYS))
    blank = [""] * (len(r.class_keys) + len(STATUS_KEYS) + 4)
    for row in r.rows:
        f = r.shown(row.figures)
        head = [row.program, row.period, row.region, row.region_name]
        for key in DESIL_KEYS:
            d = row.figures.by_desil[key]
            if d.delivered or d.served:
                writer.writerow([*head, key, *(_count(f, f"desil:{key}:{m}") for m in
                                               ("delivered", "served", "served_in_extract")),
                                 _num(f.desil_coverage(key)), *blank])
        writer.writerow([*head, "all", _count(f, "delivered"), _count(f, "served"), _count(f, "served_in_extract"),
                         _num(f.coverage), _num(f.share_desil_1), _count(f, "rows"), _count(f, "rejected"),
                         _count(f, "benefit_value"), *(_count(f, f"class:{k}") for k in f.by_class),
                         *(_count(f, f"status:{k}") for k in f.by_status)])
    return buffer.getvalue().encode()


def _count(f: Any, key: str) -> str:
    value = f.shown(key)
    return "" if value is None else str(value)


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"
