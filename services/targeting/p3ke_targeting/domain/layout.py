"""The snapshot layout targeting reads: the P3KE individual file, by column name.

Ingest publishes each dataset version as Parquet in the individual-file layout of DOMAIN.md "The
data" (original columns plus the later additions). Targeting never imports ingest: the names it
relies on are listed here, and a snapshot that lacks them is refused with a message naming them.
"""

from __future__ import annotations

INDIVIDUAL_COLUMNS: tuple[str, ...] = (
    "id_keluarga_p3ke", "id_individu", "provinsi", "kabupaten_kota", "kecamatan", "desa_kelurahan",
    "kode_kemendagri", "desil_kesejahteraan", "alamat", "nama", "nik", "padan_dukcapil", "jenis_kelamin",
    "hubungan_dengan_kepala_keluarga", "tanggal_lahir", "status_kawin", "pekerjaan", "pendidikan",
    "usia_dibawah_7", "usia_7_12", "usia_13_15", "usia_16_18", "usia_19_21", "usia_22_59", "usia_60_keatas",
    "penerima_bpnt", "penerima_bpum", "penerima_bst", "penerima_pkh", "penerima_sembako", "resiko_stunting",
    "persentil", "no_kk", "status_pekerjaan", "umur", "penerima_prakerja", "penerima_kur", "disabilitas",
)  # fmt: skip
KNOWN_FIELDS = frozenset(INDIVIDUAL_COLUMNS)

# what every selection reads, with the kind of Arrow type it needs
SELECTION_COLUMNS: dict[str, str] = {
    "nik": "string",
    "kode_kemendagri": "string",
    "desil_kesejahteraan": "integer",
    "persentil": "integer",
    "tanggal_lahir": "date",
    "jenis_kelamin": "string",
}

SEX_VALUES = {"L": "Laki-laki", "P": "Perempuan"}
PROVINCE_DIGITS = 2
REGION_LEVELS = {"province": 2, "regency": 4, "district": 6}
