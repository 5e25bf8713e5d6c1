"""What one service holds about one person, for a data-subject access request (UU PDP Art. 32).

Each service that keeps personal data (ingest: the snapshots; delivery: the extracts and packages; feedback: the
data balikan batches) answers `POST /v1/subject-records` with the person's records as it holds them. The audit
service collects the answers into the response bundle (`p3ke_audit.service_layer.subject_records`). The NIK
travels only in the request body, is never logged, and every lookup is recorded in the log as a `read` under
the person's keyed reference (so the lookup appears in their own trail) with the request's id.

A service mounts `subject_records_router(lookup)` among its routers; `lookup(ctx, nik)` returns what the service
holds (an empty list when nothing). Only compliance auditors of either party may ask.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from p3ke_platform.api import audited_refusal, service_context
from p3ke_platform.audit_client import subject_ref
from p3ke_platform.auth import Principal, require
from p3ke_platform.logging import redact_text

ENDPOINT = "/v1/subject-records"
RESOURCE_TYPE = "subject-records"
PURPOSE = "permintaan akses subjek data / data-subject access request (UU PDP Pasal 32)"
FieldValue = str | int | float | bool | None


class HeldRecord(BaseModel):
    """One record of the person as one artefact holds it (a snapshot row, an extract row, a feedback row)."""

    model_config = ConfigDict(extra="forbid")
    source: str = Field(description="snapshot | extract | feedback-batch | …", examples=["snapshot"])
    resource_type: str = Field(description="the audit log's resource type of the artefact", examples=["dataset"])
    resource_id: str = Field(description="the artefact's id (version, handover, batch)")
    title: str = Field(description="what the artefact is, in Indonesian", examples=["Data P3KE versi 2026-11"])
    held_since: datetime | None = Field(default=None, description="when the artefact was made or received")
    current: bool = Field(default=True, description="false for a superseded artefact still kept")
    fields: dict[str, FieldValue] = Field(description="the person's fields as held (column -> value)")


class SubjectRecordsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    nik: str = Field(min_length=16, max_length=16, pattern=r"^[0-9]{16}$",
                     description="the person's NIK (body only; never logged or answered back)")
    request_id: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9._-]+$",
                            description="the data-subject request this lookup answers (audit service id)")


class SubjectRecordsOut(BaseModel):
    service: str
    subject_ref: str = Field(description="the person's keyed reference (HMAC-SHA256 of the NIK)")
    generated_at: datetime
    records: list[HeldRecord]


def _nik_masked(record: HeldRecord, nik: str) -> HeldRecord:
    """The record with the person's NIK shown only as its first 4 digits (the regency code), in every service's
    answer alike: the caller typed it, and the bundle must not carry it further than needed."""
    fields = {k: redact_text(nik) if str(v) == nik else v for k, v in record.fields.items()}
    return record.model_copy(update={"fields": fields})


Lookup = Callable[[Any, str], list[HeldRecord]]
Auditor = Annotated[Principal, Depends(require("compliance-auditor"))]


def subject_records_router(lookup: Lookup) -> APIRouter:
    """The `POST /v1/subject-records` route of a service, answering with `lookup(ctx, nik)`; audited."""
    router = APIRouter(prefix="/v1", tags=["subject-records"])

    @router.post("/subject-records", response_model=SubjectRecordsOut,
                 summary="The person's records held by this service, for a data-subject access request (audited)")
    def subject_records(principal: Auditor, body: SubjectRecordsIn,
                        ctx: Annotated[Any, Depends(service_context)]) -> SubjectRecordsOut:
        with audited_refusal(ctx, principal, action="read", resource_type=RESOURCE_TYPE, resource_id=body.request_id):
            records = [_nik_masked(r, body.nik) for r in lookup(ctx, body.nik)]  # a `Refused` is answered
        now = ctx.clock()
        with ctx.unit_of_work() as uow:
            uow.record_access(actor=principal.actor(), action="read", resource_type=RESOURCE_TYPE,
                              resource_id=body.request_id, record_count=len(records), purpose=PURPOSE,
                              subject_niks=[body.nik], at=now)
            ref = subject_ref(uow.subject_hash_key, body.nik)
        return SubjectRecordsOut(service=ctx.service, subject_ref=ref, generated_at=now, records=records)

    return router
