"""The Kemendagri region codes (kode wilayah): codes to validate requests and rows, names for reports.

One copy ships with the platform (`data/wilayah/kode_wilayah.csv`, MIT-licensed, attribution in
`data/wilayah/README.md`); a service may point a setting at another file with the same `kode` and
`nama` columns (a newer Kemendagri list). Loaded once per path per process.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from p3ke_platform.settings import ConfigurationError

if TYPE_CHECKING:
    import pyarrow as pa

BUNDLED_WILAYAH = Path(str(files("p3ke_platform.reference").joinpath("data", "wilayah", "kode_wilayah.csv")))


def wilayah_csv_text() -> str:
    """The bundled region list as text (the synthetic data generator and ingest's DuckDB staging read it)."""
    return BUNDLED_WILAYAH.read_text(encoding="utf-8")


@dataclass(frozen=True)
class Regions:
    names: dict[str, str]  # code (2, 4, 6 or 10 digits) -> name

    @cached_property
    def codes(self) -> frozenset[str]:
        return frozenset(self.names)

    def name(self, code: str) -> str:
        if not code:
            return "tidak diketahui"
        return self.names.get(code, code)

    def codes_table(self) -> pa.Table:
        import pyarrow as pa

        return pa.table({"kode": pa.array(list(self.names), pa.string())})

    def provinces_table(self) -> pa.Table:
        import pyarrow as pa

        return pa.table({"kode": pa.array([c for c in self.names if len(c) == 2], pa.string())})


@lru_cache(maxsize=4)
def load_regions(path: Path = BUNDLED_WILAYAH, setting: str = "region file") -> Regions:
    """The region list at `path`; a file that cannot be read or lists no codes is a ConfigurationError
    naming `setting` (e.g. P3KE_TARGETING_WILAYAH_FILE), so it stops start-up."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    try:
        table = pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(
            column_types={"kode": pa.string(), "nama": pa.string()}, include_columns=["kode", "nama"],
            include_missing_columns=True))
    except (OSError, pa.ArrowInvalid) as exc:
        raise ConfigurationError(f"{setting}: cannot read {path} as a CSV with a `kode` column: {exc}") from None
    if table.column("kode").null_count == table.num_rows:
        raise ConfigurationError(f"{setting}: {path} has no `kode` column")
    names = {k.strip(): (n or "").strip() for k, n in zip(table.column("kode").to_pylist(),
                                                         table.column("nama").to_pylist(), strict=True)
             if k and k.strip().isdigit()}
    if not names:
        raise ConfigurationError(f"{setting}: {path} lists no region codes")
    return Regions(names)
