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

Party 1 (the data provider) sees exact counts and is not limited. Pure: raises `Invalid` with a reason (catalogue
messages of the PO domain `targeting`, Indonesian first).
"""

from __future__ import annotations

from datetime import date

from p3ke_platform.refusal import Joined
from p3ke_schemas import ExtractCriteria
from p3ke_targeting.domain.selection import Invalid, M

AGE_BAND = 5
MAX_REGION_DIGITS = 6
CATEGORY_LEVEL = "province"


def check(criteria: ExtractCriteria, group_by: str, today: date) -> None:
    problems = []
    deep = sorted(c for c in criteria.region_codes if len(c) > MAX_REGION_DIGITS)
    if deep:
        problems.append(M("plan.region_too_deep", codes=", ".join(deep), digits=MAX_REGION_DIGITS))
    if criteria.age_min is not None and criteria.age_min % AGE_BAND:
        problems.append(M("plan.age_min", age_min=criteria.age_min, band=AGE_BAND))
    if criteria.age_max is not None and (criteria.age_max + 1) % AGE_BAND:
        problems.append(M("plan.age_max", age_max=criteria.age_max, band=AGE_BAND))
    categories = criteria.occupation_categories or criteria.education_categories
    below = group_by != CATEGORY_LEVEL or any(len(c) > 2 for c in criteria.region_codes)
    if categories and below:
        problems.append(M("plan.categories_below_province"))
    if criteria.reference_date is not None and criteria.reference_date != today:
        problems.append(M("plan.reference_date", asked=str(criteria.reference_date), today=str(today)))
    if problems:
        raise Invalid(M("plan.problems", problems=Joined(tuple(problems))))
