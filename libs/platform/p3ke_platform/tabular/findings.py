"""How a finding about a row of a submitted table is described: code, severity, field, message.

Each service keeps its own catalogue of checks (a tuple of ``Check``); the checks of a NIK column,
which every intake of Indonesian person records makes the same way, are shared here so that a NIK
damaged by a spreadsheet is named alike wherever it is found.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Check:
    """One kind of finding: ``error`` keeps the row out, ``warning`` keeps it (repaired or noted)."""

    code: str
    severity: Severity
    field: str  # "" = the whole row
    message: str


def by_code(checks: Iterable[Check]) -> dict[str, Check]:
    """The catalogue keyed by code, in the given order; raises ``ValueError`` on a code given twice."""
    out: dict[str, Check] = {}
    for check in checks:
        if check.code in out:
            raise ValueError(f"check {check.code} is defined twice")
        out[check.code] = check
    return out


def error_codes(checks: Iterable[Check]) -> tuple[str, ...]:
    """The codes of the ``error`` checks, in the given order."""
    return tuple(c.code for c in checks if c.severity == "error")


NIK_CHECKS: tuple[Check, ...] = (
    Check("nik_missing", "error", "nik", "NIK is missing"),
    Check("nik_scientific", "error", "nik",
          "NIK was turned into a number by a spreadsheet (scientific notation or a numeric cell): its last "
          "digits are lost and cannot be recovered"),
    Check("nik_apostrophe", "warning", "nik", "NIK had a leading apostrophe (spreadsheet text marker); removed"),
    Check("nik_separators", "warning", "nik", "NIK had spaces, dots or dashes between its digits; removed"),
    Check("nik_format", "error", "nik", "NIK is not 16 digits"),
    Check("nik_province_unknown", "error", "nik", "NIK's first two digits are not a province code"),
    Check("nik_date_invalid", "error", "nik", "NIK's birth date part (DDMMYY, women day + 40) is not a date"),
    Check("nik_serial_zero", "error", "nik", "NIK's serial (last four digits) is 0000"),
)
"""The checks of a NIK column (16 digits: province, district, DDMMYY with women's day + 40, serial), in
the order they are made."""


__all__ = ["NIK_CHECKS", "Check", "Severity", "by_code", "error_codes"]
