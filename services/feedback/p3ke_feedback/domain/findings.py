"""What validating and matching a feedback file can find about a row: code, severity, field, message.

``error`` keeps the row out of every count of people served (it is reported back to be corrected);
``warning`` keeps the row. Values shown with a finding are masked: a NIK keeps its first four digits
(the regency), a name is never shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Check:
    code: str
    severity: Severity
    field: str  # "" = the whole row
    message: str


CHECKS: tuple[Check, ...] = (
    Check("row_malformed", "error", "", "the line has more fields than the header"),
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
    Check("nama_missing", "warning", "nama", "name is missing"),
    Check("kode_wilayah_missing", "error", "kode_wilayah", "region code is missing"),
    Check("kode_wilayah_format", "error", "kode_wilayah", "region code is not 2, 4, 6 or 10 digits"),
    Check("kode_wilayah_unknown", "error", "kode_wilayah", "region code is not in the Kemendagri region table"),
    Check("program_missing", "warning", "program", "program is missing; the batch's program is assumed"),
    Check("program_mismatch", "error", "program", "the row names another program than the batch's"),
    Check("kegiatan_missing", "warning", "kegiatan", "activity is missing"),
    Check("value_too_long", "error", "", "a value is longer than allowed (name 200, activity 500 characters)"),
    Check("tanggal_mulai_missing", "error", "tanggal_mulai", "start date is missing"),
    Check("tanggal_mulai_invalid", "error", "tanggal_mulai", "start date is not a date between 2000 and 2100"),
    Check("tanggal_selesai_invalid", "error", "tanggal_selesai", "end date is not a date between 2000 and 2100"),
    Check("tanggal_selesai_before_mulai", "error", "tanggal_selesai", "end date is before the start date"),
    Check("tanggal_mulai_before_handover", "warning", "tanggal_mulai",
          "the person was served before the handover's BAST was signed"),
    Check("status_missing", "error", "status", "status is missing"),
    Check("status_unknown", "error", "status",
          "status is not one of enrolled, completed, dropped_out, benefit_paid, suspended, deceased "
          "(or an Indonesian equivalent such as terdaftar, selesai, putus, dibayar, ditangguhkan, meninggal)"),
    Check("status_completed_without_end", "warning", "tanggal_selesai", "completed, but no end date"),
    Check("nilai_manfaat_invalid", "error", "nilai_manfaat", "benefit value is not a number of rupiah"),
    Check("nilai_manfaat_negative", "error", "nilai_manfaat", "benefit value is negative"),
    Check("duplicate_in_batch", "warning", "nik",
          "NIK already reported in an earlier row of this file; counted once"),
    Check("duplicate_across_batches", "warning", "nik",
          "NIK already reported for this program in another current batch; counted there"),
)
BY_CODE: dict[str, Check] = {c.code: c for c in CHECKS}
ERROR_CODES: tuple[str, ...] = tuple(c.code for c in CHECKS if c.severity == "error")
