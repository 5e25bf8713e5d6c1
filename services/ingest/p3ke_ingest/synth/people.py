"""Synthetic P3KE families and their members, one chunk at a time, vectorised on Arrow arrays.

A chunk of F families is drawn family-first (village, desil, household size, head's sex and age,
marriage, housing, programs, No. KK), then expanded into members (relationship, sex, age, birth date,
NIK, name, marital status, occupation, education, flags). Every draw comes from a named random stream
keyed by (seed, chunk), so a chunk's content depends only on the seed and its index.

Guarantees (tested): one ``Kepala Keluarga`` per family, at position 1; members share the family's
region, address, desil, persentil, No. KK and program flags; NIK = district (the residence district,
or for ~12 % another one) + birth date (day + 40 for women) + serial, unique over the whole run;
No. KK = residence district + issue date + serial, unique; ``umur`` and ``usia_*`` follow the birth
date at the reference date.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from p3ke_ingest import p3ke_columns as cols
from p3ke_ingest.synth.names import SUMATERA_UTARA, addresses, person_names
from p3ke_ingest.synth.regions import Regions
from p3ke_ingest.synth.rng import CategoricalTable, SequenceCounter, Stream, arange

EPOCH = dt.date(1970, 1, 1)
NIK_OTHER_DISTRICT = 0.12  # share of NIKs first issued in another district than the residence
NIK_OTHER_SAME_PROVINCE = 0.6  # of those, share from the same province
PADAN_DUKCAPIL = 0.90
MAX_AGE = 100
NIK_YEARS = 111  # birth years covered by the NIK serial counters
KK_YEARS = 16  # No. KK issued in the last 16 years


def _interp4(first: Sequence[float], last: Sequence[float]) -> list[list[float]]:
    """Four distributions (desil 1..4) moving linearly from ``first`` to ``last``."""
    return [[a + (b - a) * d / 3 for a, b in zip(first, last, strict=True)] for d in range(4)]


# -- vocabularies and distributions ------------------------------------------------------------------
HOUSEHOLD_SIZE = CategoricalTable(
    [  # sizes 1..10 by desil
        [5, 11, 18, 22, 18, 12, 7, 4, 2, 1],
        [7, 14, 21, 24, 16, 9, 5, 2, 1, 1],
        [9, 16, 22, 24, 15, 8, 3, 1.5, 1, 0.5],
        [11, 18, 23, 24, 13, 6, 3, 1, 0.5, 0.5],
    ]
)
AGE_BANDS = ((18, 24), (25, 29), (30, 34), (35, 39), (40, 44), (45, 49), (50, 54), (55, 59), (60, 64),
             (65, 69), (70, 74), (75, 79), (80, 89))  # fmt: skip
HEAD_AGE_BAND = CategoricalTable(
    [
        [2, 6, 10, 12, 13, 13, 12, 10, 8, 6, 4, 2.5, 1.5],  # household of 2+
        [3, 4, 4, 4, 4, 5, 6, 8, 11, 13, 14, 12, 12],  # living alone: older
    ]
)
_BAND_LO = pa.array([b[0] for b in AGE_BANDS], pa.int64())
_BAND_HI = pa.array([b[1] for b in AGE_BANDS], pa.int64())

# members other than head and spouse: Anak, Menantu, Cucu, Orang Tua, Mertua, Famili Lain, Lainnya
OTHER_RELATION = CategoricalTable(
    [
        [86, 0, 0, 4, 3, 6, 1],  # head under 45
        [80, 5, 8, 2, 1, 4, 0],  # 45-59
        [45, 12, 35, 0, 0, 7, 1],  # 60+
    ]
)
# codes into HUBUNGAN_DENGAN_KEPALA_KELUARGA
REL_KEPALA, REL_ISTRI, REL_SUAMI, REL_ANAK, REL_MENANTU, REL_CUCU = range(6)
REL_ORTU, REL_MERTUA, REL_FAMILI, REL_LAIN = range(6, 10)
_HUBUNGAN = pa.array(cols.HUBUNGAN_DENGAN_KEPALA_KELUARGA, pa.string())
_P_FEMALE_BY_REL = pa.array([0.0, 1.0, 0.0, 0.49, 0.7, 0.49, 0.65, 0.65, 0.49, 0.49], pa.float64())

STATUS_KAWIN = CategoricalTable(
    [  # Belum Kawin, Kawin, Cerai Hidup, Cerai Mati
        [0, 1, 0, 0],  # 0 married head, spouse, menantu
        [8, 0, 27, 65],  # 1 unmarried female head
        [30, 0, 30, 40],  # 2 unmarried male head
        [85, 0, 12, 3],  # 3 unmarried head under 30
        [1, 0, 0, 0],  # 4 under 17
        [85, 13, 2, 0],  # 5 17-24
        [45, 48, 6, 1],  # 6 25-34
        [25, 62, 8, 5],  # 7 35+
        [0, 30, 5, 65],  # 8 parents / parents-in-law
    ]
)
_STATUS_KAWIN = pa.array(cols.STATUS_KAWIN, pa.string())

PEKERJAAN = (
    "Belum/Tidak Bekerja", "Pelajar/Mahasiswa", "Mengurus Rumah Tangga", "Petani/Pekebun",
    "Buruh Tani/Perkebunan", "Nelayan/Perikanan", "Peternak", "Buruh Harian Lepas", "Pedagang",
    "Wiraswasta", "Karyawan Swasta", "Sopir", "Tukang", "Pensiunan", "Lainnya",
)  # fmt: skip
PEKERJAAN_TABLE = CategoricalTable(
    [
        [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],  # 0 under 5
        [12, 84, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 1],  # 1 5-17
        [22, 18, 8, 8, 6, 1, 1, 14, 4, 4, 9, 1, 2, 0, 2],  # 2 18-22
        [4, 0, 0, 24, 10, 4, 2, 22, 6, 9, 8, 3, 6, 0, 2],  # 3 men 23-59
        [4, 0, 52, 10, 6, 0.5, 0.5, 7, 10, 4, 4, 0, 0, 0, 2],  # 4 women 23-59
        [30, 0, 0, 35, 8, 2, 3, 8, 5, 3, 0, 0, 1, 3, 2],  # 5 men 60+
        [30, 0, 35, 18, 4, 0, 0, 4, 6, 1, 0, 0, 0, 1, 1],  # 6 women 60+
    ]
)
_PEKERJAAN = pa.array(PEKERJAAN, pa.string())
_BUSINESS_JOBS = pa.array([3, 5, 6, 8, 9], pa.int64())  # farmer, fisher, breeder, trader, entrepreneur

STATUS_PEKERJAAN = (
    "Berusaha Sendiri", "Berusaha Dibantu Buruh Tidak Tetap/Tidak Dibayar",
    "Berusaha Dibantu Buruh Tetap/Dibayar", "Buruh/Karyawan/Pegawai", "Pekerja Bebas",
    "Pekerja Keluarga/Tidak Dibayar", "Tidak Bekerja",
)  # fmt: skip
_TB = [0, 0, 0, 0, 0, 0, 1]
STATUS_PEKERJAAN_TABLE = CategoricalTable(
    [  # by pekerjaan code
        _TB, _TB, _TB,
        [55, 20, 3, 0, 0, 22, 0], [0, 0, 0, 15, 85, 0, 0], [50, 20, 3, 10, 10, 7, 0],
        [60, 15, 2, 0, 0, 23, 0], [0, 0, 0, 15, 85, 0, 0], [70, 15, 3, 0, 0, 12, 0],
        [65, 20, 10, 0, 0, 5, 0], [0, 0, 0, 1, 0, 0, 0], [15, 0, 0, 50, 35, 0, 0],
        [20, 0, 0, 20, 60, 0, 0], _TB, [30, 5, 0, 25, 30, 10, 0],
    ]
)  # fmt: skip
_STATUS_PEKERJAAN = pa.array(STATUS_PEKERJAAN, pa.string())

PENDIDIKAN = (
    "Tidak/Belum Sekolah", "Belum Tamat SD/Sederajat", "Tamat SD/Sederajat", "SLTP/Sederajat",
    "SLTA/Sederajat", "Diploma I/II", "Akademi/Diploma III/Sarjana Muda", "Diploma IV/Strata I",
    "Strata II",
)  # fmt: skip
PENDIDIKAN_TABLE = CategoricalTable(
    [
        [92, 8, 0, 0, 0, 0, 0, 0, 0],  # under 7
        [3, 97, 0, 0, 0, 0, 0, 0, 0],  # 7-12
        [2, 10, 80, 8, 0, 0, 0, 0, 0],  # 13-15
        [2, 6, 27, 55, 10, 0, 0, 0, 0],  # 16-18
        [2, 5, 30, 30, 30, 0.5, 0.5, 1.8, 0.2],  # 19-39
        [6, 15, 45, 17, 15, 0.3, 0.5, 1.1, 0.1],  # 40-59
        [30, 30, 30, 5, 4.5, 0, 0, 0.5, 0],  # 60+
    ]
)
_PENDIDIKAN = pa.array(PENDIDIKAN, pa.string())

HOUSING: dict[str, tuple[tuple[str, ...], Sequence[float], Sequence[float]]] = {
    # column: (values, weights for desil 1, weights for desil 4); desil 2-3 interpolated
    "kepemilikan_rumah": (
        ("Milik Sendiri", "Kontrak/Sewa", "Bebas Sewa", "Dinas", "Lainnya"),
        (78, 5, 14, 0.5, 2.5), (80, 10, 8, 1, 1),
    ),
    "jenis_atap": (
        ("Genteng", "Seng", "Asbes", "Beton", "Sirap", "Ijuk/Rumbia", "Lainnya"),
        (40, 35, 8, 1, 3, 10, 3), (55, 28, 10, 3, 2, 1, 1),
    ),
    "jenis_dinding": (
        ("Tembok", "Plesteran Anyaman Bambu/Kawat", "Kayu/Papan", "Anyaman Bambu", "Batang Kayu", "Lainnya"),
        (45, 5, 28, 15, 4, 3), (70, 3, 18, 6, 2, 1),
    ),
    "jenis_lantai": (
        ("Keramik", "Ubin/Tegel/Teraso", "Semen/Bata Merah", "Kayu/Papan", "Bambu", "Tanah", "Lainnya"),
        (25, 5, 30, 15, 4, 19, 2), (45, 6, 30, 12, 2, 4, 1),
    ),
    "sumber_penerangan": (
        ("Listrik PLN Dengan Meteran", "Listrik PLN Tanpa Meteran", "Listrik Non PLN", "Bukan Listrik"),
        (75, 15, 4, 6), (90, 7, 2, 1),
    ),
    "bahan_bakar_memasak": (
        ("Listrik/Gas", "Minyak Tanah", "Arang/Kayu", "Lainnya"),
        (60, 4, 34, 2), (80, 3, 16, 1),
    ),
    "sumber_air_minum": (
        ("Air Kemasan/Isi Ulang", "Ledeng/PAM", "Sumur Bor/Pompa", "Sumur Terlindung", "Sumur Tak Terlindung",
         "Mata Air Terlindung", "Mata Air Tak Terlindung", "Air Sungai/Danau", "Air Hujan", "Lainnya"),
        (22, 8, 20, 20, 9, 9, 5, 3, 2, 2), (35, 10, 22, 18, 4, 6, 2, 1, 1, 1),
    ),
    "memiliki_fasilitas_buang_air_besar": (
        ("Ya Dengan Septic Tank", "Ya Tanpa Septic Tank", "Jamban Umum/Bersama", "Tidak Ada"),
        (55, 20, 10, 15), (75, 13, 7, 5),
    ),
}  # fmt: skip
_HOUSING_TABLES = {
    name: (pa.array(values, pa.string()), CategoricalTable(_interp4(w1, w4)))
    for name, (values, w1, w4) in HOUSING.items()
}
# probability by desil 1..4 (index 0..3)
P_PKH = pa.array([0.42, 0.30, 0.20, 0.12])
P_BPNT = pa.array([0.55, 0.45, 0.35, 0.25])
P_BST = pa.array([0.25, 0.18, 0.12, 0.08])
P_BPUM = pa.array([0.08, 0.08, 0.07, 0.06])
P_SIMPANAN = pa.array([0.08, 0.12, 0.18, 0.25])
P_STUNTING_U5 = pa.array([0.55, 0.45, 0.35, 0.28])

# -- Arrow schemas of the two files ----------------------------------------------------------------------
_TYPES: dict[str, pa.DataType] = {
    "desil_kesejahteraan": pa.int8(),
    "persentil": pa.int8(),
    "umur": pa.int16(),
    "tanggal_lahir": pa.date32(),
}
FAMILY_SCHEMA = pa.schema([(c, _TYPES.get(c, pa.string())) for c in cols.FAMILY_COLUMNS])
INDIVIDUAL_SCHEMA = pa.schema([(c, _TYPES.get(c, pa.string())) for c in cols.INDIVIDUAL_COLUMNS])


def _yn(mask: pa.Array) -> pa.Array:
    return pc.if_else(mask, cols.YA, cols.TIDAK)


def _pad(values: pa.Array, width: int) -> pa.Array:
    return pc.utf8_lpad(pc.cast(values, pa.string()), width, "0")


def _i64(values: pa.Array) -> pa.Array:
    return pc.cast(values, pa.int64())


def _between(values: pa.Array, lo: int, hi: int) -> pa.Array:
    return pc.and_(pc.greater_equal(values, lo), pc.less_equal(values, hi))


class SerialOverflow(RuntimeError):
    """A serial ran past 9999 (would need more than 9999 people with one district, birth year, sex)."""


class PeopleGenerator:
    """Generates chunks of families; keeps the counters that make NIKs, No. KKs and IDs unique."""

    def __init__(self, regions: Regions, seed: int, reference_date: dt.date) -> None:
        self.regions = regions
        self.seed = seed
        self.ref = reference_date
        self.ref_days = (reference_date - EPOCH).days
        self.ref_md = reference_date.month * 100 + reference_date.day
        self.first_birth_year = reference_date.year - NIK_YEARS + 1
        self.first_kk_year = reference_date.year - KK_YEARS + 1
        self._nik_counter = SequenceCounter(regions.n_districts * NIK_YEARS * 2)
        self._kk_counter = SequenceCounter(regions.n_districts * KK_YEARS)
        self._family_counter = SequenceCounter(regions.n_villages)
        # desil thresholds by province: poorer provinces have more desil-1 families
        c1, c2, c3 = [], [], []
        for pov in regions.province_poverty:
            a = min(3.0, max(0.4, pov / 10.0))
            w = [a, 1.0, 1.0, 1.0 / math.sqrt(a)]
            t = sum(w)
            c1.append(w[0] / t)
            c2.append((w[0] + w[1]) / t)
            c3.append((w[0] + w[1] + w[2]) / t)
        self._desil_cut = (pa.array(c1), pa.array(c2), pa.array(c3))

    # -- one chunk ----------------------------------------------------------------------------------
    def chunk(self, index: int, n_families: int, max_individuals: int | None = None) -> tuple[pa.Table, pa.Table]:
        """Family table and individual table of chunk ``index`` (``FAMILY_SCHEMA``, ``INDIVIDUAL_SCHEMA``).

        With ``max_individuals``, stops once that many members are made: families past it are
        dropped and the last one is cut short (its head always stays).
        """
        s = Stream("p3ke-synth", self.seed, index)
        r = self.regions
        n = n_families

        # -- families ------------------------------------------------------------------------------
        village = r.villages.sample(s.uniform("village1", n), s.uniform("village2", n))
        province = r.village_province.take(village)
        u = s.uniform("desil", n)
        c1, c2, c3 = (c.take(province) for c in self._desil_cut)
        desil0 = pc.add(
            pc.add(_i64(pc.greater_equal(u, c1)), _i64(pc.greater_equal(u, c2))), _i64(pc.greater_equal(u, c3))
        )  # 0..3
        size = pc.add(s.choice("size", HOUSEHOLD_SIZE, desil0), 1)

        if max_individuals is not None:
            ends = pc.cumulative_sum(size)
            if pc.max(ends).as_py() > max_individuals:
                keep = pc.sum(_i64(pc.less(pc.subtract(ends, size), max_individuals))).as_py()
                n = keep
                village, province, desil0 = village.slice(0, n), province.slice(0, n), desil0.slice(0, n)
                before = pc.subtract(ends, size).slice(0, n)
                size = pc.min_element_wise(size.slice(0, n), pc.subtract(max_individuals, before))

        district = r.village_district.take(village)
        kelurahan = r.village_kelurahan.take(village)
        single = pc.equal(size, 1)
        head_female = pc.less(s.uniform("head_sex", n), pc.if_else(single, 0.45, 0.12))
        band = s.choice("head_band", HEAD_AGE_BAND, _i64(single))
        head_age = s.integers("head_age", n, _BAND_LO.take(band), _BAND_HI.take(band))
        married = pc.and_(
            pc.greater_equal(size, 2), pc.less(s.uniform("married", n), pc.if_else(head_female, 0.10, 0.92))
        )

        # -- members --------------------------------------------------------------------------------
        offsets = pa.concat_arrays([pa.array([0], pa.int64()), pc.cumulative_sum(size)])
        m = offsets[-1].as_py()
        parent = _i64(pc.list_parent_indices(pa.LargeListArray.from_arrays(offsets, pa.nulls(m, pa.int8()))))
        pos = pc.subtract(arange(m), offsets.take(parent))
        h = head_age.take(parent)
        hf = head_female.take(parent)

        age_group = pc.add(_i64(pc.greater_equal(h, 45)), _i64(pc.greater_equal(h, 60)))
        other = pc.add(s.choice("relation", OTHER_RELATION, age_group), REL_ANAK)
        is_head = pc.equal(pos, 0)
        is_spouse = pc.and_(pc.equal(pos, 1), married.take(parent))
        rel = pc.if_else(is_head, REL_KEPALA, pc.if_else(is_spouse, pc.if_else(hf, REL_SUAMI, REL_ISTRI), other))

        female = pc.if_else(is_head, hf, pc.less(s.uniform("sex", m), _P_FEMALE_BY_REL.take(rel)))

        lo = pc.choose(
            rel,
            h,  # kepala
            pc.max_element_wise(17, pc.subtract(h, 8)),  # istri
            pc.max_element_wise(17, pc.subtract(h, 2)),  # suami
            pc.max_element_wise(0, pc.subtract(h, 45)),  # anak
            pc.max_element_wise(17, pc.subtract(h, 45)),  # menantu
            0,  # cucu
            pc.min_element_wise(95, pc.add(h, 18)),  # orang tua
            pc.min_element_wise(95, pc.add(h, 18)),  # mertua
            0,  # famili lain
            15,  # lainnya
        )
        hi = pc.choose(
            rel,
            h,
            pc.add(h, 2),
            pc.add(h, 8),
            pc.subtract(h, 17),
            pc.subtract(h, 18),
            pc.min_element_wise(25, pc.subtract(h, 38)),
            pc.min_element_wise(MAX_AGE, pc.add(h, 35)),
            pc.min_element_wise(MAX_AGE, pc.add(h, 35)),
            75,
            60,
        )
        hi = pc.max_element_wise(lo, hi)
        age_drawn = s.integers("age", m, lo, hi)

        # birth date: somewhere in the year before the `age_drawn`-th birthday
        back = pc.add(
            _i64(pc.floor(pc.multiply(pc.cast(age_drawn, pa.float64()), 365.2425))),
            s.integers("birth_day", m, 0, 364),
        )
        birth_days = pc.subtract(self.ref_days, back)
        tanggal_lahir = pc.cast(pc.cast(birth_days, pa.int32()), pa.date32())
        by, bm, bd = _i64(pc.year(tanggal_lahir)), _i64(pc.month(tanggal_lahir)), _i64(pc.day(tanggal_lahir))
        after_ref = _i64(pc.greater(pc.add(pc.multiply(bm, 100), bd), self.ref_md))
        umur = pc.subtract(pc.subtract(self.ref.year, by), after_ref)

        # NIK: district of first issue + DDMMYY (women: day + 40) + serial unique per (district, year, sex)
        u_origin = s.uniform("nik_origin", m)
        home = district.take(parent)
        prov_m = province.take(parent)
        same_prov = pc.add(
            r.province_district_start.take(prov_m),
            s.integers("nik_prov_d", m, 0, pc.subtract(r.province_district_count.take(prov_m), 1)),
        )
        national = r.districts.sample(s.uniform("nik_nat1", m), s.uniform("nik_nat2", m))
        elsewhere = pc.if_else(pc.less(s.uniform("nik_where", m), NIK_OTHER_SAME_PROVINCE), same_prov, national)
        nik_district = pc.if_else(pc.less(u_origin, NIK_OTHER_DISTRICT), elsewhere, home)
        fem_i = _i64(female)
        key = pc.add(
            pc.multiply(pc.add(pc.multiply(nik_district, NIK_YEARS), pc.subtract(by, self.first_birth_year)), 2),
            fem_i,
        )
        serial = pc.add(self._nik_counter.next(key), 1)
        if pc.max(serial).as_py() > 9999:
            raise SerialOverflow("more than 9999 NIKs for one district, birth year and sex")
        nik = pc.binary_join_element_wise(
            r.district_codes.take(nik_district),
            _pad(pc.add(bd, pc.multiply(fem_i, 40)), 2),
            _pad(bm, 2),
            pc.utf8_slice_codeunits(pc.cast(by, pa.string()), 2),
            _pad(serial, 4),
            "",
        )

        # status kawin
        head_unmarried = pc.and_(is_head, pc.invert(married.take(parent)))
        sk_group = pc.case_when(
            pc.make_struct(
                pc.or_(pc.and_(is_head, married.take(parent)), _between(rel, REL_ISTRI, REL_SUAMI)),
                pc.equal(rel, REL_MENANTU),
                pc.and_(head_unmarried, pc.less(umur, 30)),
                pc.and_(head_unmarried, hf),
                head_unmarried,
                _between(rel, REL_ORTU, REL_MERTUA),
                pc.less(umur, 17),
                pc.less(umur, 25),
                pc.less(umur, 35),
            ),
            0, 0, 3, 1, 2, 8, 4, 5, 6, 7,
        )  # fmt: skip
        status_kawin = _STATUS_KAWIN.take(s.choice("status_kawin", STATUS_KAWIN, _i64(sk_group)))

        job_group = pc.case_when(
            pc.make_struct(
                pc.less(umur, 5), pc.less(umur, 18), pc.less(umur, 23),
                pc.and_(pc.less(umur, 60), pc.invert(female)), pc.less(umur, 60), pc.invert(female),
            ),
            0, 1, 2, 3, 4, 5, 6,
        )  # fmt: skip
        job = s.choice("pekerjaan", PEKERJAAN_TABLE, _i64(job_group))
        job_status = s.choice("status_pekerjaan", STATUS_PEKERJAAN_TABLE, job)
        edu_group = pc.case_when(
            pc.make_struct(
                pc.less(umur, 7), pc.less(umur, 13), pc.less(umur, 16), pc.less(umur, 19),
                pc.less(umur, 40), pc.less(umur, 60),
            ),
            0, 1, 2, 3, 4, 5, 6,
        )  # fmt: skip
        edu = s.choice("pendidikan", PENDIDIKAN_TABLE, _i64(edu_group))

        batak = pc.equal(pc.utf8_slice_codeunits(r.village_code.take(village), 0, 2), SUMATERA_UTARA)
        nama = person_names(s, female, batak.take(parent))
        padan = _yn(s.bernoulli("padan", m, PADAN_DUKCAPIL))

        # -- family attributes that depend on members ----------------------------------------------
        under5 = pc.cumulative_sum(_i64(pc.less(umur, 5)))
        under5 = pa.concat_arrays([pa.array([0], pa.int64()), under5])
        has_u5 = pc.greater(pc.subtract(under5.take(offsets.slice(1)), under5.take(offsets.slice(0, n))), 0)
        stunting = _yn(pc.less(s.uniform("stunting", n), pc.if_else(has_u5, P_STUNTING_U5.take(desil0), 0.04)))
        pkh = _yn(pc.less(s.uniform("pkh", n), P_PKH.take(desil0)))
        bpnt_b = pc.less(s.uniform("bpnt", n), P_BPNT.take(desil0))
        sembako = _yn(pc.less(s.uniform("sembako", n), pc.if_else(bpnt_b, 0.9, 0.05)))
        bst = _yn(pc.less(s.uniform("bst", n), P_BST.take(desil0)))
        bpum_b = pc.less(s.uniform("bpum", n), P_BPUM.take(desil0))
        bpnt, bpum = _yn(bpnt_b), _yn(bpum_b)

        # No. KK: residence district + issue date + serial unique per (district, issue year)
        kk_first = (dt.date(self.first_kk_year, 1, 1) - EPOCH).days
        kk_days = s.integers("kk_date", n, kk_first, self.ref_days)
        kk_date = pc.cast(pc.cast(kk_days, pa.int32()), pa.date32())
        ky, km, kd = _i64(pc.year(kk_date)), _i64(pc.month(kk_date)), _i64(pc.day(kk_date))
        kk_serial = pc.add(
            self._kk_counter.next(pc.add(pc.multiply(district, KK_YEARS), pc.subtract(ky, self.first_kk_year))), 1
        )
        if pc.max(kk_serial).as_py() > 9999:
            raise SerialOverflow("more than 9999 No. KK for one district and issue year")
        no_kk = pc.binary_join_element_wise(
            r.district_codes.take(district),
            _pad(kd, 2),
            _pad(km, 2),
            pc.utf8_slice_codeunits(pc.cast(ky, pa.string()), 2),
            _pad(kk_serial, 4),
            "",
        )
        kode = r.village_code.take(village)
        fam_seq = pc.add(self._family_counter.next(village), 1)
        id_keluarga = pc.binary_join_element_wise("P", kode, _pad(fam_seq, 5), "")
        desil = pc.cast(pc.add(desil0, 1), pa.int8())
        persentil = pc.cast(pc.add(pc.multiply(desil0, 10), s.integers("persentil", n, 1, 10)), pa.int8())
        alamat = addresses(s, kelurahan)
        region = {
            "provinsi": r.village_provinsi.take(village),
            "kabupaten_kota": r.village_kabupaten.take(village),
            "kecamatan": r.village_kecamatan.take(village),
            "desa_kelurahan": r.village_name.take(village),
            "kode_kemendagri": kode,
        }

        # -- individual file --------------------------------------------------------------------------
        id_individu = pc.binary_join_element_wise(
            "I", pc.utf8_slice_codeunits(id_keluarga.take(parent), 1), _pad(pc.add(pos, 1), 2), ""
        )
        jenis_kelamin = pc.if_else(female, cols.PEREMPUAN, cols.LAKI_LAKI)
        pekerjaan = _PEKERJAAN.take(job)
        pendidikan = _PENDIDIKAN.take(edu)
        ind: dict[str, pa.Array] = {
            "id_keluarga_p3ke": id_keluarga.take(parent),
            "id_individu": id_individu,
            **{k: v.take(parent) for k, v in region.items()},
            "desil_kesejahteraan": desil.take(parent),
            "alamat": alamat.take(parent),
            "nama": nama,
            "nik": nik,
            "padan_dukcapil": padan,
            "jenis_kelamin": jenis_kelamin,
            "hubungan_dengan_kepala_keluarga": _HUBUNGAN.take(rel),
            "tanggal_lahir": tanggal_lahir,
            "status_kawin": status_kawin,
            "pekerjaan": pekerjaan,
            "pendidikan": pendidikan,
        }
        for name, a, b in cols.USIA_FLAGS:
            ind[name] = _yn(_between(umur, a, b if b is not None else 10_000))
        ind["penerima_bpnt"] = bpnt.take(parent)
        ind["penerima_bpum"] = _yn(pc.and_(bpum_b.take(parent), is_head))
        ind["penerima_bst"] = bst.take(parent)
        ind["penerima_pkh"] = pkh.take(parent)
        ind["penerima_sembako"] = sembako.take(parent)
        ind["resiko_stunting"] = stunting.take(parent)
        ind["persentil"] = persentil.take(parent)
        ind["no_kk"] = no_kk.take(parent)
        ind["status_pekerjaan"] = _STATUS_PEKERJAAN.take(job_status)
        ind["umur"] = pc.cast(umur, pa.int16())
        ind["penerima_prakerja"] = _yn(pc.and_(_between(umur, 18, 64), s.bernoulli("prakerja", m, 0.03)))
        p_kur = pc.if_else(pc.is_in(job, _BUSINESS_JOBS), 0.06, 0.01)
        ind["penerima_kur"] = _yn(pc.and_(pc.greater_equal(umur, 21), s.bernoulli("kur", m, p_kur)))
        p_dis = pc.if_else(pc.less(umur, 18), 0.008, pc.if_else(pc.less(umur, 60), 0.015, 0.07))
        ind["disabilitas"] = _yn(s.bernoulli("disabilitas", m, p_dis))
        individuals = pa.Table.from_arrays([ind[c] for c in cols.INDIVIDUAL_COLUMNS], schema=INDIVIDUAL_SCHEMA)

        # -- family file (head's personal fields) -------------------------------------------------------
        heads = offsets.slice(0, n)
        simpanan = _yn(pc.less(s.uniform("simpanan", n), P_SIMPANAN.take(desil0)))
        fam: dict[str, pa.Array] = {
            "id_keluarga_p3ke": id_keluarga,
            **region,
            "desil_kesejahteraan": desil,
            "alamat": alamat,
            "kepala_keluarga": nama.take(heads),
            "nik": nik.take(heads),
            "padan_dukcapil": padan.take(heads),
            "jenis_kelamin": jenis_kelamin.take(heads),
            "tanggal_lahir": tanggal_lahir.take(heads),
            "pekerjaan": pekerjaan.take(heads),
            "pendidikan": pendidikan.take(heads),
            "simpanan_uang_perhiasan_ternak_lainnya": simpanan,
            "penerima_bpnt": bpnt,
            "penerima_bpum": bpum,
            "penerima_bst": bst,
            "penerima_pkh": pkh,
            "penerima_sembako": sembako,
            "resiko_stunting": stunting,
            "persentil": persentil,
            "no_kk": no_kk,
        }
        for name, (values, table) in _HOUSING_TABLES.items():
            fam[name] = values.take(s.choice(name, table, desil0))
        families = pa.Table.from_arrays([fam[c] for c in cols.FAMILY_COLUMNS], schema=FAMILY_SCHEMA)
        return families, individuals
