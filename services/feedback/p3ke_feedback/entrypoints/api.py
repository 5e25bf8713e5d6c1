"""Feedback API: data balikan upload (party 2), batches and masked findings, reports for both parties
(JSON, CSV, charts, the yearly M&E PDF), and publication with the other party's consent.

Thin: each route turns the request into a call of the service layer. Data routes admit any
authenticated caller and let the agreement policy decide (`submit-feedback`, `read-reports`,
`publish-report`), so that a refusal is explained and recorded in the audit log (`data-access` with
outcome `denied`) rather than a bare 403. Upload: send the file as the raw body, e.g.
`curl --data-binary @balikan.csv -H 'Content-Type: text/csv' '.../v1/feedback-batches?handover_id=..&program=..'`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import uuid
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.requests import ClientDisconnect

from p3ke_feedback.adapters import charts, me_pdf
from p3ke_feedback.domain.model import Refused
from p3ke_feedback.domain.report import DESIL_KEYS
from p3ke_feedback.entrypoints import dto
from p3ke_feedback.service_layer import batches, publication, queries, reports
from p3ke_feedback.service_layer.context import Context, context_for
from p3ke_platform.agreement import agreement_day
from p3ke_platform.auth import Principal, PrincipalDep, require
from p3ke_platform.service import Runtime
from p3ke_schemas import Actor, ProgramCode

Reader = Annotated[Principal, Depends(require("program-officer", "data-steward", "compliance-auditor", "operator"))]
T = TypeVar("T")
MonthQ = Annotated[str | None, Query(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", description="first/last month, YYYY-MM")]
IdQ = Annotated[str, Query(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")]
OptIdQ = Annotated[str | None, Query(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")]
RegionQ = Annotated[str | None, Query(pattern=r"^[0-9]{2}([0-9]{2})?$", description="only this province or regency")]
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


def actor_of(principal: Principal) -> Actor:
    return Actor(org=principal.org, subject=principal.subject, roles=sorted(principal.roles),  # type: ignore[arg-type]
                 service_account=principal.service_account)


def _filename(raw: str | None) -> str:
    name = (raw or "data-balikan").replace("\\", "/").rsplit("/", 1)[-1]
    return _FILENAME.sub("_", name).strip(" .")[:200] or "data-balikan"


def routers(runtime: Runtime) -> list[APIRouter]:
    router = APIRouter(prefix="/v1", tags=["feedback"])

    def ctx() -> Context:
        return context_for(runtime.settings)

    if runtime.settings.env == "production":
        ctx().check()  # a bad agreement or region file stops start-up, not the first request

    def refuse(principal: Principal, refused: Refused, action: str, resource_type: str,
               resource_id: str) -> HTTPException:
        """Record the refusal in the audit log (its own transaction); the answer carries its reason."""
        with runtime.unit_of_work() as uow:
            uow.record_access(actor=actor_of(principal), action=action, resource_type=resource_type,
                              resource_id=resource_id, outcome="denied", reason=refused.reason)
        return HTTPException(refused.status, refused.reason, headers={"X-P3KE-Refusal": refused.rule})

    def guard(principal: Principal, action: str, resource_type: str, resource_id: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except Refused as refused:
            raise refuse(principal, refused, action, resource_type, resource_id) from None

    def may_read(principal: Principal, program: str | None = None) -> None:
        decision = ctx().policy.decide(principal.org, principal.roles, "read-reports", program, at=ctx().clock())
        if not decision.allowed:
            raise Refused(403, decision.reason, rule=decision.rule)

    # -- handovers ------------------------------------------------------------------------------------
    @router.get("/handovers", response_model=list[dto.SignedHandover],
                summary="Signed handovers, their delivered counts and feedback state")
    def list_handovers(_: Reader, program: ProgramCode | None = None,
                       limit: Annotated[int, Query(ge=1, le=500)] = 100,
                       offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> list[dto.SignedHandover]:
        c = ctx()
        with runtime.sessions() as session:
            rows = queries.handovers(c, session, str(program) if program else None, limit=limit, offset=offset)
        return [dto.SignedHandover(**{k: row[k] for k in dto.SignedHandover.model_fields}) for row in rows]

    # -- batches --------------------------------------------------------------------------------------
    @router.post("/feedback-batches", status_code=201, response_model=dto.Batch, openapi_extra=_UPLOAD_BODY,
                 summary="Upload data balikan for a handover (CSV, XLSX or Parquet as the raw body, streamed)",
                 responses={200: {"model": dto.Batch, "description": "The same file was uploaded before for this "
                                                                     "handover: the earlier batch"}})
    async def upload(request: Request, principal: PrincipalDep, handover_id: IdQ, program: ProgramCode,
                     filename: Annotated[str | None, Query(max_length=255)] = None,
                     supersedes: OptIdQ = None, batch_id: OptIdQ = None) -> JSONResponse:
        c = ctx()
        sub = batches.Submission(handover_id=handover_id, program=str(program), supersedes=supersedes,
                                 batch_id=batch_id)
        # the agreement is asked before the upload is streamed to disk (a refusal costs nothing)
        await run_in_threadpool(guard, principal, "upload", "feedback-batch", handover_id,
                                lambda: batches.authorize(c, actor_of(principal), str(program)))
        try:
            upload_file = await _receive(c, request, _filename(filename))
        except Refused as refused:
            raise await run_in_threadpool(refuse, principal, refused, "upload", "feedback-batch",
                                          handover_id) from None
        stored = await run_in_threadpool(guard, principal, "upload", "feedback-batch", batch_id or handover_id,
                                         lambda: batches.submit(c, runtime, actor_of(principal), sub, upload_file))
        body = dto.batch(stored.batch, duplicate=not stored.created)
        return JSONResponse(body.model_dump(mode="json"), status_code=201 if stored.created else 200,
                            headers={"Location": body.links.self})

    @router.get("/feedback-batches", response_model=list[dto.Batch], summary="Feedback batches, newest first")
    def list_batches(principal: PrincipalDep, handover_id: OptIdQ = None,
                     status: Literal["current", "superseded"] | None = None,
                     limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dto.Batch]:
        guard(principal, "query", "feedback-batch", handover_id or "all", lambda: may_read(principal))
        with runtime.sessions() as session:
            rows = queries.batches(session, handover_id, status, limit)
        return [dto.batch(r) for r in rows]

    @router.get("/feedback-batches/{batch_id}", response_model=dto.Batch, summary="One batch and its counts")
    def get_batch(batch_id: str, principal: PrincipalDep) -> dto.Batch:
        def call() -> Any:
            may_read(principal)
            with runtime.sessions() as session:
                return queries.batch_row(session, batch_id)

        return dto.batch(guard(principal, "read", "feedback-batch", batch_id, call))

    @router.get("/feedback-batches/{batch_id}/findings", response_model=dto.FindingsPage,
                summary="Row-level findings (values masked), page by page; the read is audited")
    def findings(batch_id: str, principal: PrincipalDep, offset: Annotated[int, Query(ge=0)] = 0,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                 code: Annotated[str | None, Query(max_length=60)] = None,
                 severity: Literal["error", "warning"] | None = None) -> dto.FindingsPage:
        c = ctx()

        def call() -> tuple[int, list[dict[str, Any]]]:
            may_read(principal)
            with runtime.sessions() as session:
                row = queries.batch_row(session, batch_id)
            return queries.findings_page(c, row, offset, limit, code, severity)

        total, items = guard(principal, "read", "feedback-findings", batch_id, call)
        with runtime.unit_of_work() as uow:
            uow.record_access(actor=actor_of(principal), action="read", resource_type="feedback-findings",
                              resource_id=batch_id, record_count=len(items))
        return dto.FindingsPage(total=total, offset=offset, limit=limit, items=[dto.Finding(**i) for i in items])

    @router.get("/feedback-batches/{batch_id}/findings.csv", response_class=StreamingResponse, responses=_CSV,
                summary="The whole findings report (masked) as CSV; the export is audited")
    def findings_csv(batch_id: str, principal: PrincipalDep) -> StreamingResponse:
        c = ctx()

        def call() -> tuple[Any, int]:
            may_read(principal)
            with runtime.sessions() as session:
                row = queries.batch_row(session, batch_id)
            return row, queries.findings_count(c, row)

        row, count = guard(principal, "export", "feedback-findings", batch_id, call)
        with runtime.unit_of_work() as uow:
            uow.record_access(actor=actor_of(principal), action="export", resource_type="feedback-findings",
                              resource_id=batch_id, record_count=count)
        return StreamingResponse(queries.findings_csv(c, row), media_type="text/csv", headers={
            "Content-Disposition": f'attachment; filename="findings-{batch_id}.csv"'})

    # -- reports --------------------------------------------------------------------------------------
    def _report(principal: Principal, q: reports.ReportQuery, action: str = "query") -> Any:
        def call() -> Any:
            if q.start and q.end and q.start > q.end:
                raise Refused(422, f"start {q.start} is after end {q.end}", rule="period")
            may_read(principal, q.program)
            with runtime.sessions() as session:
                return reports.build(ctx(), session, q)

        return guard(principal, action, "feedback-report", q.program or "all", call)

    def _query(program: ProgramCode | None, start: str | None, end: str | None, level: str, period: str,
               region: str | None) -> reports.ReportQuery:
        return reports.ReportQuery(program=str(program) if program else None, start=start, end=end,
                                   level=level, granularity=period, region=region)  # type: ignore[arg-type]

    @router.get("/reports", response_model=dto.Report,
                summary="Delivered, served, coverage, share of desil 1, time to feedback, overdue handovers")
    def get_report(principal: PrincipalDep, program: ProgramCode | None = None, start: MonthQ = None,
                   end: MonthQ = None, level: LevelQ = "province", period: PeriodQ = "month",
                   region: RegionQ = None) -> Response:
        report = dto.report(_report(principal, _query(program, start, end, level, period, region)))
        # serialised once here: the response model documents it (validating it again costs a regency report
        # tens of milliseconds)
        return Response(report.model_dump_json(), media_type="application/json")

    @router.get("/reports/export.csv", response_class=StreamingResponse, responses=_CSV,
                summary="The report as CSV: one line per program, period, region and desil")
    def export_report(principal: PrincipalDep, program: ProgramCode | None = None, start: MonthQ = None,
                      end: MonthQ = None, level: LevelQ = "province", period: PeriodQ = "month",
                      region: RegionQ = None) -> StreamingResponse:
        r = _report(principal, _query(program, start, end, level, period, region), "export")
        _record_export(principal, "feedback-report", program, len(r.rows))
        return StreamingResponse(iter([_report_csv(r)]), media_type="text/csv", headers={
            "Content-Disposition": 'attachment; filename="laporan-data-balikan.csv"'})

    @router.get("/reports/charts/{chart}", response_class=Response, responses=_CHART,
                summary="A report chart (coverage, desil, classes, timeliness) as PNG or SVG")
    def chart(chart: Literal["coverage", "desil", "classes", "timeliness"], principal: PrincipalDep,
              format: Literal["png", "svg"] = "png", program: ProgramCode | None = None,
              start: MonthQ = None, end: MonthQ = None, region: RegionQ = None) -> Response:
        r = _report(principal, _query(program, start, end, "province", "all", region))
        return Response(charts.render(chart, r, format), media_type=charts.MEDIA_TYPES[format])

    @router.get("/reports/monitoring-evaluation.pdf", response_class=Response, responses=_PDF,
                summary="The monitoring and evaluation report (Art. 7) in Indonesian, for a year or any months")
    def me_report(principal: PrincipalDep, year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
                  start: MonthQ = None, end: MonthQ = None, program: ProgramCode | None = None) -> Response:
        c = ctx()
        if year is None and not (start or end):
            year = agreement_day(c.clock()).year
        if year is not None:
            start, end = start or f"{year}-01", end or f"{year}-12"
        r = _report(principal, _query(program, start, end, "province", "all", None), "export")
        pdf = me_pdf.render(r, _parties(c), generated_on=agreement_day(c.clock()))
        _record_export(principal, "feedback-me-report", program, len(r.rows))
        label = f"{start}_{end}".replace("-", "")
        return Response(pdf, media_type="application/pdf", headers={
            "Content-Disposition": f'attachment; filename="laporan-monev-p3ke-{label}.pdf"'})

    def _record_export(principal: Principal, resource_type: str, program: Any, count: int) -> None:
        with runtime.unit_of_work() as uow:
            uow.record_access(actor=actor_of(principal), action="export", resource_type=resource_type,
                              resource_id=str(program) if program else "all", record_count=count,
                              purpose="monitoring and evaluation (PKS Art. 7), aggregates only")

    @router.post("/reports/publications", status_code=201, response_model=dto.Publication,
                 summary="Publish a report beyond the parties: needs the other party's consent (Art. 10(3)); "
                         "aggregates only, small cells suppressed")
    def publish(body: dto.PublicationIn, principal: PrincipalDep) -> dto.Publication:
        if body.start and body.end and body.start > body.end:
            raise HTTPException(422, f"start {body.start} is after end {body.end}")
        q = reports.ReportQuery(program=str(body.program) if body.program else None, start=body.start, end=body.end,
                                level=body.level, granularity=body.period)
        content = guard(principal, "export", "feedback-report-publication", "new",
                        lambda: publication.publish(ctx(), runtime, actor_of(principal), q, body.purpose))
        return dto.Publication(**content)

    @router.get("/reports/publications/{publication_id}", response_model=dto.Publication,
                summary="A publication as it was published")
    def get_publication(publication_id: str, principal: PrincipalDep) -> dto.Publication:
        def call() -> dict[str, Any]:
            may_read(principal)
            return publication.stored(runtime, publication_id)

        return dto.Publication(**guard(principal, "read", "feedback-report-publication", publication_id, call))

    return [router]


async def _receive(ctx: Context, request: Request, filename: str) -> batches.Upload:
    """Stream the request body to a file (never the whole upload in memory); raises Refused."""
    limit = ctx.settings.feedback_max_upload_bytes
    declared = request.headers.get("content-length")
    if request.headers.get("content-type", "").startswith("multipart/"):
        raise Refused(415, "send the file as the raw request body (curl --data-binary @file), not as a form",
                      rule="upload")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Refused(413, f"the file is larger than {limit:,} bytes", rule="upload")
    incoming = ctx.storage / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    path = incoming / f"{uuid.uuid4().hex}.part"
    digest, size = hashlib.sha256(), 0
    try:
        with path.open("wb") as fh:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise Refused(413, f"the file is larger than {limit:,} bytes", rule="upload")
                digest.update(chunk)
                fh.write(chunk)
        if size == 0:
            raise Refused(422, "the upload is empty: send the file as the request body", rule="upload")
        if declared is not None and declared.isdigit() and int(declared) != size:
            raise Refused(400, f"truncated upload: {size:,} of {int(declared):,} bytes received", rule="upload")
        expected = request.headers.get("x-content-sha256")
        if expected and expected.lower() != digest.hexdigest():
            raise Refused(400, "the upload's SHA-256 does not match X-Content-SHA256", rule="upload")
    except ClientDisconnect:
        path.unlink(missing_ok=True)
        raise Refused(400, "truncated upload: the client disconnected", rule="upload") from None
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return batches.Upload(path=path, filename=filename, size=size, sha256=digest.hexdigest())


def _parties(ctx: Context) -> me_pdf.Parties:
    terms = ctx.policy.terms_at(ctx.clock())
    p1, p2 = terms.party(1), terms.party(2)
    return me_pdf.Parties(reference=terms.reference, title=" ".join(terms.title.split()), party_1=p1.name,
                          party_1_unit=p1.unit, party_2=p2.name, party_2_unit=p2.unit)


REPORT_CSV_COLUMNS = ("program", "period", "region", "region_name", "desil", "delivered", "served",
                      "served_in_extract", "coverage", "share_desil_1", "rows", "rejected", "benefit_value",
                      "in_extract", "in_p3ke_not_delivered", "not_in_p3ke", "invalid_nik", "duplicate",
                      "enrolled", "completed", "dropped_out", "benefit_paid", "suspended", "deceased")


def _report_csv(r: Any) -> bytes:
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(REPORT_CSV_COLUMNS)
    for row in r.rows:
        f = row.figures
        for key in DESIL_KEYS:
            d = f.by_desil[key]
            if d.delivered or d.served:
                writer.writerow([row.program, row.period, row.region, row.region_name, key, d.delivered, d.served,
                                 d.served_in_extract, _num(d.served_in_extract / d.delivered if d.delivered else None),
                                 "", *([""] * 14)])
        writer.writerow([row.program, row.period, row.region, row.region_name, "all", f.delivered, f.served,
                         f.served_in_extract, _num(f.coverage), _num(f.share_desil_1), f.rows, f.rejected,
                         f.benefit_value, *f.by_class.values(), *f.by_status.values()])
    return buffer.getvalue().encode()


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"

