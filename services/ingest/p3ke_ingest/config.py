"""Ingest settings: `P3KE_INGEST_*` environment variables on top of the shared ones."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field, model_validator

from p3ke_ingest.domain.acceptance import AcceptancePolicy
from p3ke_platform.settings import Settings


class IngestSettings(Settings):
    ingest_import_dirs: list[Path] = Field(
        default_factory=list, description="directories whose files may be submitted by path (none: uploads only)")
    ingest_max_upload_bytes: int = Field(default=200 * 2**30, ge=1, description="largest accepted upload")
    ingest_max_rejected_share: float = Field(
        default=0.05, ge=0.0, le=1.0, description="refuse the version when more of a file's rows are rejected")
    ingest_require_family_file: bool = False
    ingest_desil_min: int = Field(default=1, ge=0, le=100)
    ingest_desil_max: int = Field(default=4, ge=1, le=100, description="4 for P3KE, 10 for DTSEN")
    ingest_persentil_max: int = Field(default=40, ge=1, le=100)
    ingest_max_field_chars: int = Field(default=1000, ge=16, description="longer values reject the row")
    ingest_max_line_bytes: int = Field(default=2 * 2**20, ge=4096, description="longer lines are malformed rows")
    ingest_engine_memory_mb: int = Field(default=1024, ge=128, description="DuckDB memory limit per job")
    ingest_engine_threads: int = Field(default=0, ge=0, description="DuckDB threads per job; 0 = all cores")
    ingest_job_workers: int = Field(default=1, ge=1, le=16, description="jobs run at the same time per process")
    ingest_work_space_factor: float = Field(
        default=1.5, ge=0, le=100, description="a job starts only with this many times the size of what it reads free "
        "on the work volume (uncompressed; measured: 0.9-1.2x); else it fails at once saying how much it needs; "
        "0 = no check")
    ingest_job_lease_seconds: int = Field(default=60, ge=5, description="a running job without heartbeat "
                                                                        "for this long is taken over")
    ingest_job_max_attempts: int = Field(default=3, ge=1, le=20)

    @model_validator(mode="after")
    def _ranges(self) -> IngestSettings:
        if self.ingest_desil_min > self.ingest_desil_max:
            raise ValueError("P3KE_INGEST_DESIL_MIN must not exceed P3KE_INGEST_DESIL_MAX")
        return self

    @property
    def ingest_dir(self) -> Path:
        return self.data_dir / "ingest"

    @cached_property
    def acceptance(self) -> AcceptancePolicy:
        return AcceptancePolicy(self.ingest_max_rejected_share, self.ingest_require_family_file)

