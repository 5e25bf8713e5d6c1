"""The audit service's own settings (on top of the shared ones), `P3KE_AUDIT_*`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from p3ke_platform.settings import Settings, missing_files

DEV_ORIGIN = "p3ke.local/audit"


class AuditSettings(Settings):
    # Every service's data-access events flow here: a longer window than the shared 5 ms fills the
    # batches (one transaction and one multi-row INSERT each); entries show up at most this much later.
    worker_batch_ms: int = Field(default=100, ge=1, le=10_000, description="longest wait to fill a batch")
    audit_checkpoint_every: int = Field(
        default=1000, ge=1, le=10_000_000, description="sign a checkpoint after this many new entries")
    audit_checkpoint_seconds: float = Field(
        default=60.0, gt=0, le=86_400, description="or after this many seconds, if the log grew")
    audit_checkpoint_key_file: Path | None = Field(
        default=None, description="Ed25519 private key (PEM, PKCS#8); default a development key in data_dir")
    audit_origin: str = Field(
        default=DEV_ORIGIN, pattern=r"^[^\s+]+$",
        description="the log's name in its checkpoints, e.g. kemenkopmk.go.id/p3ke/audit")
    audit_checkpointer_in_api: bool = Field(
        default=True, description="sign due checkpoints while no batch arrives (the audit-checkpointer "
        "job: in the API process, or in the jobs process when P3KE_JOBS_IN_API is false)")
    audit_max_page: int = Field(default=1000, ge=1, le=100_000, description="largest page of a query")
    audit_max_export: int = Field(default=100_000, ge=1, le=10_000_000, description="largest export")
    audit_max_days: int = Field(default=366, ge=1, le=3660, description="longest time range of a query")
    audit_volume_threshold: int = Field(
        default=100_000, ge=1, description="records one actor may touch in a day before it is flagged")

    @model_validator(mode="after")
    def _audit_safe_in_production(self) -> AuditSettings:
        if self.env != "production":
            return self
        problems = []
        if self.audit_checkpoint_key_file is None:
            problems.append("P3KE_AUDIT_CHECKPOINT_KEY_FILE: production needs the log's own signing key")
        problems += missing_files(("P3KE_AUDIT_CHECKPOINT_KEY_FILE", self.audit_checkpoint_key_file))
        if self.audit_origin == DEV_ORIGIN:
            problems.append("P3KE_AUDIT_ORIGIN: name the log (e.g. kemenkopmk.go.id/p3ke/audit)")
        if problems:
            raise ValueError("unsafe production configuration:\n  " + "\n  ".join(problems))
        return self

    @property
    def checkpoint_key_path(self) -> Path:
        return self.audit_checkpoint_key_file or Path(self.data_dir) / "keys" / "audit-checkpoint.pem"
