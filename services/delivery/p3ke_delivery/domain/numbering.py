"""BAST numbers from a configurable pattern, e.g. `007/BAST-P3KE/PK/XI/2026`.

The sequence `{seq}` counts within its *scope*: the pattern rendered with everything but `{seq}`.
So `{seq}/BAST/{year}` numbers per year and `{seq}/BAST/{program_short}/{month_roman}/{year}` per
program and month, and a number is unique exactly when the pattern says it is.
"""

from __future__ import annotations

import string
from datetime import date

PLACEHOLDERS = ("seq", "year", "month", "month_roman", "day", "program", "program_short")
_ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")
_SCOPE_MARK = "{seq}"


def program_short(code: str) -> str:
    """`padat_karya` -> `PK`, `pelatihan_berbasis_kompetensi` -> `PBK`."""
    return "".join(part[0] for part in code.split("_") if part).upper() or "X"


def _values(day: date, program: str) -> dict[str, object]:
    return {"year": day.year, "month": f"{day.month:02d}", "month_roman": _ROMAN[day.month - 1],
            "day": f"{day.day:02d}", "program": program, "program_short": program_short(program)}


def check_pattern(pattern: str) -> None:
    """Raise ValueError naming the problem if the pattern cannot number BASTs."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(pattern) if f is not None]
    except ValueError as exc:
        raise ValueError(f"not a valid pattern: {exc}") from None
    unknown = sorted({f.split(".")[0].split("[")[0] for f in fields} - set(PLACEHOLDERS))
    if unknown:
        raise ValueError(f"unknown placeholder(s) {', '.join(unknown)}; known: {', '.join(PLACEHOLDERS)}")
    if "seq" not in fields:
        raise ValueError("the pattern needs {seq}, otherwise two BASTs could share a number")
    try:
        render(pattern, 1, date(2026, 1, 1), "padat_karya")
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"cannot format the pattern: {exc}") from None


def render(pattern: str, seq: int, day: date, program: str) -> str:
    return pattern.format(seq=seq, **_values(day, program))


def scope(pattern: str, day: date, program: str) -> str:
    """What `{seq}` counts within: the pattern with every placeholder but `{seq}` filled in."""
    parts = []
    for literal, field, spec, conv in string.Formatter().parse(pattern):
        parts.append(literal)
        if field is None:
            continue
        if field == "seq":
            parts.append(_SCOPE_MARK)
        else:
            value = _values(day, program)[field]
            parts.append(format(value if conv is None else repr(value), spec or ""))
    return "".join(parts)[:200]
