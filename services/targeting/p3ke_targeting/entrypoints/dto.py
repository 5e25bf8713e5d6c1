"""HTTP request and response bodies of the targeting API (wire event models live in p3ke_schemas)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from p3ke_schemas import Actor, ExtractCriteria, RequestedProgram

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
    justification: str = Field(min_length=10, max_length=2000)
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


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    program: RequestedProgram
    criteria: ExtractCriteria = Field(default_factory=ExtractCriteria)
    dataset_version_id: str | None = None
    group_by: Literal["province", "regency", "district"] = "province"


class PlanCell(BaseModel):
    region: str
    desil: int
    count: int | None = Field(description="null when suppressed (fewer than min_cell persons)")
    suppressed: bool


class PlanOut(BaseModel):
    dataset_version_id: str
    program: str
    rules_version: str
    reference_date: date
    group_by: str
    min_cell: int
    excludes_earlier_recipients: bool
    cells: list[PlanCell]
    total_shown: int = Field(description="sum of the shown cells; suppressed cells are not in it")
    suppressed_cells: int
