"""Delivery API: party 2's disposal certificate (berita acara pemusnahan) of a signed handover.

    POST /v1/handovers/{id}/purpose-ended                  party 2's program officer or party 1's data steward
    GET  /v1/handovers/{id}/disposal-certificate           whether it is owed, since when, by when; issued; certified
    POST /v1/handovers/{id}/disposal-certificate           party 2's program officer: what was destroyed, how, when
    GET  /v1/handovers/{id}/disposal-certificate.pdf       as issued (to sign with `p3ke bast sign --party 2`) or signed
    POST /v1/handovers/{id}/disposal-certificate/signature party 2's signatory uploads the signed PDF

Thin, as entrypoints/api.py: refusals are answered with their reason in the caller's language (Indonesian unless
English is asked for; the `delivery` catalogue) and recorded in the audit log (`p3ke_platform.api.refusal_answer`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, Field

from p3ke_delivery.domain.disposal_certificate import ITEMS, Item
from p3ke_delivery.entrypoints.deps import PDF_BODY, SIGNATURES_UNAVAILABLE, Ctx, Party, pdf_body
from p3ke_delivery.service_layer import disposal_certificates as service
from p3ke_platform.api import audited_refusal, refusal_answer
from p3ke_platform.auth import Principal, PrincipalDep, require
from p3ke_platform.refusal import Refused

router = APIRouter(prefix="/v1", tags=["disposal certificates"])
_RESOURCE = service.RESOURCE
Declarer = Annotated[Principal, Depends(require("program-officer", "data-steward"))]
# the org is checked before the body, so another party's officer is refused (403), not told about the body (422)
Party2Officer = Annotated[Principal, Depends(require("program-officer", org="kemnaker"))]


class PurposeEnded(BaseModel):
    note: str | None = Field(default=None, max_length=1000,
                             description="why the purpose ended, e.g. the program's end (no personal data)")


class DisposalFacts(BaseModel):
    method: str = Field(min_length=3, max_length=300, description="how it was destroyed, e.g. 'penghapusan aman "
                        "(secure erase) NIST SP 800-88', 'crypto-shredding' (no personal data)")
    destroyed_at: AwareDatetime = Field(description="when the destruction was completed (with its time zone)")
    items: list[Item] = Field(default_factory=lambda: list(ITEMS), min_length=1,
                              description="what was destroyed; default all of them")
    notes: str | None = Field(default=None, max_length=2000, description="anything to add (no personal data)")


class DisposalCertificate(BaseModel):
    handover_id: str
    bast_number: str | None = None
    status: str | None = Field(description="disposal-due | disposal-overdue | disposal-certified; null: not owed "
                                           "yet (the purpose and the agreement have not ended)")
    due_reason: str | None = Field(default=None, description="purpose-ended | agreement-ended")
    due_since: datetime | None = None
    due_by: datetime | None = Field(default=None, description="P3KE_DELIVERY_DISPOSAL_CERTIFICATE_DAYS after "
                                    "due_since")
    purpose_ended_at: datetime | None = None
    number: str | None = None
    method: str | None = None
    items: list[str] = Field(default_factory=list)
    destroyed_at: datetime | None = None
    issued_at: datetime | None = None
    issued_sha256: str | None = Field(default=None, description="the certificate as issued (what is signed)")
    signatory_id: str | None = Field(default=None, description="party 2's signatory the certificate names")
    certified_at: datetime | None = None
    signed_sha256: str | None = None
    certificate_sha256: str | None = Field(default=None, description="the signer's X.509 certificate")


def _answer(result: dict[str, Any]) -> DisposalCertificate:
    return DisposalCertificate(**result)


@router.post("/handovers/{handover_id}/purpose-ended", response_model=DisposalCertificate,
             summary="Declare a signed handover's purpose ended: party 2's disposal certificate becomes due")
def purpose_ended(handover_id: str, body: PurposeEnded, principal: Declarer, ctx: Ctx) -> DisposalCertificate:
    with audited_refusal(ctx, principal, action="upload", resource_type=_RESOURCE, resource_id=handover_id):
        return _answer(service.declare_purpose_ended(ctx, handover_id, principal, body.note))


@router.get("/handovers/{handover_id}/disposal-certificate", response_model=DisposalCertificate,
            summary="The disposal certificate of a handover: owed since and by when, issued, certified")
def get_certificate(handover_id: str, principal: Party, ctx: Ctx) -> DisposalCertificate:
    with audited_refusal(ctx, principal, action="read", resource_type=_RESOURCE, resource_id=handover_id):
        return _answer(service.view(ctx, handover_id))


@router.post("/handovers/{handover_id}/disposal-certificate", status_code=201, response_model=DisposalCertificate,
             summary="Issue the disposal certificate PDF (party 2's program officer: what was destroyed, how, when)")
def issue_certificate(handover_id: str, body: DisposalFacts, principal: Party2Officer,
                      ctx: Ctx) -> DisposalCertificate:
    facts = service.Facts(method=body.method, destroyed_at=body.destroyed_at, items=tuple(body.items),
                          notes=body.notes)
    with audited_refusal(ctx, principal, action="export", resource_type=_RESOURCE, resource_id=handover_id):
        return _answer(service.issue(ctx, handover_id, principal, facts))


@router.get("/handovers/{handover_id}/disposal-certificate.pdf", response_class=Response,
            summary="The disposal certificate PDF: as issued (sign it with `p3ke bast sign --party 2`) or as signed",
            responses={200: {"content": {"application/pdf": {}}}})
def get_certificate_pdf(handover_id: str, principal: Party, ctx: Ctx,
                        version: Annotated[Literal["issued", "signed"] | None, Query()] = None) -> Response:
    with audited_refusal(ctx, principal, action="read", resource_type=_RESOURCE, resource_id=handover_id):
        pdf, filename = service.document(ctx, handover_id, principal, version)
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.post("/handovers/{handover_id}/disposal-certificate/signature", status_code=201,
             response_model=DisposalCertificate, openapi_extra=PDF_BODY, responses=SIGNATURES_UNAVAILABLE,
             summary="Upload the disposal certificate signed by party 2's signatory (PAdES), as application/pdf")
async def upload_signature(handover_id: str, request: Request, principal: PrincipalDep,
                           ctx: Ctx) -> DisposalCertificate:
    try:
        await run_in_threadpool(service.check_signing_role, ctx, principal)
        pdf = await pdf_body(request, ctx.settings.delivery_max_upload_bytes)
        result = await run_in_threadpool(service.accept_signature, ctx, handover_id, principal, pdf)
    except Refused as refused:
        raise await run_in_threadpool(refusal_answer, ctx, principal, refused, action="upload",
                                      resource_type=_RESOURCE, resource_id=handover_id) from None
    return _answer(result)
