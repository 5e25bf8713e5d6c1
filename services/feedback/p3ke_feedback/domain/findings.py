"""What validating and matching a feedback file can find about a row: code, severity, field, message.

``error`` keeps the row out of every count of people served (it is reported back to be corrected);
``warning`` keeps the row. Values shown with a finding are masked: a NIK keeps its first four digits
(the regency), a name is never shown. ``Check`` and the NIK checks are shared with the other intakes
(``p3ke_platform.tabular.findings``).
"""

from __future__ import annotations

from p3ke_platform.tabular.findings import NIK_CHECKS, Check, Severity, by_code, error_codes

CHECKS: tuple[Check, ...] = (
    Check("row_malformed", "error", "", "the line has more fields than the header"),
    *NIK_CHECKS,
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
BY_CODE: dict[str, Check] = by_code(CHECKS)
ERROR_CODES: tuple[str, ...] = error_codes(CHECKS)

__all__ = ["BY_CODE", "CHECKS", "ERROR_CODES", "Check", "Severity"]
