"""Header mapping: which column of an uploaded file is which P3KE field.

Real files spell headers in many ways (``NIK``, ``No. KK``, ``Desil``, ``Kode Wilayah``); a header is
normalised (lower case, every run of non-alphanumerics to ``_``) and looked up among the canonical
names and known aliases (the matching is ``p3ke_platform.tabular.layout``'s; the vocabulary is
P3KE's, here). The layout is refused when a required field is missing or two columns map
to the same field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from p3ke_ingest import p3ke_columns as cols
from p3ke_platform.tabular.errors import Explained
from p3ke_platform.tabular.layout import HeaderVocabulary, LayoutError

ALIASES: dict[str, str] = {
    "no_nik": "nik", "nomor_nik": "nik", "nik_ktp": "nik", "nomor_induk_kependudukan": "nik",
    "nik_kepala_keluarga": "nik",
    "nkk": "no_kk", "kk": "no_kk", "nomor_kk": "no_kk", "no_kartu_keluarga": "no_kk",
    "nomor_kartu_keluarga": "no_kk",
    "id_keluarga": "id_keluarga_p3ke", "idkeluarga": "id_keluarga_p3ke", "id_kel": "id_keluarga_p3ke",
    "id_individu_p3ke": "id_individu", "idindividu": "id_individu", "id_ind": "id_individu",
    "desil": "desil_kesejahteraan", "desil_p3ke": "desil_kesejahteraan",
    "desil_kesejahteraan_keluarga": "desil_kesejahteraan",
    "kode_wilayah": "kode_kemendagri", "kode_desa": "kode_kemendagri", "kd_kemendagri": "kode_kemendagri",
    "kode_desa_kelurahan": "kode_kemendagri", "kode_kemendagri_desa": "kode_kemendagri",
    "prov": "provinsi", "propinsi": "provinsi", "nama_provinsi": "provinsi",
    "kabupaten": "kabupaten_kota", "kab_kota": "kabupaten_kota", "kota_kabupaten": "kabupaten_kota",
    "nama_kabupaten_kota": "kabupaten_kota",
    "kec": "kecamatan", "nama_kecamatan": "kecamatan",
    "desa": "desa_kelurahan", "kelurahan": "desa_kelurahan", "desa_kel": "desa_kelurahan",
    "kelurahan_desa": "desa_kelurahan", "nama_desa": "desa_kelurahan",
    "nama_lengkap": "nama", "nama_individu": "nama", "nama_anggota_keluarga": "nama",
    "nama_kepala_keluarga": "kepala_keluarga", "nama_krt": "kepala_keluarga",
    "tgl_lahir": "tanggal_lahir", "tanggal_kelahiran": "tanggal_lahir",
    "jk": "jenis_kelamin", "sex": "jenis_kelamin", "kelamin": "jenis_kelamin",
    "hubungan": "hubungan_dengan_kepala_keluarga", "shdk": "hubungan_dengan_kepala_keluarga",
    "hubungan_keluarga": "hubungan_dengan_kepala_keluarga",
    "hubungan_dgn_kepala_keluarga": "hubungan_dengan_kepala_keluarga",
    "padan": "padan_dukcapil", "status_padan": "padan_dukcapil", "padan_dukcapil_nik": "padan_dukcapil",
    "usia": "umur",
    "status_perkawinan": "status_kawin",
}  # fmt: skip

KNOWN: frozenset[str] = frozenset(cols.FAMILY_COLUMNS) | frozenset(cols.INDIVIDUAL_COLUMNS)
HEADERS = HeaderVocabulary(KNOWN, ALIASES)
canonical = HEADERS.canonical
score = HEADERS.score  # how many distinct known P3KE fields a header row names (0 for a data row)


def required(level: cols.Level) -> tuple[str, ...]:
    return tuple(c for c in cols.columns(level) if cols.column_spec(c).required
                 and (level == "individual" or c not in ("id_individu", "nama", "hubungan_dengan_kepala_keluarga")))


@dataclass
class Layout:
    """How the columns of one file map to the P3KE layout of its level."""

    level: cols.Level
    positions: dict[str, int]  # canonical name -> 0-based position in the file
    headers: list[str]  # as found in the file
    unknown: list[str] = field(default_factory=list)
    missing_optional: list[str] = field(default_factory=list)

    @property
    def width(self) -> int:
        return len(self.headers)


def detect_level(names: set[str]) -> cols.Level | None:
    if "id_individu" in names or "nama" in names or "hubungan_dengan_kepala_keluarga" in names:
        return "individual"
    if "kepala_keluarga" in names:
        return "family"
    return None


def map_headers(headers: list[str], expected: cols.Level) -> Layout:
    matched = HEADERS.match(headers)
    positions, unknown = matched.positions, matched.unknown
    found = detect_level(set(positions))
    if found is not None and found != expected:
        raise LayoutError(key="file.wrong_level", found=Explained(key=f"label.{found}"),
                          expected=Explained(key=f"label.{expected}"))
    missing = [c for c in required(expected) if c not in positions]
    if missing:
        raise LayoutError(key="file.columns_missing", columns=", ".join(missing))
    layout_columns = cols.columns(expected)
    unknown += [headers[p].strip()[:60] for n, p in positions.items() if n not in layout_columns]
    optional = [c for c in layout_columns if c not in positions]
    return Layout(expected, {c: positions[c] for c in layout_columns if c in positions},
                  list(headers), unknown, optional)


__all__ = ["ALIASES", "HEADERS", "KNOWN", "Layout", "LayoutError", "canonical", "detect_level", "map_headers",
           "required", "score"]
