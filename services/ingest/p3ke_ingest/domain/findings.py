"""What validation can find, and how a finding names it: code, severity, field, message.

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
        Check("nik_district_unknown", "warning", "nik",
              "NIK's district (first six digits) is not in the current region table; it may be a district "
              "split or renamed since the NIK was issued"),
        Check("birthdate_mismatch", "error", "tanggal_lahir", "birth date does not match the NIK's DDMMYY"),
        Check("sex_mismatch", "error", "jenis_kelamin",
              "sex does not match the NIK (women have 40 added to the day of birth)"),
        Check("tanggal_lahir_invalid", "error", "tanggal_lahir", "birth date is missing or not a date"),
        Check("tanggal_lahir_future", "error", "tanggal_lahir", "birth date is in the future"),
        Check("jenis_kelamin_invalid", "error", "jenis_kelamin", "sex is missing or not Laki-laki/Perempuan"),
        Check("region_format", "error", "kode_kemendagri", "region code is missing or not 10 digits"),
        Check("region_unknown", "error", "kode_kemendagri", "region code is not a village in the region table"),
        Check("desil_invalid", "error", "desil_kesejahteraan", "welfare decile is missing or not a whole number"),
        Check("desil_out_of_range", "error", "desil_kesejahteraan", "welfare decile is out of the allowed range"),
        Check("no_kk_scientific", "warning", "no_kk",
              "No. KK was turned into a number by a spreadsheet; unrecoverable, dropped"),
        Check("no_kk_apostrophe", "warning", "no_kk", "No. KK had a leading apostrophe; removed"),
        Check("no_kk_format", "warning", "no_kk", "No. KK is not 16 digits; dropped"),
        Check("no_kk_district_unknown", "warning", "no_kk",
              "No. KK's district (first six digits) is not in the current region table"),
        Check("persentil_out_of_range", "warning", "persentil", "percentile is not a whole number in range; dropped"),
        Check("umur_invalid", "warning", "umur", "age is not a whole number between 0 and 150; dropped"),
        Check("hubungan_unknown", "warning", "hubungan_dengan_kepala_keluarga",
              "relationship to the head of family is not a known value"),
        Check("value_too_long", "error", "", "a value is longer than allowed"),
        Check("duplicate_row", "error", "", "exact copy of an earlier row"),
        Check("duplicate_nik", "error", "nik", "NIK already used by an earlier row (another person record)"),
        Check("duplicate_family", "error", "id_keluarga_p3ke", "family id already used by an earlier row"),
        Check("family_unknown", "error", "id_keluarga_p3ke", "the family id is not in the family file"),
        Check("row_malformed", "error", "", "the line could not be read as a row of the table"),
    ]
    for name in sorted(set(cols.FAMILY_COLUMNS) | set(cols.INDIVIDUAL_COLUMNS)):
        spec = cols.column_spec(name)
        if spec.required and name not in ("nik", "tanggal_lahir", "jenis_kelamin", "kode_kemendagri",
                                          "desil_kesejahteraan"):
            out.append(Check(f"{name}_missing", "error", name, f"required value {name} is missing"))
        if spec.kind == "flag":
            out.append(Check(f"{name}_invalid", "warning", name, f"{name} is not Ya/Tidak; dropped"))
    return out


CHECKS: tuple[Check, ...] = tuple(_checks())
BY_CODE: dict[str, Check] = by_code(CHECKS)

FILE_CODES: dict[str, str] = {
    "encoding_not_utf8": "the file is not UTF-8; it was read as {encoding}",
    "columns_unknown": "columns not in the P3KE layout were ignored: {columns}",
    "columns_optional_missing": "optional columns are missing: {columns}",
    "sheets_ignored": "worksheets without the P3KE layout were ignored: {sheets}",
    "sheets_combined": "worksheets with the same layout were read one after another: {sheets}",
}


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
