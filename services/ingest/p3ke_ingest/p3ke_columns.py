"""The column layouts of real Data P3KE files (family file and individual file).

Names and order follow ``shared/docs/DOMAIN.md`` ("The data"). Later P3KE releases added
``persentil, no_kk, status_pekerjaan, umur, penerima_prakerja, penerima_kur, disabilitas`` to the
individual file; they are appended after the original columns. The family file gets the two of them
that are family attributes (``persentil`` and ``no_kk``) -- an assumption, since DOMAIN.md lists the
additions for the individual file only; ``FAMILY_COLUMNS_ORIGINAL`` is the layout without them.

The synthetic generator (``p3ke_ingest.synth``) writes exactly these layouts and the validator reuses
them (header mapping, required fields, value vocabularies, which fields are personal data).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Level = Literal["family", "individual"]

# -- value vocabularies ----------------------------------------------------------------------------
YA, TIDAK = "Ya", "Tidak"
FLAG_VALUES: tuple[str, str] = (YA, TIDAK)
"""Every yes/no column (``padan_dukcapil``, ``penerima_*``, ``usia_*``, ``resiko_stunting``, ...)."""

LAKI_LAKI, PEREMPUAN = "Laki-laki", "Perempuan"
JENIS_KELAMIN: tuple[str, str] = (LAKI_LAKI, PEREMPUAN)

KEPALA_KELUARGA = "Kepala Keluarga"
HUBUNGAN_DENGAN_KEPALA_KELUARGA: tuple[str, ...] = (
    KEPALA_KELUARGA,
    "Istri",
    "Suami",
    "Anak",
    "Menantu",
    "Cucu",
    "Orang Tua",
    "Mertua",
    "Famili Lain",
    "Lainnya",
)
STATUS_KAWIN: tuple[str, ...] = ("Belum Kawin", "Kawin", "Cerai Hidup", "Cerai Mati")

DESIL_P3KE: tuple[int, int] = (1, 4)
"""Welfare decile range in P3KE (the successor DTSEN uses 1-10)."""
PERSENTIL_P3KE: tuple[int, int] = (1, 40)

USIA_FLAGS: tuple[tuple[str, int, int | None], ...] = (
    # (column, lowest age, highest age inclusive or None); age in whole years at the data's date
    ("usia_dibawah_7", 0, 6),
    ("usia_7_12", 7, 12),
    ("usia_13_15", 13, 15),
    ("usia_16_18", 16, 18),
    ("usia_19_21", 19, 21),
    ("usia_22_59", 22, 59),
    ("usia_60_keatas", 60, None),
)

# -- layouts ---------------------------------------------------------------------------------------
REGION_COLUMNS: tuple[str, ...] = ("provinsi", "kabupaten_kota", "kecamatan", "desa_kelurahan", "kode_kemendagri")

FAMILY_PROGRAM_FLAGS: tuple[str, ...] = (
    "penerima_bpnt",
    "penerima_bpum",
    "penerima_bst",
    "penerima_pkh",
    "penerima_sembako",
)

FAMILY_COLUMNS_ORIGINAL: tuple[str, ...] = (
    "id_keluarga_p3ke",
    *REGION_COLUMNS,
    "desil_kesejahteraan",
    "alamat",
    "kepala_keluarga",
    "nik",
    "padan_dukcapil",
    "jenis_kelamin",
    "tanggal_lahir",
    "pekerjaan",
    "pendidikan",
    "kepemilikan_rumah",
    "simpanan_uang_perhiasan_ternak_lainnya",
    "jenis_atap",
    "jenis_dinding",
    "jenis_lantai",
    "sumber_penerangan",
    "bahan_bakar_memasak",
    "sumber_air_minum",
    "memiliki_fasilitas_buang_air_besar",
    *FAMILY_PROGRAM_FLAGS,
    "resiko_stunting",
)
FAMILY_COLUMNS_LATER: tuple[str, ...] = ("persentil", "no_kk")
FAMILY_COLUMNS: tuple[str, ...] = FAMILY_COLUMNS_ORIGINAL + FAMILY_COLUMNS_LATER

INDIVIDUAL_COLUMNS_ORIGINAL: tuple[str, ...] = (
    "id_keluarga_p3ke",
    "id_individu",
    *REGION_COLUMNS,
    "desil_kesejahteraan",
    "alamat",
    "nama",
    "nik",
    "padan_dukcapil",
    "jenis_kelamin",
    "hubungan_dengan_kepala_keluarga",
    "tanggal_lahir",
    "status_kawin",
    "pekerjaan",
    "pendidikan",
    *(name for name, _, _ in USIA_FLAGS),
    *FAMILY_PROGRAM_FLAGS,
    "resiko_stunting",
)
INDIVIDUAL_COLUMNS_LATER: tuple[str, ...] = (
    "persentil",
    "no_kk",
    "status_pekerjaan",
    "umur",
    "penerima_prakerja",
    "penerima_kur",
    "disabilitas",
)
INDIVIDUAL_COLUMNS: tuple[str, ...] = INDIVIDUAL_COLUMNS_ORIGINAL + INDIVIDUAL_COLUMNS_LATER

# -- per-column facts --------------------------------------------------------------------------------
Kind = Literal["id", "region", "region_code", "int", "nik", "no_kk", "date", "flag", "category", "text"]


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    kind: Kind
    personal: bool = False
    """Personal data (UU PDP): mask in reports and logs."""
    required: bool = False


_SPECS: dict[str, ColumnSpec] = {
    s.name: s
    for s in (
        ColumnSpec("id_keluarga_p3ke", "id", required=True),
        ColumnSpec("id_individu", "id", required=True),
        ColumnSpec("provinsi", "region"),
        ColumnSpec("kabupaten_kota", "region"),
        ColumnSpec("kecamatan", "region"),
        ColumnSpec("desa_kelurahan", "region"),
        ColumnSpec("kode_kemendagri", "region_code", required=True),
        ColumnSpec("desil_kesejahteraan", "int", required=True),
        ColumnSpec("persentil", "int"),
        ColumnSpec("alamat", "text", personal=True),
        ColumnSpec("kepala_keluarga", "text", personal=True, required=True),
        ColumnSpec("nama", "text", personal=True, required=True),
        ColumnSpec("nik", "nik", personal=True, required=True),
        ColumnSpec("no_kk", "no_kk", personal=True),
        ColumnSpec("padan_dukcapil", "flag"),
        ColumnSpec("jenis_kelamin", "category", required=True),
        ColumnSpec("hubungan_dengan_kepala_keluarga", "category", required=True),
        ColumnSpec("tanggal_lahir", "date", personal=True, required=True),
        ColumnSpec("umur", "int"),
        ColumnSpec("status_kawin", "category"),
        ColumnSpec("pekerjaan", "category"),
        ColumnSpec("status_pekerjaan", "category"),
        ColumnSpec("pendidikan", "category"),
        ColumnSpec("disabilitas", "flag"),
    )
}


def column_spec(name: str) -> ColumnSpec:
    """The facts about one column; flags and housing categories get a default spec."""
    if name in _SPECS:
        return _SPECS[name]
    if name.startswith(("penerima_", "usia_")) or name in (
        "resiko_stunting",
        "simpanan_uang_perhiasan_ternak_lainnya",
    ):
        return ColumnSpec(name, "flag")
    return ColumnSpec(name, "category")


def columns(level: Level) -> tuple[str, ...]:
    return FAMILY_COLUMNS if level == "family" else INDIVIDUAL_COLUMNS


PERSONAL_COLUMNS: frozenset[str] = frozenset(
    n for n in set(FAMILY_COLUMNS) | set(INDIVIDUAL_COLUMNS) if column_spec(n).personal
)
