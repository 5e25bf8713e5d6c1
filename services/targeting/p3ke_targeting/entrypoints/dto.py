"""HTTP request and response bodies of the targeting API (wire event models live in p3ke_schemas)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from p3ke_platform.purpose_text import MAX_CHARS, MIN_CHARS
from p3ke_schemas import Actor, ExtractCriteria, PurposeCode, RequestedProgram

UtcDatetime = Annotated[datetime, AfterValidator(lambda d: d if d.tzinfo else d.replace(tzinfo=UTC))]
"""SQLite hands back naive datetimes; every time stored here is UTC."""


class DatasetVersion(BaseModel):
    dataset_version_id: str
    snapshot_sha256: str
    individuals: int
    families: int
    published_at: UtcDatetime
    is_current: bool


class ExtractRequestIn(BaseModel):
    """What a program officer asks for; who and when are taken from the token and the clock."""

    model_config = ConfigDict(extra="forbid")

    request_id: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$",
                                   description="your id for the request (retrying with it is safe); default new")
    agreement_id: str | None = Field(default=None, description="default the agreement this service applies")
    program: RequestedProgram
    criteria: ExtractCriteria = Field(default_factory=ExtractCriteria)
    quota: int = Field(gt=0, le=100_000_000)
    fields: list[str] = Field(min_length=1, max_length=100)
    purpose: PurposeCode = Field(description="a purpose code of the program (the agreement's `purposes`, or the "
                                 "purpose a written approval names), e.g. seleksi_calon_peserta")
    justification: str = Field(min_length=MIN_CHARS, max_length=MAX_CHARS, description=(
        "a short note for the BAST (one line, at most 280 characters); no NIK-like number and no person's name "
        "(refused with 422: it would stay forever in the audit log)"))
    dataset_version_id: str | None = Field(default=None, description="pin a version; default the current one")
    recipient: Actor | None = Field(
        default=None, description="a person of party 2 (a role allowed to download the package) who receives "
        "the package password and download links instead of you; default you")


class RequestStatus(BaseModel):
    request_id: str
    program: str
    status: Literal["submitted", "received", "accepted", "rejected"]
    received_at: UtcDatetime
    reason: str | None = None
    extract_id: str | None = None
    dataset_version_id: str | None = None
    rules_version: str | None = None
    decided_at: UtcDatetime | None = None
    record_count: int | None = None
    counts_by_desil: dict[str, int] | None = None
    counts_by_region: dict[str, int] | None = None
    file_sha256: str | None = None


PLANNING_PURPOSE = "perencanaan_sasaran"


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    program: RequestedProgram
    purpose: PurposeCode = Field(default=PLANNING_PURPOSE, description="the purpose the counts are for (a purpose "
                                 "code of the program; default perencanaan_sasaran, planning targets and quotas)")
    criteria: ExtractCriteria = Field(default_factory=ExtractCriteria)
    dataset_version_id: str | None = None
    group_by: Literal["province", "regency", "district"] = "province"


class PlanCell(BaseModel):
    region: str
    desil: int
    count: int | None = Field(description="party 2: perturbed and rounded to 5, null when suppressed (under min_cell "
                                          "after perturbation); party 1: exact")
    suppressed: bool


class PlanBudget(BaseModel):
    used: int = Field(description="protected planning queries of this caller today, this one included")
    limit: int
    day: date = Field(description="the Jakarta calendar day the budget is for")


class PlanOut(BaseModel):
    dataset_version_id: str
    program: str
    purpose: str
    rules_version: str
    reference_date: date
    group_by: str
    protection: Literal["exact", "cell-key"] = Field(
        description="exact: party 1's exact counts; cell-key: perturbed, suppressed and rounded (targeting README)")
    method: str | None = Field(default=None, description="the protection and its parameters")
    min_cell: int | None = Field(description="cells under this after perturbation are suppressed (party 2)")
    rounding_base: int | None = Field(description="shown counts are multiples of this (party 2)")
    excludes_earlier_recipients: bool
    cells: list[PlanCell]
    total_shown: int = Field(description="sum of the shown cells; suppressed cells are not in it")
    suppressed_cells: int
    budget: PlanBudget | None = Field(default=None, description="party 2's planning budget after this query")
