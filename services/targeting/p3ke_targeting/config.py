"""The targeting service's own settings (on top of the shared ones), `P3KE_TARGETING_*`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from p3ke_platform.reference.wilayah import BUNDLED_WILAYAH
from p3ke_platform.settings import ConfigurationError, Settings
from p3ke_platform.shared_files import extracts_dir

BUNDLED_RULES = Path(__file__).parent / "rules" / "eligibility.yaml"


class TargetingSettings(Settings):
    targeting_rules_file: Path | None = Field(
        default=None, description="eligibility rules per program (YAML); default the bundled defaults")
    targeting_wilayah_file: Path | None = Field(
        default=None, description="Kemendagri region codes (CSV with a `kode` column); default the copy "
                                  "bundled with the platform (p3ke_platform/reference)")
    targeting_min_cell: int = Field(
        default=10, ge=1, le=1000, description="planning counts below this are suppressed")
    targeting_plan_queries_per_day: int = Field(
        default=50, ge=0, le=100_000, description="protected planning queries (POST /v1/plans) each caller of party 2 "
                                                  "may make per Jakarta day; beyond it 429")
    targeting_duckdb_threads: int = Field(default=2, ge=1, le=256, description="DuckDB threads per selection")
    targeting_duckdb_memory: str = Field(
        default="2GB", pattern=r"^[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
        description="DuckDB memory limit per selection (it spills to data_dir/tmp beyond it)")
    targeting_working_copy: bool = Field(
        default=True, description="keep a working copy of the current snapshot in DuckDB's own storage "
                                  "(data_dir/targeting-working, about 3.2x the snapshot's size), which selections "
                                  "read faster than the Parquet file; built by the worker, off the extract path")
    targeting_working_copy_seconds: float = Field(
        default=30.0, gt=0, le=86_400, description="how often the worker checks that the current version's working "
                                                   "copy exists (and deletes the others)")
    targeting_plan_exclusion_max: int = Field(
        default=5_000_000, ge=0, description="planning applies 'exclude already delivered' up to this "
                                             "many earlier recipients of the program (a cost bound)")

    @model_validator(mode="after")
    def _usable(self) -> TargetingSettings:
        """Bad rules or a missing region list stop start-up (every role loads these settings first),
        instead of dead-lettering requests later."""
        from p3ke_targeting.adapters.rules_file import load_rules

        try:
            load_rules(self.rules_path)
            if not self.wilayah_path.is_file():
                raise ConfigurationError(f"P3KE_TARGETING_WILAYAH_FILE: {self.wilayah_path} is not a file")
        except ConfigurationError as exc:
            raise ValueError(str(exc)) from None
        return self

    @property
    def rules_path(self) -> Path:
        return self.targeting_rules_file or BUNDLED_RULES

    @property
    def extracts_dir(self) -> Path:
        return extracts_dir(self.data_dir)

    @property
    def wilayah_path(self) -> Path:
        """The Kemendagri region list: the setting's file, else the platform's bundled copy."""
        return self.targeting_wilayah_file or BUNDLED_WILAYAH

