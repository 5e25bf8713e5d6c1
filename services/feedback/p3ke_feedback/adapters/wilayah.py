"""The Kemendagri region reference: codes (to validate rows) and names (for reports)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pyarrow as pa

from p3ke_platform.settings import ConfigurationError


@dataclass(frozen=True)
class Regions:
    names: dict[str, str]  # code (2, 4, 6 or 10 digits) -> name

    def name(self, code: str) -> str:
        if not code:
            return "tidak diketahui"
        return self.names.get(code, code)

    def codes_table(self) -> pa.Table:
        return pa.table({"kode": pa.array(list(self.names), pa.string())})

    def provinces_table(self) -> pa.Table:
        return pa.table({"kode": pa.array([c for c in self.names if len(c) == 2], pa.string())})


@lru_cache(maxsize=4)
def load_regions(path: Path) -> Regions:
    import pyarrow.csv as pcsv

    try:
        table = pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(
            column_types={"kode": pa.string(), "nama": pa.string()}, include_columns=["kode", "nama"],
            include_missing_columns=True))
    except (OSError, pa.ArrowInvalid) as exc:
        raise ConfigurationError(f"P3KE_FEEDBACK_WILAYAH_FILE: cannot read {path} as a CSV with a `kode` "
                                 f"column: {exc}") from None
    if table.column("kode").null_count == table.num_rows:
        raise ConfigurationError(f"P3KE_FEEDBACK_WILAYAH_FILE: {path} has no `kode` column")
    names = {k.strip(): (n or "").strip() for k, n in zip(table.column("kode").to_pylist(),
                                                         table.column("nama").to_pylist(), strict=True)
             if k and k.strip().isdigit()}
    if not names:
        raise ConfigurationError(f"P3KE_FEEDBACK_WILAYAH_FILE: {path} lists no region codes")
    return Regions(names)
