"""Delivery API: handovers, their BAST, signatures, the package password and package downloads.

Thin: each route turns the request into a call of the service layer, with the process's context
(`Ctx`, built once by the runtime). Refusals (`Refused`) become a 4xx answer with the precise reason,
and each one is recorded in the audit log (`data-access` with outcome `denied`) in its own
transaction, so nothing of the refused request itself is kept (`p3ke_platform.api.audited_refusal`).

Endpoints that release data (signature upload, password, links, download) admit any authenticated
caller and let the agreement policy decide (party, role, signatory, validity, program, fields), so
that a refusal there is explained and audited rather than a bare 403. The password, links and downloads
are bound to the request's verified requester (or the recipient it named). Every refusal is answered in
Indonesian, or in English with `Accept-Language: en` (or `?lang=en`), with its stable code
(`p3ke_platform.api_errors`); the audit log keeps it in both languages.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse

from p3ke_delivery.entrypoints import dtos
from p3ke_delivery.entrypoints.deps import PDF_BODY as _PDF_BODY
from p3ke_delivery.entrypoints.deps import SIGNATURES_UNAVAILABLE as _UNAVAILABLE
from p3ke_delivery.entrypoints.deps import Caller, Ctx, Party, Party1Steward
from p3ke_delivery.entrypoints.deps import pdf_body as _body
from p3ke_delivery.entrypoints.disposal_api import router as disposal_router
from p3ke_delivery.service_layer import disposal_certificates, queries, release, signing, subject_records
from p3ke_platform.api import Problem, audited_refusal, refusal_answer
from p3ke_platform.api_errors import refusal_exception
from p3ke_platform.envelope import chunks
from p3ke_platform.refusal import Refused
from p3ke_platform.retention.api import retention_router
from p3ke_platform.subject_records import subject_records_router

_GONE = {410: {"model": Problem, "description": "Revoked, or the link expired: nothing is released"}}

router = APIRouter(prefix="/v1", tags=["delivery"])
routers = [router, subject_records_router(subject_records.lookup), disposal_router, retention_router()]


@router.get("/handovers", response_model=list[dtos.Handover],
            summary="Handovers and their status, newest first, a page at a time")
def list_handovers(_: Party, ctx: Ctx, status: Annotated[str | None, Query(max_length=40)] = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 100,
                   offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> list[dtos.Handover]:
    rows = queries.all_handovers(ctx, status, limit=limit, offset=offset)
    disposal = disposal_certificates.statuses(ctx, rows)
    return [dtos.handover(row, disposal[row["handover_id"]]) for row in rows]


@router.get("/handovers/{handover_id}", response_model=dtos.HandoverDetail, summary="One handover")
def get_handover(handover_id: str, _: Party, ctx: Ctx) -> dtos.HandoverDetail:
    try:
        row, sigs, links = queries.one_handover(ctx, handover_id)
    except Refused as refused:
        raise refusal_exception(refused) from None
    return dtos.detail(row, sigs, links, disposal_certificates.statuses(ctx, [row])[handover_id])


@router.get("/handovers/{handover_id}/bast", summary="The BAST PDF, as issued or as signed so far",
            response_class=Response, responses={200: {"content": {"application/pdf": {}}}})
def get_bast(handover_id: str, principal: Party, ctx: Ctx,
             version: Annotated[Literal["issued", "current"], Query()] = "current") -> Response:
    with audited_refusal(ctx, principal, action="read", resource_type="bast", resource_id=handover_id):
        pdf, filename = queries.bast_document(ctx, handover_id, principal, version)
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.post("/handovers/{handover_id}/signatures", status_code=201, response_model=dtos.SignatureAccepted,
             summary="Upload the BAST signed by one party (`p3ke bast sign`), as application/pdf",
             openapi_extra=_PDF_BODY, responses=_UNAVAILABLE)
async def upload_signature(handover_id: str, request: Request, principal: Caller, ctx: Ctx) -> dtos.SignatureAccepted:
    try:
        # a caller whose role never signs is refused before the PDF is read and validated
        await run_in_threadpool(signing.check_signing_role, ctx, principal)
        pdf = await _body(request, ctx.settings.delivery_max_upload_bytes)
        result = await run_in_threadpool(signing.accept_signature, ctx, handover_id, principal, pdf)
    except Refused as refused:
        raise await run_in_threadpool(refusal_answer, ctx, principal, refused, action="upload",
                                      resource_type="bast", resource_id=handover_id) from None
    return dtos.SignatureAccepted(**result)


@router.post("/handovers/{handover_id}/password", response_model=dtos.PasswordRelease,
             summary="Release the package password to the request's verified requester, or the recipient it "
                     "named (once, audited)",
             responses=_GONE)
def get_password(handover_id: str, principal: Caller, ctx: Ctx, response: Response) -> dtos.PasswordRelease:
    with audited_refusal(ctx, principal, action="release-key", resource_type="package-password",
                         resource_id=handover_id):
        result = release.release_password(ctx, handover_id, principal)
    response.headers["Cache-Control"] = "no-store"
    return dtos.PasswordRelease(**result)


@router.post("/handovers/{handover_id}/package/links", status_code=201, response_model=dtos.DownloadLink,
             summary="An expiring, personal download link for the package (the requester or the recipient named)",
             responses=_GONE)
def create_link(handover_id: str, principal: Caller, ctx: Ctx) -> dtos.DownloadLink:
    with audited_refusal(ctx, principal, action="download", resource_type="download-link",
                         resource_id=handover_id):
        return dtos.DownloadLink(**release.issue_link(ctx, handover_id, principal))


@router.delete("/handovers/{handover_id}/package/links/{link_id}", response_model=dtos.LinkRevoked,
               summary="Revoke a download link")
def delete_link(handover_id: str, link_id: str, principal: Caller, ctx: Ctx) -> dtos.LinkRevoked:
    with audited_refusal(ctx, principal, action="download", resource_type="download-link",
                         resource_id=handover_id):
        return dtos.LinkRevoked(**release.revoke_link(ctx, handover_id, link_id, principal))


@router.get("/handovers/{handover_id}/package", response_class=StreamingResponse,
            summary="Download the encrypted package (with a link from POST .../package/links)",
            responses={200: {"content": {"application/zip": {}}}, **_GONE})
def get_package(handover_id: str, principal: Caller, ctx: Ctx,
                link: Annotated[str, Query(max_length=2048)]) -> StreamingResponse:
    with audited_refusal(ctx, principal, action="download", resource_type="package", resource_id=handover_id):
        got = release.download(ctx, handover_id, principal, link)
    # the ZIP itself, decrypted from its stored form while it streams (p3ke_platform.envelope)
    return StreamingResponse(chunks(got.stream), media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{got.name}"', "Content-Length": str(got.size),
        "X-Package-SHA256": got.sha256, "Cache-Control": "no-store"})


@router.post("/handovers/{handover_id}/revoke", response_model=dtos.Revoked,
             summary="Revoke a handover (PIHAK KESATU's data steward): nothing more is released")
def revoke(handover_id: str, body: dtos.Revocation, principal: Party1Steward, ctx: Ctx) -> dtos.Revoked:
    try:
        return dtos.Revoked(**release.revoke(ctx, handover_id, principal, body.reason))
    except Refused as refused:
        raise refusal_exception(refused) from None
