"""Kemendagri regions for synthetic data: the real village codes and names, with plausible weights.

Where P3KE families live is weighted by province (population x a share in the national bottom 40 %
that grows with the province's poverty rate), then spread over the province's villages: a kelurahan
(urban, code digit 7 = 1) counts 2.5x a desa, times a fixed per-village jitter so that villages differ.
The province figures are rounded approximations of BPS 2023 statistics, used only for weighting.
"""

from __future__ import annotations

import csv
import hashlib
import io
import statistics
from dataclasses import dataclass
from functools import cache

import pyarrow as pa

from p3ke_ingest.synth.rng import AliasTable
from p3ke_platform.reference.wilayah import wilayah_csv_text

# province code -> (population in millions, poverty rate %), rounded BPS 2023 approximations
PROVINCE_STATS: dict[str, tuple[float, float]] = {
    "11": (5.48, 14.5), "12": (15.39, 8.2), "13": (5.64, 6.0), "14": (6.64, 6.7), "15": (3.68, 7.6),
    "16": (8.74, 11.8), "17": (2.09, 14.0), "18": (9.31, 11.1), "19": (1.49, 4.5), "21": (2.15, 5.7),
    "31": (10.67, 4.4), "32": (49.86, 7.6), "33": (37.54, 10.8), "34": (3.74, 11.0), "35": (41.53, 10.4),
    "36": (12.31, 6.2), "51": (4.35, 4.3), "52": (5.56, 13.9), "53": (5.47, 20.0), "61": (5.54, 6.7),
    "62": (2.74, 5.1), "63": (4.22, 4.3), "64": (3.86, 6.1), "65": (0.72, 6.5), "71": (2.66, 7.4),
    "72": (3.09, 12.4), "73": (9.36, 8.7), "74": (2.75, 11.4), "75": (1.20, 15.2), "76": (1.47, 11.5),
    "81": (1.88, 16.4), "82": (1.33, 6.5), "91": (1.06, 26.0), "92": (0.56, 20.5), "93": (0.52, 20.2),
    "94": (1.45, 29.8), "95": (1.45, 37.1), "96": (0.61, 18.1),
}  # fmt: skip
_DEFAULT_STATS = (2.0, 10.0)
KELURAHAN_FACTOR = 2.5


@cache
def wilayah_codes() -> frozenset[str]:
    """Every code in the reference table (all levels)."""
    return frozenset(row["kode"] for row in csv.DictReader(io.StringIO(wilayah_csv_text())))


def bottom40_share(poverty_pct: float) -> float:
    """Plausible share of a province's population in the national bottom 40 %."""
    return min(0.85, 0.15 + 2.2 * poverty_pct / 100.0)


@dataclass(frozen=True)
class Regions:
    """Arrow lookup arrays indexed by village / district / province number."""

    province_codes: tuple[str, ...]
    province_poverty: tuple[float, ...]  # per province index
    district_codes: pa.Array  # string, 6 digits, sorted (all districts, whatever the filter)
    district_province: pa.Array  # int64 province index per district
    province_district_start: pa.Array  # int64 per province: first district index
    province_district_count: pa.Array  # int64 per province: number of districts
    village_code: pa.Array  # string, 10 digits
    village_name: pa.Array  # string, upper case
    village_kecamatan: pa.Array
    village_kabupaten: pa.Array
    village_provinsi: pa.Array
    village_district: pa.Array  # int64 district index
    village_province: pa.Array  # int64 province index
    village_kelurahan: pa.Array  # bool
    villages: AliasTable  # residence, over the selected provinces
    districts: AliasTable  # NIK origin elsewhere, national
    all_codes: frozenset[str]

    @property
    def n_districts(self) -> int:
        return len(self.district_codes)

    @property
    def n_villages(self) -> int:
        return len(self.village_code)


