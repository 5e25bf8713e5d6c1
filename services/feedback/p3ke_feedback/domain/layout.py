"""The layout of a data balikan file: which column of an uploaded table is which field.

Headers are matched after normalisation (lower case, every run of non-alphanumerics to ``_``)
against the canonical names and known aliases, in Indonesian and English, so that ``NIK``,
``Nama Lengkap``, ``Kode Wilayah``, ``Tgl Mulai`` and ``Status Kepesertaan`` all map. Every field
must have a column (values may be empty where the rules allow); a missing column, or two columns
holding one field, is a wrong layout and the whole file is refused. The matching rules are
``p3ke_platform.tabular.layout``'s; the vocabulary is the data balikan's, here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from p3ke_platform.tabular.layout import MIN_HEADER_SCORE, HeaderVocabulary, LayoutError

COLUMNS: tuple[str, ...] = ("nik", "nama", "kode_wilayah", "program", "kegiatan", "tanggal_mulai",
                            "tanggal_selesai", "status", "nilai_manfaat")
"""Every field of a feedback row, in this order in the staging table."""

DESCRIPTIONS: dict[str, str] = {
    "nik": "NIK of the recipient (16 digits)",
    "nama": "name of the recipient (kept only in the uploaded file, never in reports)",
    "kode_wilayah": "Kemendagri region code of where the person was served (2, 4, 6 or 10 digits)",
    "program": "program code (one of the four of Art. 3; must be the batch's program)",
    "kegiatan": "activity, e.g. training course and place",
    "tanggal_mulai": "start date (YYYY-MM-DD or DD/MM/YYYY)",
    "tanggal_selesai": "end date (may be empty while ongoing)",
    "status": "enrolled, completed, dropped_out, benefit_paid, suspended or deceased (Indonesian words accepted)",
    "nilai_manfaat": "benefit value in rupiah (may be empty)",
}

ALIASES: dict[str, str] = {
    "no_nik": "nik", "nomor_nik": "nik", "nik_ktp": "nik", "nomor_induk_kependudukan": "nik",
    "nik_penerima": "nik", "nik_peserta": "nik",
    "nama_lengkap": "nama", "nama_penerima": "nama", "nama_peserta": "nama", "name": "nama", "full_name": "nama",
    "kode_kemendagri": "kode_wilayah", "kode_desa": "kode_wilayah", "kode_daerah": "kode_wilayah",
    "kd_wilayah": "kode_wilayah", "region_code": "kode_wilayah", "kode_wilayah_kemendagri": "kode_wilayah",
    "kode_program": "program", "program_code": "program", "nama_program": "program",
    "aktivitas": "kegiatan", "activity": "kegiatan", "nama_kegiatan": "kegiatan", "kegiatan_dan_tempat": "kegiatan",
    "jenis_kegiatan": "kegiatan",
    "tgl_mulai": "tanggal_mulai", "mulai": "tanggal_mulai", "start_date": "tanggal_mulai",
    "tanggal_awal": "tanggal_mulai",
    "tgl_selesai": "tanggal_selesai", "selesai": "tanggal_selesai", "end_date": "tanggal_selesai",
    "tanggal_akhir": "tanggal_selesai",
    "status_kepesertaan": "status", "status_penerima": "status", "enrolment_status": "status",
    "enrollment_status": "status", "status_peserta": "status",
    "nilai_bantuan": "nilai_manfaat", "benefit_value": "nilai_manfaat", "nominal": "nilai_manfaat",
    "nilai": "nilai_manfaat", "nilai_manfaat_rp": "nilai_manfaat", "benefit_amount": "nilai_manfaat",
}  # fmt: skip

HEADERS = HeaderVocabulary(frozenset(COLUMNS), ALIASES)
canonical = HEADERS.canonical
score = HEADERS.score  # how many distinct fields a row of headers names (0 for a data row)


@dataclass
class Layout:
    positions: dict[str, int]  # field -> 0-based column position in the file
    width: int
    unknown: list[str] = field(default_factory=list)


def map_headers(headers: list[str]) -> Layout:
    matched = HEADERS.match(headers)
    missing = [c for c in COLUMNS if c not in matched.positions]
    if missing:
        raise LayoutError(key="file.feedback_columns_missing", columns=", ".join(missing), layout=", ".join(COLUMNS))
    return Layout(matched.positions, len(headers), matched.unknown)


__all__ = ["ALIASES", "COLUMNS", "DESCRIPTIONS", "HEADERS", "MIN_HEADER_SCORE", "Layout", "LayoutError", "canonical",
           "map_headers", "score"]
