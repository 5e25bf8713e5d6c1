"""The records the law asks the controller to keep: the register of processing activities (UU PDP Art. 31) and
the DPIA (Art. 34), as JSON and as Indonesian PDFs, each a numbered version built from the terms in force
(service_layer/processing_records.py).

Read by compliance auditors and operators of both parties (as the obligations desk); a new version with fresh
figures is issued by compliance auditors. The documents hold no personal data (programs, fields, counts); each
issue is recorded in the log, reads are not (as the obligations desk's).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel

from p3ke_audit.adapters import processing_records_pdf
from p3ke_audit.domain import processing_records as records
from p3ke_audit.entrypoints.deps import Ctx
from p3ke_audit.service_layer import processing_records as service
from p3ke_audit.service_layer.context import AuditContext
from p3ke_platform.api_errors import LocalizedHTTPException
from p3ke_platform.auth import Principal, require
from p3ke_platform.refusal import messages

M = messages("audit")  # reasons in the caller's language (PO domain `audit`)
Reader = Annotated[Principal, Depends(require("compliance-auditor", "operator"))]
Issuer = Annotated[Principal, Depends(require("compliance-auditor"))]
Version = Annotated[int | None, Query(ge=1, le=1_000_000, description="a version from the history (default: the "
                                                                      "current one)")]

router = APIRouter(prefix="/v1", tags=["processing records"])
_PDF = {200: {"content": {"application/pdf": {}}, "description": "the document in Indonesian"}}


class VersionOut(BaseModel):
    document: records.Kind
    version: int
    terms_sha256: str | None
    agreement_id: str
    terms_version: str
    issued_at: datetime
    issued_by: str
    reason: str
    sha256: str


def _stored(ctx: AuditContext, kind: records.Kind, version: int | None) -> dict[str, object]:
    row = service.stored(ctx, kind, version)
    if row is None:
        raise LocalizedHTTPException(404, M(f"record.version_missing.{kind}", version=version))
    return row


def _headers(row: dict[str, object], filename: str | None = None) -> dict[str, str]:
    headers = {"X-Document-Version": str(row["version"]), "X-Document-SHA256": str(row["sha256"]),
               "X-Terms-SHA256": str(row["terms_sha256"] or "-")}
    if filename:
        headers["Content-Disposition"] = f'inline; filename="{filename}-v{row["version"]}.pdf"'
    return headers


def _json(ctx: AuditContext, kind: records.Kind, version: int | None) -> Response:
    row = _stored(ctx, kind, version)
    return Response(str(row["body"]), media_type="application/json", headers=_headers(row))


def _pdf(ctx: AuditContext, kind: records.Kind, version: int | None, filename: str) -> Response:
    row = _stored(ctx, kind, version)
    model = records.Ropa if kind == "ropa" else records.Dpia
    document = model.model_validate_json(str(row["body"])).model_dump(mode="json")
    return Response(processing_records_pdf.render(document), media_type="application/pdf",
                    headers=_headers(row, filename))


@router.get("/records-of-processing", response_model=records.Ropa,
            summary="The register of processing activities (UU PDP Art. 31): each program × purpose, current version")
def get_ropa(principal: Reader, ctx: Ctx, version: Version = None) -> Response:
    return _json(ctx, "ropa", version)


@router.get("/records-of-processing.pdf", response_class=Response, responses=_PDF,
            summary="The register of processing activities as a PDF in Indonesian")
def get_ropa_pdf(principal: Reader, ctx: Ctx, version: Version = None) -> Response:
    return _pdf(ctx, "ropa", version, "catatan-kegiatan-pemrosesan")


@router.get("/dpia", response_model=records.Dpia,
            summary="The data protection impact assessment (UU PDP Art. 34), current version")
def get_dpia(principal: Reader, ctx: Ctx, version: Version = None) -> Response:
    return _json(ctx, "dpia", version)


@router.get("/dpia.pdf", response_class=Response, responses=_PDF,
            summary="The data protection impact assessment as a PDF in Indonesian")
def get_dpia_pdf(principal: Reader, ctx: Ctx, version: Version = None) -> Response:
    return _pdf(ctx, "dpia", version, "penilaian-dampak-pdp")


@router.get("/records-of-processing/versions", response_model=list[VersionOut],
            summary="Every issued version of the ROPA and the DPIA, newest first (append-only)")
def list_versions(principal: Reader, ctx: Ctx, document: records.Kind | None = None,
                  limit: Annotated[int, Query(ge=1, le=1000, description="newest first")] = 100) -> list[VersionOut]:
    service.keep_current(ctx)
    return [VersionOut(**row) for row in service.history(ctx, document, limit)]


@router.post("/records-of-processing/versions", response_model=list[VersionOut], status_code=201,
             summary="Issue a new version of the ROPA and the DPIA now, with fresh figures from the log")
def issue_versions(principal: Issuer, ctx: Ctx, document: records.Kind | None = None) -> list[VersionOut]:
    kinds = (document,) if document else records.KINDS
    return [VersionOut(**row) for row in service.issue(ctx, principal.actor(), kinds)]
