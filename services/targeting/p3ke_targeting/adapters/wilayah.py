"""The Kemendagri region codes that requests may name (any level: 2, 4, 6 or 10 digits)."""

from __future__ import annotations

import csv
from pathlib import Path

from p3ke_platform.settings import ConfigurationError


def load_region_codes(path: Path) -> frozenset[str]:
    try:
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or "kode" not in reader.fieldnames:
                raise ConfigurationError(f"P3KE_TARGETING_WILAYAH_FILE: {path} has no `kode` column")
            codes = frozenset(row["kode"].strip() for row in reader if row["kode"])
    except OSError as exc:
        raise ConfigurationError(f"P3KE_TARGETING_WILAYAH_FILE: cannot read {path}: {exc}") from None
    if not codes:
        raise ConfigurationError(f"P3KE_TARGETING_WILAYAH_FILE: {path} lists no region codes")
    return codes
