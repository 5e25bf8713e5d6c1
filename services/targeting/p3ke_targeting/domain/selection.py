"""A request's criteria, checked and merged with its program's eligibility rules into one Selection.

Pure: no I/O, no clock. A request that cannot be served raises `Invalid` with a reason a person can
read (and that holds no personal data): a catalogue message (PO domain `targeting`), Indonesian first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from p3ke_platform.refusal import Joined, Message, messages
from p3ke_schemas import ExtractCriteria
from p3ke_targeting.domain.eligibility import EligibilityRules, ProgramRule
from p3ke_targeting.domain.layout import KNOWN_FIELDS, SEX_VALUES

REFERENCE_WINDOW_DAYS = 31
"""`criteria.reference_date` (the day ages are computed on) may lie at most this many days *before* the day the
request was received (e.g. the first day of the month a program's intake opened), never after it. Eligibility is
never computed on a day the requester picks freely: a later day would let today's minors through an 18-60 rule
(2050-01-01 selected three-year-olds), an earlier one far back would let people through who are too old now."""


M = messages("targeting")


class Invalid(Exception):
    """The request cannot be served as asked; `message` says why (a catalogue message, rendered in the reader's
    language) and `reason` is it in both languages, "Indonesian / English" (extract-prepared, the audit log). A
    plain text is kept as given (a reason already in both languages from elsewhere)."""

    def __init__(self, reason: str | Message) -> None:
        self.message: Message | None = reason if isinstance(reason, Message) else None
        self.reason: str = reason.both() if isinstance(reason, Message) else reason
        super().__init__(self.reason)


def _quoted(values: Iterable[str]) -> str:
    return ", ".join(map(repr, values))


@dataclass(frozen=True)
class Selection:
    program: str
    reference_date: date
    deciles: tuple[int, ...]
    regions: tuple[str, ...] = ()  # prefixes of kode_kemendagri; empty = everywhere
    born_on_or_before: date | None = None  # age >= the lowest age
    born_after: date | None = None  # age <= the highest age
    sex: str | None = None  # the value in jenis_kelamin
    include: dict[str, tuple[str, ...]] = field(default_factory=dict)
    exclude: dict[str, tuple[str, ...]] = field(default_factory=dict)
    exclude_delivered: bool = True
    priority: tuple[str, ...] = ("desil_kesejahteraan", "persentil")
    age_range: tuple[int | None, int | None] = (None, None)

    @property
    def columns(self) -> set[str]:
        """Snapshot columns the filters read."""
        return {*self.include, *self.exclude}


def years_before(day: date, years: int) -> date:
    """The same calendar day `years` earlier (29 February becomes 28 February in a common year)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def check_fields(fields: Iterable[str]) -> list[str]:
    """The requested fields in order, without repeats; fields that Data P3KE does not have are Invalid."""
    wanted = list(dict.fromkeys(fields))
    unknown = [f for f in wanted if f not in KNOWN_FIELDS]
    if unknown:
        raise Invalid(M("invalid.fields_unknown.one" if len(unknown) == 1 else "invalid.fields_unknown.many",
                        fields=_quoted(unknown)))
    return wanted


def minimal_regions(codes: Iterable[str], known: frozenset[str]) -> tuple[str, ...]:
    """The codes, checked against the reference; a code inside another listed one is dropped."""
    codes = sorted(set(codes), key=lambda c: (len(c), c))
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise Invalid(M("invalid.regions_unknown", codes=", ".join(unknown)))
    kept: list[str] = []
    for code in codes:
        if not any(code.startswith(k) for k in kept):
            kept.append(code)
    return tuple(kept)


def check_reference_date(asked: date | None, received: date) -> date:
    """The day ages are computed on: `received` (the Jakarta day the request was received), or the request's
    reference date if it lies within `REFERENCE_WINDOW_DAYS` before it; anything else is Invalid."""
    if asked is None:
        return received
    earliest = received - timedelta(days=REFERENCE_WINDOW_DAYS)
    if earliest <= asked <= received:
        return asked
    key = "invalid.reference_date.after" if asked > received else "invalid.reference_date.too_early"
    raise Invalid(M(key, asked=str(asked), received=str(received), earliest=str(earliest),
                    days=REFERENCE_WINDOW_DAYS))


def resolve(criteria: ExtractCriteria, program: str, rules: EligibilityRules, region_codes: frozenset[str],
            default_reference: date, added: ProgramRule | None = None) -> Selection:
    """The selection for `criteria`; `default_reference` is the (Jakarta) day the request was received. A program
    without an entry in the rules file is selected by `added` (the eligibility its written approval or addendum
    states, already checked against the vocabularies)."""
    rule = rules.rule_for(program) or added
    if rule is None:
        raise Invalid(M("invalid.no_rules", program=program, rules_version=rules.rules_version))
    if not criteria.deciles:
        raise Invalid(M("invalid.no_desil"))
    ref = check_reference_date(criteria.reference_date, default_reference)
    lowest, highest = _ages(criteria, rule)
    include = {column: tuple(values) for column, values in rule.include.items()}
    exclude = {column: tuple(values) for column, values in rule.exclude.items()}
    requested = _categories(criteria, rules)
    for column, values in requested.items():
        allowed = [v for v in values if v in include.get(column, values) and v not in exclude.get(column, ())]
        if not allowed:
            raise Invalid(M("invalid.outside_eligibility", column=column, values=_quoted(values), program=program,
                            rule=_describe(rule, column), rules_version=rules.rules_version))
        include[column] = tuple(allowed)
    return Selection(
        program=program,
        reference_date=ref,
        deciles=tuple(sorted(set(criteria.deciles))),
        regions=minimal_regions(criteria.region_codes, region_codes),
        born_on_or_before=years_before(ref, lowest) if lowest is not None else None,
        born_after=years_before(ref, highest + 1) if highest is not None else None,
        sex=SEX_VALUES[criteria.sex] if criteria.sex else None,
        include=include,
        exclude=exclude,
        exclude_delivered=criteria.exclude_already_delivered,
        priority=tuple(rules.priority),
        age_range=(lowest, highest),
    )


def _ages(criteria: ExtractCriteria, rule: ProgramRule) -> tuple[int | None, int | None]:
    if criteria.age_min is not None and criteria.age_max is not None and criteria.age_min > criteria.age_max:
        raise Invalid(M("invalid.ages_contradict", age_min=criteria.age_min, age_max=criteria.age_max))
    lows = [a for a in (criteria.age_min, rule.age.min if rule.age else None) if a is not None]
    highs = [a for a in (criteria.age_max, rule.age.max if rule.age else None) if a is not None]
    lowest, highest = (max(lows) if lows else None), (min(highs) if highs else None)
    if lowest is not None and highest is not None and lowest > highest:
        assert rule.age is not None
        raise Invalid(M("invalid.ages_no_overlap", asked_min=criteria.age_min if criteria.age_min is not None else 0,
                        asked_max=criteria.age_max if criteria.age_max is not None else M("age.any"),
                        min=rule.age.min, max=rule.age.max))
    return lowest, highest


def _categories(criteria: ExtractCriteria, rules: EligibilityRules) -> dict[str, list[str]]:
    """Requested categories grouped by the column they are values of."""
    occupations = rules.occupation_values
    out: dict[str, list[str]] = {}
    unknown = [c for c in criteria.occupation_categories if c not in occupations]
    if unknown:
        raise Invalid(M("invalid.occupation_unknown", values=_quoted(unknown)))
    for value in dict.fromkeys(criteria.occupation_categories):
        out.setdefault(occupations[value], []).append(value)
    education = rules.vocabularies.get("pendidikan", ())
    unknown = [c for c in criteria.education_categories if c not in education]
    if unknown:
        raise Invalid(M("invalid.education_unknown", values=_quoted(unknown)))
    if criteria.education_categories:
        out["pendidikan"] = list(dict.fromkeys(criteria.education_categories))
    return out


def _describe(rule: ProgramRule, column: str) -> Joined | Message:
    parts = []
    if column in rule.include:
        parts.append(M("rule.one_of", column=column, values=", ".join(rule.include[column])))
    if column in rule.exclude:
        parts.append(M("rule.not", column=column, values=", ".join(rule.exclude[column])))
    return Joined(tuple(parts)) if parts else M("rule.none", column=column)
