"""The feedback service's own settings (on top of the shared ones), `P3KE_FEEDBACK_*`.

A process's plain `Settings` become these in `Runtime` (`ServiceSpec.settings_class`), once."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from p3ke_platform.reference.wilayah import BUNDLED_WILAYAH
from p3ke_platform.settings import ConfigurationError, Settings


class FeedbackSettings(Settings):
    feedback_storage_dir: Path | None = Field(
        default=None, description="uploaded batches, matched rows, findings; default <data_dir>/feedback")
    feedback_shared_root: Path | None = Field(
        default=None, description="extract and snapshot files must lie under this directory; default <data_dir>")
    feedback_wilayah_file: Path | None = Field(
        default=None, description="Kemendagri region codes and names (CSV with `kode`, `nama`); default the copy "
                                  "bundled with the platform (p3ke_platform/reference)")
    feedback_max_upload_bytes: int = Field(
        default=1024**3, ge=1024, le=64 * 1024**3, description="largest feedback file accepted")
    feedback_duckdb_threads: int = Field(default=2, ge=1, le=256, description="DuckDB threads per match")
    feedback_duckdb_memory: str = Field(
        default="2GB", pattern=r"^[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
        description="DuckDB memory limit per match (it spills to <data_dir>/tmp beyond it)")
    feedback_overdue_days: int = Field(
        default=90, ge=1, le=3650, description="a signed handover without feedback after this many days is overdue")
    feedback_min_cell: int = Field(
        default=10, ge=1, le=1000, description="published reports, and every report party 2 reads, suppress counts "
                                               "below this")

    @model_validator(mode="after")
    def _usable(self) -> FeedbackSettings:
        """A missing region list stops start-up (every role loads these settings first)."""
        try:
            if not self.wilayah_path.is_file():
                raise ConfigurationError(f"P3KE_FEEDBACK_WILAYAH_FILE: {self.wilayah_path} is not a file")
        except ConfigurationError as exc:
            raise ValueError(str(exc)) from None
        return self

    @property
    def storage_dir(self) -> Path:
        return self.feedback_storage_dir or Path(self.data_dir) / "feedback"

    @property
    def shared_root(self) -> Path:
        return self.feedback_shared_root or Path(self.data_dir)

    @property
    def temp_dir(self) -> Path:
        return Path(self.data_dir) / "tmp"

    @property
    def wilayah_path(self) -> Path:
        """The Kemendagri region list: the setting's file, else the platform's bundled copy."""
        return self.feedback_wilayah_file or BUNDLED_WILAYAH

