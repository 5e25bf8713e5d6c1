"""What validation can find, and how a finding names it: code, severity, field; message and fix from the
``findings`` catalogue (Indonesian first, English on request).

A finding is about one row (or the whole file) of one input file. ``error`` findings keep the row out
of the published snapshot; ``warning`` findings keep the row (the value was repaired or dropped);
``file`` findings are about the file as a whole. ``Check`` and the NIK checks are shared with the other
intakes (``p3ke_platform.tabular.findings``). Values in findings are masked (``mask_value``):
reports never carry a NIK, a name or an address in clear.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from p3ke_ingest import p3ke_columns as cols
from p3ke_platform.tabular.findings import NIK_CHECKS, Check, Severity, by_code


def _checks() -> list[Check]:
    out = [
        *NIK_CHECKS,
        Check("nik_district_unknown", "warning", "nik"),
        Check("birthdate_mismatch", "error", "tanggal_lahir"),
        Check("sex_mismatch", "error", "jenis_kelamin"),
        Check("tanggal_lahir_invalid", "error", "tanggal_lahir"),
        Check("tanggal_lahir_future", "error", "tanggal_lahir"),
        Check("jenis_kelamin_invalid", "error", "jenis_kelamin"),
        Check("region_format", "error", "kode_kemendagri"),
        Check("region_unknown", "error", "kode_kemendagri"),
        Check("desil_invalid", "error", "desil_kesejahteraan"),
        Check("desil_out_of_range", "error", "desil_kesejahteraan"),
        Check("no_kk_scientific", "warning", "no_kk"),
        Check("no_kk_apostrophe", "warning", "no_kk"),
        Check("no_kk_format", "warning", "no_kk"),
        Check("no_kk_district_unknown", "warning", "no_kk"),
        Check("persentil_out_of_range", "warning", "persentil"),
        Check("umur_invalid", "warning", "umur"),
        Check("hubungan_unknown", "warning", "hubungan_dengan_kepala_keluarga"),
        Check("value_too_long", "error", ""),
        Check("duplicate_row", "error", ""),
        Check("duplicate_nik", "error", "nik"),
        Check("duplicate_family", "error", "id_keluarga_p3ke"),
        Check("family_unknown", "error", "id_keluarga_p3ke"),
        Check("row_malformed", "error", ""),
        Check("blank_row", "warning", ""),
        Check("summary_row", "warning", ""),
    ]
    for name in sorted(set(cols.FAMILY_COLUMNS) | set(cols.INDIVIDUAL_COLUMNS)):
        spec = cols.column_spec(name)
        if spec.required and name not in ("nik", "tanggal_lahir", "jenis_kelamin", "kode_kemendagri",
                                          "desil_kesejahteraan"):
            out.append(Check(f"{name}_missing", "error", name))
        if spec.kind == "flag":
            out.append(Check(f"{name}_invalid", "warning", name))
    return out


CHECKS: tuple[Check, ...] = tuple(_checks())
BY_CODE: dict[str, Check] = by_code(CHECKS)

FILE_CODES: dict[str, Severity] = {
    "file_read": "info",  # what was read: format, delimiter, encoding, header line, title rows, sheets
    "encoding_not_utf8": "warning",
    "columns_unknown": "warning",
    "columns_optional_missing": "warning",
    "sheets_ignored": "warning",
    "sheets_combined": "warning",
    "nik_column_numeric": "error",  # the NIK column was stored as numbers (digits lost): one reason, not N rows
    "nik_column_numeric_exact": "warning",  # ... as exact 16-digit numbers (read correctly)
    "no_kk_column_numeric": "warning",
    "dates_as_numbers": "error",  # a date column stored as Excel serial numbers
    "columns_shifted": "error",  # most rows fail in many columns at once: the header does not sit over its data
    "rows_skipped": "warning",  # blank and summary rows, recognised and left out
}
"""File-level findings: code -> severity; the message is ``file.<code>`` (and ``file.<code>.fix``) in the
``findings`` catalogue."""


@dataclass(frozen=True)
class Finding:
    """One row-level finding, as reported (values already masked)."""

    file: str
    data_row: int | None
    line: int | None
    field: str
    code: str
    severity: str
    message: str
    value: str | None = None


_DIGIT = re.compile(r"\d")
MAX_SHOWN = 40


def mask_value(field: str, value: str | None) -> str | None:
    """A value fit for a report: identity numbers keep their first 4 digits (the regency), other
    personal values are hidden, the rest is shown (shortened, and any NIK-like run masked)."""
    if value is None:
        return None
    spec = cols.column_spec(field) if field else None
    if spec is not None and spec.kind in ("nik", "no_kk"):
        seen = 0

        def keep_four(match: re.Match[str]) -> str:
            nonlocal seen
            seen += 1
            return match.group(0) if seen <= 4 else "*"

        shown = _DIGIT.sub(keep_four, value[:MAX_SHOWN])
        return shown + ("…" if len(value) > MAX_SHOWN else "")
    if spec is not None and spec.kind == "date" and spec.personal:
        return _DIGIT.sub("*", value[:MAX_SHOWN])
    if spec is not None and spec.personal:
        return "[REDACTED]"
    from p3ke_platform.logging import redact_text

    text = value if len(value) <= MAX_SHOWN else value[:MAX_SHOWN] + "…"
    return redact_text(text)


__all__ = ["BY_CODE", "CHECKS", "FILE_CODES", "MAX_SHOWN", "Check", "Finding", "Severity", "mask_value"]
