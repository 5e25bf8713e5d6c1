"""Ingest API: uploads and submissions (party 1's data steward), versions (steward or operator).

Uploads stream the request body to disk chunk by chunk (never the whole file in memory); send the
file as the raw body: ``curl -X POST --data-binary @individu.csv -H 'Content-Type: text/csv'
'.../v1/uploads?filename=individu.csv'``. A submission names its files (uploads, or paths inside the
configured import directories) and is validated by a background job; poll it for progress.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from p3ke_ingest.adapters.orm import dataset_versions
from p3ke_ingest.adapters.orm import submissions as submission_rows
from p3ke_ingest.adapters.sources import NotATable, precheck
from p3ke_ingest.adapters.storage import PathNotAllowed, allowed_path
from p3ke_ingest.domain.layout import LayoutError
from p3ke_ingest.entrypoints.deps import Caller, Ctx, Reader
from p3ke_ingest.entrypoints.dto import (
    DatasetVersion,
    DatasetVersionDetail,
    FileRef,
    FindingsPage,
    Submission,
    SubmissionAccepted,
    SubmissionRequest,
    Upload,
)
from p3ke_ingest.service_layer import publication, subject_records, submissions
from p3ke_ingest.service_layer.context import IngestContext
from p3ke_ingest.service_layer.validation import file_refusal
from p3ke_platform.api import audited_refusal, refusal_answer
from p3ke_platform.api_errors import LocalizedHTTPException
from p3ke_platform.auth import Principal
from p3ke_platform.i18n import request_language
from p3ke_platform.refusal import Message, Refused, messages
from p3ke_platform.retention.api import retention_router
from p3ke_platform.subject_records import subject_records_router
from p3ke_platform.tabular.archive_guard import ArchiveLimits
from p3ke_platform.tabular.errors import refusal_message
from p3ke_platform.uploads import receive_file
from p3ke_schemas import Actor

router = APIRouter(prefix="/v1", tags=["ingest"])
M = messages("ingest")
FINDINGS = messages("findings")
_FILENAME = re.compile(r"[^A-Za-z0-9._ -]+")


def _filename(raw: str | None) -> str:
    name = (raw or "upload").replace("\\", "/").rsplit("/", 1)[-1]
    name = _FILENAME.sub("_", name).strip(" .")[:200]
    return name or "upload"


def _steward(ctx: IngestContext, principal: Principal, action: str, resource_type: str, resource_id: str) -> Actor:
    """Party 1's data steward (the agreement's `publish-dataset`), as an Actor; else an audited 403."""
    with audited_refusal(ctx, principal, action=action, resource_type=resource_type, resource_id=resource_id,
                         agreement_id=ctx.agreement_id):
        return submissions.authorize(ctx, principal)


def _label(label: str) -> Message:
    """The file's role (individual, family) named in the caller's language."""
    return FINDINGS(f"label.{label}")


def _links(submission_id: str) -> dict[str, str]:
    base = f"/v1/submissions/{submission_id}"
    return {"self": base, "findings": f"{base}/findings", "report_csv": f"{base}/findings.csv",
            "report_jsonl": f"{base}/findings.jsonl"}


def _submission(row: Any, lang: str = "id") -> Submission:
    reasons = row["reasons"] or []
    if lang == "en" and (row["summary"] or {}).get("reasons_en"):  # stored in both languages (validation)
        reasons = row["summary"]["reasons_en"]
    return Submission(
        submission_id=row["submission_id"], status=row["status"], phase=row["phase"], progress=row["progress"],
        sources=[{k: v for k, v in s.items() if k in ("label", "kind", "name", "bytes", "sha256")}
                 for s in row["sources"]],
        submitted_by=row["submitted_by"], submitted_at=submissions.as_utc(row["submitted_at"]),
        started_at=submissions.as_utc(row["started_at"]), finished_at=submissions.as_utc(row["finished_at"]),
        attempts=row["attempts"], dataset_version_id=row["dataset_version_id"], reasons=reasons,
        summary=row["summary"], links=_links(row["submission_id"]))


def _version(row: Any, detail: bool = False, **extra: Any) -> Any:
    fields = {k: row[k] for k in DatasetVersion.model_fields}
    fields["submitted_at"] = submissions.as_utc(row["submitted_at"])
    fields["published_at"] = submissions.as_utc(row["published_at"])
    if not detail:
        return DatasetVersion(**fields)
    more = {k: row[k] for k in DatasetVersionDetail.model_fields if k in row and k not in fields}
    more["counts_by_desil"] = row["counts_by_desil"] or {}
    more["counts_by_province"] = row["counts_by_province"] or {}
    return DatasetVersionDetail(**fields, **more, **extra)



# -- uploads ------------------------------------------------------------------------------------------------
@router.post("/uploads", status_code=201, response_model=Upload,
             summary="Upload one file (CSV, XLSX or Parquet) as the raw request body, streamed to disk")
async def upload(request: Request, principal: Caller, ctx: Ctx,
                 filename: Annotated[str | None, Query(max_length=255)] = None) -> Upload:
    actor = await run_in_threadpool(_steward, ctx, principal, "upload", "dataset-upload", "new")
    upload_id, part = ctx.storage.new_upload()
    try:
        received = await receive_file(request, part, limit=ctx.settings.ingest_max_upload_bytes,
                                      archive=ArchiveLimits.from_settings(ctx.settings))
    except Refused as refused:  # nothing stored; the refusal is audited and answered with its reason
        raise await run_in_threadpool(refusal_answer, ctx, principal, refused, action="upload",
                                      resource_type="dataset-upload", resource_id=upload_id,
                                      agreement_id=ctx.agreement_id) from None
    final = ctx.storage.finish_upload(part)
    name = _filename(filename)
    await run_in_threadpool(lambda: submissions.record_upload(
        ctx, actor, upload_id=upload_id, filename=name, path=ctx.storage.relative(final), size=received.size,
        sha256=received.sha256))
    return Upload(upload_id=upload_id, filename=name, bytes=received.size, sha256=received.sha256)


# -- submissions --------------------------------------------------------------------------------------------
def _source(ctx: IngestContext, principal: Principal, label: str, ref: FileRef) -> dict[str, Any]:
    """One file of a submission, checked at once (its head; a ZIP/XLSX against the archive limits): a file
    refused here is refused with its reason and how to fix it, and the refusal is audited."""
    if ref.upload_id is not None:
        try:
            row = submissions.upload_row(ctx, ref.upload_id)
        except submissions.NotFound:
            unknown = Refused(status.HTTP_422_UNPROCESSABLE_CONTENT,
                              M("upload.unknown", label=_label(label), upload=ref.upload_id), rule="upload")
            raise refusal_answer(ctx, principal, unknown, action="upload", resource_type="dataset-submission",
                                 resource_id="new", agreement_id=ctx.agreement_id) from None
        path = ctx.storage.absolute(row["path"])
        src = {"label": label, "kind": "upload", "upload_id": ref.upload_id, "name": row["filename"],
               "bytes": row["bytes"], "sha256": row["sha256"]}
    else:
        try:
            path = allowed_path(ref.path or "", ctx.settings.ingest_import_dirs)
        except PathNotAllowed as exc:
            raise LocalizedHTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                         M(f"path.{exc.key}", label=_label(label)), rule="path") from None
        st = path.stat()
        src = {"label": label, "kind": "path", "path": str(path), "name": path.name, "bytes": st.st_size,
               "mtime": st.st_mtime_ns}
    try:
        precheck(path, label, ArchiveLimits.from_settings(ctx.settings))  # type: ignore[arg-type]
    except (NotATable, LayoutError) as exc:  # a hostile archive carries its own status (413 over a limit)
        reason = file_refusal(label, src["name"], exc)
        refused = Refused(getattr(exc, "status", status.HTTP_422_UNPROCESSABLE_CONTENT), refusal_message(reason),
                          rule="file")
        raise refusal_answer(ctx, principal, refused, action="upload", resource_type="dataset-submission",
                             resource_id=ref.upload_id or "new", agreement_id=ctx.agreement_id) from None
    return src


@router.post("/submissions", status_code=202, response_model=SubmissionAccepted,
             summary="Submit a snapshot (individual file, optional family file) for validation and publication")
def submit(body: SubmissionRequest, principal: Caller, ctx: Ctx) -> JSONResponse:
    actor = _steward(ctx, principal, "upload", "dataset-submission", "new")
    sources = [_source(ctx, principal, "individual", body.individual)]
    if body.family is not None:
        sources.append(_source(ctx, principal, "family", body.family))
    queued = submissions.submit(ctx, actor, sources)
    ctx.jobs_wake.set()  # the job loop of this process (if it runs here) looks for work now
    with ctx.sessions() as session:
        st = session.execute(select(submission_rows.c.status).where(
            submission_rows.c.submission_id == queued.submission_id)).scalar_one()
    body_out = SubmissionAccepted(submission_id=queued.submission_id, status=st, duplicate=not queued.created,
                                  links=_links(queued.submission_id))
    return JSONResponse(body_out.model_dump(mode="json"), status_code=202 if queued.created else 200,
                        headers={"Location": f"/v1/submissions/{queued.submission_id}"})


@router.get("/submissions", response_model=list[Submission], summary="Submissions, newest first")
def list_submissions(_: Reader, ctx: Ctx, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[Submission]:
    with ctx.sessions() as session:
        rows = session.execute(select(submission_rows).order_by(submission_rows.c.submitted_at.desc())
                               .limit(limit)).mappings().all()
    return [_submission(r) for r in rows]


def _load(ctx: IngestContext, submission_id: str) -> Any:
    with ctx.sessions() as session:
        row = session.execute(select(submission_rows).where(
            submission_rows.c.submission_id == submission_id)).mappings().first()
    if row is None:
        raise LocalizedHTTPException(status.HTTP_404_NOT_FOUND, M("submission.not_found", submission=submission_id))
    return row


@router.get("/submissions/{submission_id}", response_model=Submission,
            summary="A submission's status, progress and result")
def get_submission(submission_id: str, _: Reader, ctx: Ctx, request: Request) -> Submission:
    return _submission(_load(ctx, submission_id), request_language(request))


def _report(ctx: IngestContext, submission_id: str, principal: Principal) -> tuple[Actor, Any]:
    actor = _steward(ctx, principal, "read", "dataset-findings", submission_id)
    row = _load(ctx, submission_id)
    if not row["report_path"]:
        raise LocalizedHTTPException(status.HTTP_409_CONFLICT, M("report.not_ready", submission=submission_id,
                                                                 status=row["status"]))
    return actor, ctx.storage.absolute(row["report_path"])


@router.get("/submissions/{submission_id}/findings", response_model=FindingsPage,
            summary="Row-level findings (values masked), page by page; the read is audited")
def findings(submission_id: str, principal: Caller, ctx: Ctx, request: Request,
             offset: Annotated[int, Query(ge=0)] = 0, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
             code: str | None = None, severity: str | None = None, file: str | None = None) -> FindingsPage:
    from p3ke_ingest.adapters import reports

    actor, path = _report(ctx, submission_id, principal)
    total, items = reports.page(path, offset, limit, code=code, severity=severity, file=file,
                                lang=request_language(request))
    submissions.record_read(ctx, actor, resource_type="dataset-findings", resource_id=submission_id,
                            count=len(items))
    return FindingsPage(total=total, offset=offset, limit=limit, items=items)  # type: ignore[arg-type]


@router.get("/submissions/{submission_id}/findings.{fmt}",
            summary="The whole findings report (masked): csv or jsonl")
def report(submission_id: str, fmt: str, principal: Caller, ctx: Ctx, request: Request) -> StreamingResponse:
    if fmt not in ("csv", "jsonl"):
        raise LocalizedHTTPException(status.HTTP_404_NOT_FOUND, M("report.format"))
    from p3ke_ingest.adapters import reports

    actor, path = _report(ctx, submission_id, principal)
    submissions.record_read(ctx, actor, resource_type="dataset-findings", resource_id=submission_id,
                            count=reports.count(path), action="export")
    media = "text/csv" if fmt == "csv" else "application/x-ndjson"
    return StreamingResponse(reports.export(path, fmt, request_language(request)), media_type=media, headers={
        "Content-Disposition": f'attachment; filename="findings-{submission_id}.{fmt}"'})


# -- versions -----------------------------------------------------------------------------------------------
@router.get("/dataset-versions", response_model=list[DatasetVersion],
            summary="Published dataset versions, oldest first")
def list_versions(_: Reader, ctx: Ctx, limit: Annotated[int, Query(ge=1, le=500)] = 100,
                  offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> list[DatasetVersion]:
    with ctx.sessions() as session:
        rows = session.execute(select(dataset_versions).order_by(
            dataset_versions.c.published_at, dataset_versions.c.dataset_version_id)
            .limit(limit).offset(offset)).mappings().all()
    return [_version(row) for row in rows]


def _detail(ctx: IngestContext, row: Any, current_id: str | None) -> DatasetVersionDetail:
    summary = None
    if row["submission_id"]:
        with ctx.sessions() as session:
            summary = session.execute(select(submission_rows.c.summary).where(
                submission_rows.c.submission_id == row["submission_id"])).scalar_one_or_none()
    return _version(row, detail=True, report=summary, current=row["dataset_version_id"] == current_id)


@router.get("/dataset-versions/current", response_model=DatasetVersionDetail, summary="The current version")
def current(_: Reader, ctx: Ctx) -> DatasetVersionDetail:
    with ctx.sessions() as session:
        row = publication.current_version(session)
    if row is None:
        raise LocalizedHTTPException(status.HTTP_404_NOT_FOUND, M("version.none_published"))
    return _detail(ctx, row, row["dataset_version_id"])


@router.get("/dataset-versions/{version_id}", response_model=DatasetVersionDetail,
            summary="One version: counts by desil and province, changes, validation summary")
def get_version(version_id: str, _: Reader, ctx: Ctx) -> DatasetVersionDetail:
    with ctx.sessions() as session:
        row = session.execute(select(dataset_versions).where(
            dataset_versions.c.dataset_version_id == version_id)).mappings().first()
        current_id = publication.current_version_id(session)
    if row is None:
        raise LocalizedHTTPException(status.HTTP_404_NOT_FOUND, M("version.not_found", version=version_id))
    return _detail(ctx, row, current_id)


routers = [router, subject_records_router(subject_records.lookup), retention_router()]
