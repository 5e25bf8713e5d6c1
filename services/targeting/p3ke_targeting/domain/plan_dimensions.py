"""Which tables party 2 may ask planning for: a limited set of dimensions and region levels, so that narrowing a
query until it holds one person is not possible (the cell key method protects what remains).

- **regions**: rows by province, regency or district (kecamatan) at most; `criteria.region_codes` at most at
  district level (6 digits), never a village;
- **desil** (always a dimension), **sex**, and **age** in 5-year bands only: `age_min` a multiple of 5 and `age_max`
  one less than a multiple of 5 (e.g. 20-24, 25-39); the program's own age range still applies;
- **occupation or education** categories only in a province-level table (`group_by` province and region codes of
  provinces only): no occupation/education cross-tabs below province;
- **reference day**: the day of the query; a protected table is not computed on another day (moving the day by a
  few weeks would difference out the people whose birthday falls in between).

Party 1 (the data provider) sees exact counts and is not limited. Pure: raises `Invalid` with a reason.
"""

from __future__ import annotations

from datetime import date

from p3ke_schemas import ExtractCriteria
from p3ke_targeting.domain.selection import Invalid

AGE_BAND = 5
MAX_REGION_DIGITS = 6
CATEGORY_LEVEL = "province"


def check(criteria: ExtractCriteria, group_by: str, today: date) -> None:
    problems = []
    deep = sorted(c for c in criteria.region_codes if len(c) > MAX_REGION_DIGITS)
    if deep:
        problems.append(f"criteria.region_codes {', '.join(deep)}: hitungan perencanaan paling rinci tingkat "
                        f"kecamatan (6 digit), bukan desa / planning counts go down to district level (6 digits) at "
                        f"most, not to villages")
    if criteria.age_min is not None and criteria.age_min % AGE_BAND:
        problems.append(f"criteria.age_min {criteria.age_min}: usia hanya per kelompok {AGE_BAND} tahun, age_min "
                        f"kelipatan {AGE_BAND} (mis. 20) / ages only in {AGE_BAND}-year bands: age_min a multiple of "
                        f"{AGE_BAND} (e.g. 20)")
    if criteria.age_max is not None and (criteria.age_max + 1) % AGE_BAND:
        problems.append(f"criteria.age_max {criteria.age_max}: usia hanya per kelompok {AGE_BAND} tahun, age_max satu "
                        f"kurang dari kelipatan {AGE_BAND} (mis. 24 atau 59) / ages only in {AGE_BAND}-year bands: "
                        f"age_max one less than a multiple of {AGE_BAND} (e.g. 24 or 59)")
    categories = criteria.occupation_categories or criteria.education_categories
    below = group_by != CATEGORY_LEVEL or any(len(c) > 2 for c in criteria.region_codes)
    if categories and below:
        problems.append("kategori pekerjaan atau pendidikan hanya untuk tabel tingkat provinsi (group_by province, "
                        "region_codes provinsi saja) / occupation or education categories only in a province-level "
                        "table (group_by province, region codes of provinces only)")
    if criteria.reference_date is not None and criteria.reference_date != today:
        problems.append(f"criteria.reference_date {criteria.reference_date}: hitungan perencanaan dihitung pada hari "
                        f"ini ({today}); hapus reference_date / planning counts are computed on the day of the query "
                        f"({today}); leave reference_date out")
    if problems:
        raise Invalid("; ".join(problems))
