"""What delivery's routes depend on: the process's context (built once by the runtime) and the caller.

Endpoints that release data admit any authenticated caller (`Caller`) and let the agreement policy
decide, so that a refusal there is explained and audited; reading handovers serves the roles that
work with them (`Party`); revoking a handover is PIHAK KESATU's data steward's (`Party1Steward`).
Refusals are answered in the caller's language (Indonesian, or English on request) by the platform's error
handlers (`p3ke_platform.api_errors`), from delivery's catalogue (`p3ke_delivery.domain.messages`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from p3ke_delivery.domain.messages import M
from p3ke_delivery.service_layer.context import DeliveryContext
from p3ke_platform.api import Problem, service_context
from p3ke_platform.api_errors import LocalizedHTTPException
from p3ke_platform.auth import Principal, PrincipalDep, require

Ctx = Annotated[DeliveryContext, Depends(service_context)]
Caller = PrincipalDep
Party = Annotated[Principal, Depends(require("program-officer", "signatory", "data-steward", "operator"))]
Party1Steward = Annotated[Principal, Depends(require("data-steward", org="kemenkopmk"))]

SIGNATURES_UNAVAILABLE = {503: {"model": Problem, "description": "Signatures cannot be verified (trust configuration)"}}
PDF_BODY = {"requestBody": {"required": True, "content": {"application/pdf": {
    "schema": {"type": "string", "format": "binary"}}}}}
"""OpenAPI of an endpoint that takes a signed PDF (a BAST, a disposal certificate) as its body."""


async def pdf_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 once it exceeds `limit` bytes (read as a stream, never all at once)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise LocalizedHTTPException(413, M("upload.too_large_declared", size=declared, limit=limit))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise LocalizedHTTPException(413, M("upload.too_large", limit=limit))
        chunks.append(chunk)
    return b"".join(chunks)