def _jitter(code: str) -> float:
    """A fixed lognormal factor per village (sigma 0.6), independent of the run's seed."""
    h = int.from_bytes(hashlib.blake2b(code.encode(), digest_size=8).digest(), "big")
    u = (h + 0.5) / 2.0**64
    return 2.718281828459045 ** (0.6 * statistics.NormalDist().inv_cdf(u))


@cache
def load_regions(provinces: tuple[str, ...] | None = None) -> Regions:
    """Regions for residence, restricted to ``provinces`` (2-digit codes) when given."""
    names: dict[str, str] = {}
    province_list: list[str] = []
    districts: list[str] = []
    villages: list[str] = []
    for row in csv.DictReader(io.StringIO(wilayah_csv_text())):
        code, level = row["kode"], row["tingkat"]
        names[code] = row["nama"].strip().upper()
        if level == "1":
            province_list.append(code)
        elif level == "3":
            districts.append(code)
        elif level == "4":
            villages.append(code)
    province_list.sort()
    districts.sort()
    if provinces is not None:
        unknown = sorted(set(provinces) - set(province_list))
        if unknown:
            raise ValueError(f"unknown province code(s): {', '.join(unknown)}")
        villages = [v for v in villages if v[:2] in provinces]
    villages.sort()
    prov_index = {c: i for i, c in enumerate(province_list)}
    dist_index = {c: i for i, c in enumerate(districts)}

    # district ranges per province (districts sorted, so each province is contiguous)
    start = [0] * len(province_list)
    count = [0] * len(province_list)
    for i, d in enumerate(districts):
        p = prov_index[d[:2]]
        if count[p] == 0:
            start[p] = i
        count[p] += 1

    # weights: province mass spread over its villages
    raw = [(KELURAHAN_FACTOR if v[6] == "1" else 1.0) * _jitter(v) for v in villages]
    prov_raw_total = [0.0] * len(province_list)
    for v, w in zip(villages, raw, strict=True):
        prov_raw_total[prov_index[v[:2]]] += w
    prov_mass = []
    for p in province_list:
        pop, pov = PROVINCE_STATS.get(p, _DEFAULT_STATS)
        prov_mass.append(pop * bottom40_share(pov))
    weights = [
        w / prov_raw_total[prov_index[v[:2]]] * prov_mass[prov_index[v[:2]]] for v, w in zip(villages, raw, strict=True)
    ]

    # national district weights for NIKs first issued elsewhere (always all provinces)
    if provinces is None:
        all_villages, all_weights = villages, weights
    else:
        full = load_regions(None)
        all_villages = full.village_code.to_pylist()
        all_weights = None
    if all_weights is not None:
        dist_w = [0.0] * len(districts)
        for v, w in zip(all_villages, all_weights, strict=True):
            dist_w[dist_index[v[:6]]] += w
        district_alias = AliasTable(dist_w)
    else:
        district_alias = full.districts

    return Regions(
        province_codes=tuple(province_list),
        province_poverty=tuple(PROVINCE_STATS.get(p, _DEFAULT_STATS)[1] for p in province_list),
        district_codes=pa.array(districts, pa.string()),
        district_province=pa.array([prov_index[d[:2]] for d in districts], pa.int64()),
        province_district_start=pa.array(start, pa.int64()),
        province_district_count=pa.array(count, pa.int64()),
        village_code=pa.array(villages, pa.string()),
        village_name=pa.array([names[v] for v in villages], pa.string()),
        village_kecamatan=pa.array([names[v[:6]] for v in villages], pa.string()),
        village_kabupaten=pa.array([names[v[:4]] for v in villages], pa.string()),
        village_provinsi=pa.array([names[v[:2]] for v in villages], pa.string()),
        village_district=pa.array([dist_index[v[:6]] for v in villages], pa.int64()),
        village_province=pa.array([prov_index[v[:2]] for v in villages], pa.int64()),
        village_kelurahan=pa.array([v[6] == "1" for v in villages], pa.bool_()),
        villages=AliasTable(weights),
        districts=district_alias,
        all_codes=frozenset(names),
    )
