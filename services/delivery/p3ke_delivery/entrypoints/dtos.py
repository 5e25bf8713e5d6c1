"""What the delivery API returns (HTTP DTOs; the tables and the events have their own classes)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from p3ke_delivery.domain.model import aware


class Handover(BaseModel):
    handover_id: str
    request_id: str
    extract_id: str
    agreement_id: str
    program: str
    record_count: int
    status: str = Field(description="preparing | refused | failed | awaiting-signatures | partially-signed | signed "
                                    "| revoked")
    bast_number: str | None = None
    created_at: datetime
    disposal: str | None = Field(default=None, description="party 2's disposal certificate: disposal-due | "
                                 "disposal-overdue | disposal-certified; null while nothing is owed "
                                 "(GET .../disposal-certificate)")


class SignatureView(BaseModel):
    party: int
    org: str
    signatory_id: str
    field: str
    certificate_sha256: str
    certificate_subject: str
    signed_at: datetime
    received_at: datetime


class HandoverDetail(Handover):
    reason: str | None = Field(default=None, description=(
        "why the handover is `refused` (the agreement's reason, Indonesian first: `<Indonesian> / <English>`), "
        "`failed` or `revoked`"))
    purpose: str | None = Field(default=None, description="the request's purpose code")
    dataset_version_id: str | None = None
    extract_sha256: str
    terms_version: str | None = None
    bast_issued_at: datetime | None = None
    bast_sha256: str | None = Field(default=None, description="the BAST as issued (unsigned)")
    current_bast_sha256: str | None = Field(default=None, description="the BAST as signed so far")
    signatories: dict[str, str | None] = Field(default_factory=dict, description="party -> signatory id named")
    fields: list[str] = Field(default_factory=list)
    package_name: str | None = None
    package_sha256: str | None = None
    package_size: int | None = None
    password_released_at: datetime | None = None
    signed_at: datetime | None = None
    revoked_at: datetime | None = None
    signatures: list[SignatureView] = Field(default_factory=list)
    download_links: int = 0


class SignatureAccepted(BaseModel):
    handover_id: str
    party: int
    signatory_id: str
    certificate_sha256: str
    status: str
    bast_sha256: str


class PasswordRelease(BaseModel):
    handover_id: str
    password: str = Field(description="opens the package (WinZip AES-256); released once, keep it safe")
    released_at: datetime
    package_sha256: str


class DownloadLink(BaseModel):
    link_id: str
    url: str = Field(description="GET it with your bearer token before expires_at")
    token: str
    expires_at: datetime
    package_name: str
    package_sha256: str
    package_size: int


class LinkRevoked(BaseModel):
    link_id: str
    revoked_at: datetime


class Revocation(BaseModel):
    reason: str = Field(min_length=5, max_length=1000, description="why (recorded; no personal data)")


class Revoked(BaseModel):
    handover_id: str
    status: str
    revoked_at: datetime


def _aware(value: Any) -> Any:
    return aware(value) if isinstance(value, datetime) else value


_ROW_FIELDS = [k for k in Handover.model_fields if k != "disposal"]


def handover(row: Any, disposal: str | None = None) -> Handover:
    return Handover(**{k: _aware(row[k]) for k in _ROW_FIELDS}, disposal=disposal)


def detail(row: Any, signatures: list[Any], links: int, disposal: str | None = None) -> HandoverDetail:
    base = {k: _aware(row[k]) for k in _ROW_FIELDS}
    return HandoverDetail(
        **base, reason=row["reason"], purpose=row["purpose"], dataset_version_id=row["dataset_version_id"],
        extract_sha256=row["extract_sha256"], terms_version=row["terms_version"],
        bast_issued_at=_aware(row["bast_issued_at"]), bast_sha256=row["bast_sha256"],
        current_bast_sha256=row["current_sha256"],
        signatories={"1": row["signatory_1"], "2": row["signatory_2"]},
        fields=json.loads(row["fields"]) if row["fields"] else [], package_name=row["package_file"],
        package_sha256=row["package_sha256"], package_size=row["package_size"],
        password_released_at=_aware(row["password_released_at"]), signed_at=_aware(row["signed_at"]),
        revoked_at=_aware(row["revoked_at"]),
        signatures=[SignatureView(**{k: _aware(s[k]) for k in SignatureView.model_fields}) for s in signatures],
        download_links=links, disposal=disposal)
