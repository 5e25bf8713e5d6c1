"""NIK and No. KK rules as pure Python: the reference the columnar validator is tested against.

NIK ``PPKKCC DDMMYY SSSS``: the district where it was first issued (6 digits), the birth date with
40 added to the day for women, a serial 0001-9999. A No. KK has the same shape (district, issue date,
serial). Spreadsheets damage both: a number cell shows ``3.20101E+15`` and keeps 15 digits (the rest
is lost for good); a leading apostrophe marks text (harmless, removed).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection
from dataclasses import dataclass

SCIENTIFIC = re.compile(r"[0-9]([.,][0-9]+)?[eE][+]?[0-9]+")
SEPARATED = re.compile(r"[0-9][0-9 .\-]*[0-9]")
APOSTROPHES = "'`\u2018\u2019"
WS = " \t\r\n\u00a0"  # what counts as surrounding whitespace (the same set as the columnar engine)
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@dataclass(frozen=True)
class Parsed:
    """A cleaned identity number and what cleaning it took (codes of domain.findings)."""

    digits: str | None  # the 16 digits, or None when unusable
    codes: tuple[str, ...]


def clean(raw: str | None, prefix: str = "nik") -> Parsed:
    """Repair what can be repaired (apostrophe, separators) and name what cannot."""
    if raw is None or not raw.strip(WS):
        return Parsed(None, (f"{prefix}_missing",) if prefix == "nik" else ())
    value = raw.strip(WS)
    codes: list[str] = []
    if value[0] in APOSTROPHES:
        value = value.lstrip(APOSTROPHES).strip(WS)
        codes.append(f"{prefix}_apostrophe")
    if SCIENTIFIC.fullmatch(value):
        return Parsed(None, (*codes, f"{prefix}_scientific"))
    if not (len(value) == 16 and value.isdigit()) and SEPARATED.fullmatch(value):
        stripped = re.sub(r"[ .\-]", "", value)
        if len(stripped) == 16:
            value = stripped
            if prefix == "nik":  # a No. KK's separators are repaired without a finding
                codes.append("nik_separators")
    if not (len(value) == 16 and value.isascii() and value.isdigit()):
        return Parsed(None, (*codes, f"{prefix}_format"))
    return Parsed(value, tuple(codes))


def nik_date(digits: str) -> tuple[int, int, int, bool] | None:
    """(day, month, two-digit year, female) from a NIK's DDMMYY, or None when it is not a date."""
    dd, mm, yy = int(digits[6:8]), int(digits[8:10]), int(digits[10:12])
    female = dd > 40
    day = dd - 40 if female else dd
    if not 1 <= mm <= 12 or not 1 <= day <= _MONTH_DAYS[mm - 1]:
        return None
    return day, mm, yy, female


def check_nik(raw: str | None, birth_date: dt.date | None, female: bool | None,
              provinces: Collection[str], districts: Collection[str]) -> tuple[str | None, list[str]]:
    """The cleaned NIK (None if rejected) and every finding code for it, in the validator's order."""
    parsed = clean(raw)
    codes = list(parsed.codes)
    nik = parsed.digits
    if nik is None:
        return None, codes
    errors = []
    if nik[:2] not in provinces:
        errors.append("nik_province_unknown")
    elif nik[:6] not in districts:
        codes.append("nik_district_unknown")
    parts = nik_date(nik)
    if parts is None:
        errors.append("nik_date_invalid")
    if nik[12:] == "0000":
        errors.append("nik_serial_zero")
    if parts is not None and birth_date is not None:
        day, month, yy, nik_female = parts
        if (day, month, yy) != (birth_date.day, birth_date.month, birth_date.year % 100):
            errors.append("birthdate_mismatch")
        elif female is not None and nik_female != female:
            errors.append("sex_mismatch")
    codes += errors
    return (None if errors else nik), codes
