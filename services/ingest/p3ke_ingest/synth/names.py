"""Synthetic Indonesian-sounding names and addresses (lists of common given names, and syllables).

The lists are generic, very common Indonesian names and syllables; any resemblance of a generated
name + NIK to a real person is coincidence. Names are written in upper case, as in civil-registry data.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from p3ke_ingest.synth.rng import Stream

MALE = (
    "Agus", "Ahmad", "Andi", "Arif", "Asep", "Bambang", "Budi", "Cecep", "Dadang", "Dedi", "Deni",
    "Didik", "Dodi", "Edi", "Eko", "Endang", "Fajar", "Hadi", "Hendra", "Heri", "Imam", "Iwan",
    "Joko", "Juned", "Kasim", "Komarudin", "Lukman", "Mahmud", "Misno", "Muhammad", "Mulyadi",
    "Nanang", "Nurdin", "Rahmat", "Ridwan", "Rizki", "Rudi", "Rusdi", "Sahrul", "Samsul", "Slamet",
    "Sugeng", "Suparman", "Supriyadi", "Suryadi", "Syaiful", "Tono", "Udin", "Ujang", "Wahyu",
    "Yanto", "Yusuf", "Zainal", "Abdul", "Anwar", "Darmaji", "Ferry", "Gunawan", "Haris", "Ilham",
    "Jamal", "Karyono", "Maman", "Ngadiman", "Paijo", "Riyanto", "Sarman", "Tarmiji", "Wawan",
    "Yohanes", "Markus", "Petrus", "Made", "Ketut", "Wayan", "Nyoman", "Gede", "La Ode", "Andi Muh.",
)  # fmt: skip
FEMALE = (
    "Aminah", "Ani", "Asih", "Ayu", "Dewi", "Eka", "Endah", "Erna", "Fatimah", "Fitri", "Hartini",
    "Ida", "Indah", "Juju", "Kartini", "Khodijah", "Lilis", "Lina", "Maryam", "Mulyani", "Nani",
    "Neneng", "Nur", "Nurhayati", "Puji", "Ratna", "Rina", "Rini", "Rohmah", "Rukmini", "Sari",
    "Siti", "Sri", "Sumiati", "Suryani", "Titin", "Tuti", "Umi", "Wartini", "Wati", "Yati", "Yuli",
    "Yuni", "Zubaedah", "Aisyah", "Dian", "Evi", "Halimah", "Imas", "Jumiati", "Komariah", "Lastri",
    "Marni", "Murni", "Ningsih", "Pariyem", "Rosita", "Sukarsih", "Tarsih", "Warsini", "Yohana",
    "Maria", "Ni Luh", "Ni Made", "Wa Ode", "Nengah", "Kadek",
)  # fmt: skip
SECOND_MALE = (
    "Santoso", "Saputra", "Hidayat", "Setiawan", "Kurniawan", "Wahyudi", "Prasetyo", "Nugroho",
    "Sutrisno", "Firmansyah", "Hakim", "Maulana", "Ramadhan", "Siswanto", "Purnomo", "Sudrajat",
    "Rohman", "Efendi", "Syahputra", "Susanto", "Pratama", "Gunadi", "Mustofa", "Ismail",
)  # fmt: skip
SECOND_FEMALE = (
    "Lestari", "Rahayu", "Wulandari", "Handayani", "Susanti", "Puspita", "Safitri", "Kurniasih",
    "Rahmawati", "Sulastri", "Wahyuni", "Setyaningsih", "Permatasari", "Anggraeni", "Fitriani",
    "Yuliani", "Purwanti", "Nurjanah", "Astuti", "Maharani", "Suryaningsih", "Oktaviani",
)  # fmt: skip
MARGA = (
    "Siregar", "Nasution", "Harahap", "Lubis", "Simanjuntak", "Sitompul", "Hutapea", "Sinaga",
    "Pardede", "Panjaitan", "Situmorang", "Simatupang", "Sihombing", "Tampubolon", "Ginting",
    "Sembiring", "Tarigan", "Manurung", "Pasaribu", "Hasibuan",
)  # fmt: skip
SYLLABLE_START = ("Su", "Sa", "Wa", "Ka", "Pa", "Ra", "Ja", "Ha", "Ma", "Da", "Ti", "Sri", "Tu", "Ngat", "Ru", "Mu")
SYLLABLE_MIDDLE = ("", "", "ri", "na", "di", "to", "har", "ki", "ma", "ti", "mi", "wi", "ji", "li")
SYLLABLE_END_MALE = ("no", "man", "yo", "to", "di", "jo", "min", "ran", "wan", "pan", "dun", "yadi")
SYLLABLE_END_FEMALE = ("ni", "ti", "sih", "yem", "nah", "yah", "wati", "mi", "nem", "rah", "ah", "ni")

STREETS = (
    "Mawar", "Melati", "Kenanga", "Anggrek", "Flamboyan", "Merdeka", "Pahlawan", "Sudirman",
    "Diponegoro", "Kartini", "Masjid", "Raya", "Pasar", "Sekolah", "Pemuda", "Veteran", "Ahmad Yani",
    "Imam Bonjol", "Cempaka", "Dahlia", "Kelapa", "Nangka", "Mangga", "Durian", "Rambutan",
    "Kebon Jeruk", "Swadaya", "Gotong Royong", "Bhakti", "Karya", "Pelita", "Irigasi", "Lingkar",
)  # fmt: skip
DUSUN = (
    "Krajan", "Kidul", "Lor", "Wetan", "Kulon", "Tengah", "Sukamaju", "Sukamulya", "Mekarsari",
    "Sidomulyo", "Karanganyar", "Tegalsari", "Sumbersari", "Sukarame", "Cibodas", "Babakan", "Pasir",
    "Tanjung", "Harapan Jaya", "Sido Rukun", "Mulyorejo", "Sumberejo", "Bojong", "Ciherang", "Banjar",
)  # fmt: skip

_A = {name: pa.array(values, pa.string()) for name, values in {
    "male": MALE, "female": FEMALE, "second_male": SECOND_MALE, "second_female": SECOND_FEMALE,
    "marga": MARGA, "s_start": SYLLABLE_START, "s_mid": SYLLABLE_MIDDLE, "s_end_m": SYLLABLE_END_MALE,
    "s_end_f": SYLLABLE_END_FEMALE, "streets": STREETS, "dusun": DUSUN,
}.items()}  # fmt: skip
_PREFIX = pa.array(["Jl. ", "Gg. ", "Dusun ", "Kp. "], pa.string())
SUMATERA_UTARA = "12"


def _pick(s: Stream, name: str, n: int, values: str) -> pa.Array:
    arr = _A[values]
    return arr.take(s.integers(name, n, 0, len(arr) - 1))


def person_names(s: Stream, female: pa.Array, batak: pa.Array) -> pa.Array:
    """Upper-case names: a given name (list or syllables), often a second name, a marga in North Sumatra."""
    n = len(female)
    given = pc.if_else(female, _pick(s, "nm_f", n, "female"), _pick(s, "nm_m", n, "male"))
    syll = pc.binary_join_element_wise(
        _pick(s, "nm_s1", n, "s_start"),
        _pick(s, "nm_s2", n, "s_mid"),
        pc.if_else(female, _pick(s, "nm_s3f", n, "s_end_f"), _pick(s, "nm_s3m", n, "s_end_m")),
        "",
    )
    first = pc.if_else(s.bernoulli("nm_syl", n, 0.25), syll, given)
    second = pc.if_else(female, _pick(s, "nm_2f", n, "second_female"), _pick(s, "nm_2m", n, "second_male"))
    second = pc.if_else(pc.and_(batak, s.bernoulli("nm_batak", n, 0.6)), _pick(s, "nm_marga", n, "marga"), second)
    has_second = s.bernoulli("nm_has2", n, 0.55)
    full = pc.if_else(has_second, pc.binary_join_element_wise(first, second, " "), first)
    return pc.utf8_upper(full)


def addresses(s: Stream, kelurahan: pa.Array) -> pa.Array:
    """``Jl. Mawar No. 12 RT 003 RW 002`` in towns, ``Dusun Krajan RT 001 RW 004`` in villages."""
    n = len(kelurahan)
    u = s.uniform("addr_kind", n)
    # kelurahan: Jl. 75 %, Gg. 25 %; desa: Jl. 25 %, Dusun 55 %, Kp. 20 %
    kind_kel = pc.if_else(pc.less(u, 0.75), 0, 1)
    kind_desa = pc.if_else(pc.less(u, 0.25), 0, pc.if_else(pc.less(u, 0.80), 2, 3))
    kind = pc.cast(pc.if_else(kelurahan, kind_kel, kind_desa), pa.int64())
    street = pc.less(kind, 2)
    place = pc.if_else(street, _pick(s, "addr_street", n, "streets"), _pick(s, "addr_dusun", n, "dusun"))
    number = pc.cast(s.integers("addr_no", n, 1, 150), pa.string())
    no_part = pc.if_else(street, pc.binary_join_element_wise(" No. ", number, ""), "")
    rt = pc.utf8_lpad(pc.cast(s.integers("addr_rt", n, 1, 15), pa.string()), 3, "0")
    rw = pc.utf8_lpad(pc.cast(s.integers("addr_rw", n, 1, 9), pa.string()), 3, "0")
    return pc.binary_join_element_wise(_PREFIX.take(kind), place, no_part, " RT ", rt, " RW ", rw, "")
