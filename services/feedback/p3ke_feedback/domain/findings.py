"""What validating and matching a feedback file can find about a row: code, severity, field (message and fix
from the ``findings`` catalogue).

``error`` keeps the row out of every count of people served (it is reported back to be corrected);
``warning`` keeps the row. Values shown with a finding are masked: a NIK keeps its first four digits
(the regency), a name is never shown. ``Check`` and the NIK checks are shared with the other intakes
(``p3ke_platform.tabular.findings``).
"""

from __future__ import annotations

from p3ke_platform.tabular.findings import NIK_CHECKS, Check, Severity, by_code, error_codes

CHECKS: tuple[Check, ...] = (
    Check("row_malformed", "error", ""),
    *NIK_CHECKS,
    Check("nama_missing", "warning", "nama"),
    Check("kode_wilayah_missing", "error", "kode_wilayah"),
    Check("kode_wilayah_format", "error", "kode_wilayah"),
    Check("kode_wilayah_unknown", "error", "kode_wilayah"),
    Check("program_missing", "warning", "program"),
    Check("program_mismatch", "error", "program"),
    Check("kegiatan_missing", "warning", "kegiatan"),
    Check("value_too_long", "error", ""),
    Check("tanggal_mulai_missing", "error", "tanggal_mulai"),
    Check("tanggal_mulai_invalid", "error", "tanggal_mulai"),
    Check("tanggal_selesai_invalid", "error", "tanggal_selesai"),
    Check("tanggal_selesai_before_mulai", "error", "tanggal_selesai"),
    Check("tanggal_mulai_before_handover", "warning", "tanggal_mulai"),
    Check("status_missing", "error", "status"),
    Check("status_unknown", "error", "status"),
    Check("status_completed_without_end", "warning", "tanggal_selesai"),
    Check("nilai_manfaat_invalid", "error", "nilai_manfaat"),
    Check("nilai_manfaat_negative", "error", "nilai_manfaat"),
    Check("duplicate_in_batch", "warning", "nik"),
    Check("duplicate_across_batches", "warning", "nik"),
    Check("blank_row", "warning", ""),
    Check("summary_row", "warning", ""),
)
BY_CODE: dict[str, Check] = by_code(CHECKS)
ERROR_CODES: tuple[str, ...] = error_codes(CHECKS)

__all__ = ["BY_CODE", "CHECKS", "ERROR_CODES", "Check", "Severity"]
