"""HTTP request and response bodies of the ingest API (not the wire contract, not the ORM)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class FileRef(BaseModel):
    """A file of the submission: an earlier upload, or a path/file:// URI inside an import directory."""

    model_config = ConfigDict(extra="forbid")

    upload_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$")
    path: str | None = Field(default=None, min_length=1, max_length=4096)

    @model_validator(mode="after")
    def _one(self) -> FileRef:
        if (self.upload_id is None) == (self.path is None):
            raise ValueError("give exactly one of upload_id or path")
        return self


class SubmissionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    individual: FileRef = Field(description="the individual file (one row per person)")
    family: FileRef | None = Field(default=None, description="the family file (optional)")


class Upload(BaseModel):
    upload_id: str
    filename: str
    bytes: int
    sha256: str


class SourceInfo(BaseModel):
    label: str
    kind: str
    name: str
    bytes: int | None = None
    sha256: str | None = None


class Submission(BaseModel):
    submission_id: str
    status: str = Field(description="queued | running | published | unchanged | refused | failed")
    phase: str = Field(description="queued | requeued (after an interrupted run) | starting | reading | checking | "
                                   "writing | comparing | published | unchanged | refused | failed")
    progress: float = Field(description="0..1")
    sources: list[SourceInfo]
    submitted_by: str
    submitted_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    attempts: int
    dataset_version_id: str | None = None
    reasons: list[str] = Field(default_factory=list, description="why the version was refused or the job failed")
    summary: dict[str, Any] | None = Field(default=None, description="rows, rejected and findings by code, per file")
    links: dict[str, str] = Field(default_factory=dict)


class SubmissionAccepted(BaseModel):
    submission_id: str
    status: str
    duplicate: bool = Field(description="an identical submission (same files and rules) already answers this")
    links: dict[str, str]


class Finding(BaseModel):
    file: str
    data_row: int | None = Field(description="1-based data row (after the header)")
    line: int | None = Field(description="1-based line of a CSV file or row of a worksheet")
    field: str
    code: str
    severity: str = Field(description="error (the row is left out), warning (kept), info (what was read)")
    message: str = Field(description="what was found, in Indonesian (English with Accept-Language: en or ?lang=en)")
    fix: str = Field("", description="how to fix it (cara memperbaiki), in the same language")
    value: str | None = Field(description="the value, masked")


class FindingsPage(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[Finding]


class DatasetVersion(BaseModel):
    dataset_version_id: str
    status: str
    snapshot_sha256: str | None
    individuals: int
    families: int
    rows_rejected: int
    submitted_at: datetime
    published_at: datetime | None


class DatasetVersionDetail(DatasetVersion):
    snapshot_uri: str | None
    family_snapshot_uri: str | None = None
    family_snapshot_sha256: str | None = None
    agreement_id: str | None = None
    supersedes: str | None = None
    submission_id: str | None = None
    counts_by_desil: dict[str, int] = Field(default_factory=dict)
    counts_by_province: dict[str, int] = Field(default_factory=dict)
    changes: dict[str, int] | None = Field(default=None, description="persons added, removed, changed")
    report: dict[str, Any] | None = Field(default=None, description="the validation summary")
    current: bool = False
