"""The Kemendagri region reference: codes (to validate rows) and names (for reports)."""

from __future__ import annotations

import csv
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
    try:
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or "kode" not in reader.fieldnames:
                raise ConfigurationError(f"P3KE_FEEDBACK_WILAYAH_FILE: {path} has no `kode` column")
            names = {row["kode"].strip(): (row.get("nama") or "").strip() for row in reader
                     if row.get("kode") and row["kode"].strip().isdigit()}
    except OSError as exc:
        raise ConfigurationError(f"P3KE_FEEDBACK_WILAYAH_FILE: cannot read {path}: {exc}") from None
    if not names:
        raise ConfigurationError(f"P3KE_FEEDBACK_WILAYAH_FILE: {path} lists no region codes")
    return Regions(names)
