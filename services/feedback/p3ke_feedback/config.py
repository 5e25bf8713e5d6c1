"""The feedback service's own settings (on top of the shared ones), `P3KE_FEEDBACK_*`."""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator

from p3ke_platform.settings import ConfigurationError, Settings


class FeedbackSettings(Settings):
    feedback_storage_dir: Path | None = Field(
        default=None, description="uploaded batches, matched rows, findings; default <data_dir>/feedback")
    feedback_shared_root: Path | None = Field(
        default=None, description="extract and snapshot files must lie under this directory; default <data_dir>")
    feedback_wilayah_file: Path | None = Field(
        default=None, description="Kemendagri region codes and names (CSV with `kode`, `nama`); default the copy "
                                  "shipped with the ingest package, when that package is installed")
    feedback_max_upload_bytes: int = Field(
        default=1024**3, ge=1024, le=64 * 1024**3, description="largest feedback file accepted")
    feedback_duckdb_threads: int = Field(default=2, ge=1, le=256, description="DuckDB threads per match")
    feedback_duckdb_memory: str = Field(
        default="2GB", pattern=r"^[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
        description="DuckDB memory limit per match (it spills to <data_dir>/tmp beyond it)")
    feedback_overdue_days: int = Field(
        default=90, ge=1, le=3650, description="a signed handover without feedback after this many days is overdue")
    feedback_min_cell: int = Field(
        default=10, ge=1, le=1000, description="published reports suppress counts below this")

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
        """The region reference file. Without the setting, the ingest package's copy is used if that
        package is installed; it is located, never imported (services do not import each other)."""
        if self.feedback_wilayah_file is not None:
            return self.feedback_wilayah_file
        spec = importlib.util.find_spec("p3ke_ingest")  # finds a top-level package without importing it
        for location in (spec.submodule_search_locations or []) if spec else []:
            candidate = Path(location) / "data" / "wilayah" / "kode_wilayah.csv"
            if candidate.is_file():
                return candidate
        raise ConfigurationError("P3KE_FEEDBACK_WILAYAH_FILE: not set, and no kode_wilayah.csv was found in an "
                                 "installed p3ke_ingest package; point it at the Kemendagri region list")


@lru_cache(maxsize=16)
def _upgrade(settings: Settings) -> FeedbackSettings:
    return FeedbackSettings(**settings.model_dump())


def feedback_settings(settings: Settings | None) -> FeedbackSettings:
    """The feedback view of a process's settings (a plain Settings gets the feedback defaults/env)."""
    if isinstance(settings, FeedbackSettings):
        return settings
    if settings is None:
        from p3ke_platform.settings import load_settings

        return load_settings(FeedbackSettings, service="feedback")
    return _upgrade(settings)
