"""The Indonesian working-day calendar (*hari kerja*): the deadlines of the PKS counted in working days.

A working day is a Monday to Friday that is neither a national holiday (*hari libur nasional*) nor a joint
leave day (*cuti bersama*) of the SKB 3 Menteri. Both come from the maintained `holidays` package (Indonesia,
categories `public` and `government`, names in Indonesian), corrected by a calendar file: the bundled
`reference/data/hari_libur.yaml`, or a deployment's own (`P3KE_CALENDAR_FILE`), which adds the days the
package does not know yet, removes the ones a revised SKB cancelled, and names the decree of each year.

Counting: day 0 is the start day itself; `add_working_days(day, n)` is the n-th working day after it
(the start day never counts, whatever it is), and `working_days_between(a, b)` counts the working days after
`a` up to and including `b`, so `working_days_between(a, add_working_days(a, n)) == n`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from p3ke_platform.settings import ConfigurationError

BUNDLED_CALENDAR = Path(str(files("p3ke_platform.reference").joinpath("data", "hari_libur.yaml")))
SETTING = "P3KE_CALENDAR_FILE"

DayKind = Literal["weekend", "national-holiday", "cuti-bersama"]
WEEKDAY_NAMES = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
MAX_WORKING_DAYS = 3660
"""The longest count accepted: ten years of working days is no deadline of an agreement."""


@dataclass(frozen=True)
class DayOff:
    """Why a day is not a working day: its kind, its Indonesian name and where that comes from."""

    day: date
    kind: DayKind
    name: str
    source: str

    def describe(self) -> str:
        """e.g. '2026-03-23 (Senin) Cuti Bersama Hari Raya Idul Fitri'."""
        return f"{self.day.isoformat()} ({WEEKDAY_NAMES[self.day.weekday()]}) {self.name}"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Decree(_Frozen):
    """An SKB 3 Menteri that sets (or revises) the national holidays and cuti bersama of a year."""

    year: int = Field(ge=2000, le=2100)
    number: str = Field(min_length=5, max_length=500)
    signed_on: date | None = None


class AddedDay(_Frozen):
    date: date
    kind: Literal["national-holiday", "cuti-bersama"]
    name: str = Field(min_length=3, max_length=200)
    source: str = Field(min_length=3, max_length=500, description="the SKB (or Keppres) that sets it")


class RemovedDay(_Frozen):
    date: date
    source: str = Field(min_length=3, max_length=500, description="the SKB that cancelled it")


class CalendarFile(_Frozen):
    """The calendar file: the decrees per year, and the days added to or removed from the package's."""

    schema_version: Literal[1]
    decrees: tuple[Decree, ...] = ()
    added: tuple[AddedDay, ...] = ()
    removed: tuple[RemovedDay, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> CalendarFile:
        added = [a.date for a in self.added]
        removed = [r.date for r in self.removed]
        for label, days in (("added", added), ("removed", removed)):
            twice = sorted({d for d in days if days.count(d) > 1})
            if twice:
                raise ValueError(f"{label}: tanggal {', '.join(map(str, twice))} tercantum dua kali / listed twice")
        both = sorted(set(added) & set(removed))
        if both:
            raise ValueError(f"tanggal {', '.join(map(str, both))} ada di added dan removed sekaligus; pilih salah "
                             f"satu / both added and removed: keep one")
        return self


def read_calendar_file(path: Path) -> CalendarFile:
    """The calendar file at `path`; ConfigurationError naming the file and what is wrong."""
    where = f"{SETTING} {path}" if path != BUNDLED_CALENDAR else f"kalender bawaan / bundled calendar {path.name}"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"{where}: tidak dapat dibaca (cannot read it: {exc.strerror or exc})") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{where}: bukan YAML UTF-8 yang sah (not valid UTF-8 YAML: {exc})") from None
    try:
        return CalendarFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in err["loc"]) or "(file)"
        raise ConfigurationError(f"{where}: {loc}: {err['msg']}") from None


class WorkdayCalendar:
    """Working days on the Indonesian calendar: the `holidays` package's national holidays and cuti bersama,
    corrected by a calendar file. Thread-safe; years are loaded from the package on first use."""

    def __init__(self, changes: CalendarFile, *, origin: str = "") -> None:
        import holidays

        self.changes = changes
        self.origin = origin
        self.library = f"holidays {holidays.__version__}"
        self._added = {a.date: a for a in changes.added}
        self._removed = {r.date for r in changes.removed}
        self._years: dict[int, dict[date, DayOff]] = {}
        self._lock = threading.Lock()

    def _library_year(self, year: int) -> dict[date, DayOff]:
        import holidays

        found: dict[date, DayOff] = {}
        for category, kind in (("public", "national-holiday"), ("government", "cuti-bersama")):
            days = holidays.country_holidays("ID", years=year, categories=(category,), language="id")
            for day, name in days.items():
                if day in found:  # both a holiday and a cuti bersama: the holiday names it
                    continue
                found[day] = DayOff(day, kind, name, self.library)  # type: ignore[arg-type]
        return found

    def _year(self, year: int) -> dict[date, DayOff]:
        with self._lock:
            days = self._years.get(year)
            if days is None:
                days = self._library_year(year)
                for day in list(days):
                    if day in self._removed:
                        del days[day]
                for day, added in self._added.items():
                    if day.year == year:
                        days[day] = DayOff(day, added.kind, added.name, added.source)
                self._years[year] = days
            return days

    def holiday(self, day: date) -> DayOff | None:
        """The national holiday or cuti bersama on `day` (whatever the weekday), or None."""
        return self._year(day.year).get(day)

    def day_off(self, day: date) -> DayOff | None:
        """Why `day` is not a working day (a holiday or cuti bersama named first, then the weekend); None if it is."""
        found = self.holiday(day)
        if found is not None:
            return found
        if day.weekday() >= 5:
            return DayOff(day, "weekend", WEEKDAY_NAMES[day.weekday()], "akhir pekan / weekend")
        return None

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and self.holiday(day) is None

    def add_working_days(self, day: date, n: int) -> date:
        """The n-th working day after `day` (day 0: `day` itself, as given)."""
        if not 0 <= n <= MAX_WORKING_DAYS:
            raise ValueError(f"jumlah hari kerja harus 0 sampai {MAX_WORKING_DAYS}, bukan {n} / n must be 0 to "
                             f"{MAX_WORKING_DAYS}")
        current = day
        while n > 0:
            current += timedelta(days=1)
            if self.is_working_day(current):
                n -= 1
        return current

    def working_days_between(self, start: date, end: date) -> int:
        """The working days after `start` up to and including `end` (negative when `end` is before `start`)."""
        if end < start:
            return -self.working_days_between(end, start)
        return sum(1 for i in range(1, (end - start).days + 1) if self.is_working_day(start + timedelta(days=i)))

    def days_off_between(self, start: date, end: date) -> list[DayOff]:
        """Every day off after `start` up to and including `end`, weekends included, in order."""
        found = (self.day_off(start + timedelta(days=i)) for i in range(1, (end - start).days + 1))
        return [d for d in found if d is not None]

    def decrees(self, year: int) -> tuple[Decree, ...]:
        """The SKBs the calendar file records for `year` (none: the package's data, unconfirmed)."""
        return tuple(d for d in self.changes.decrees if d.year == year)

    def explain(self, start: date, n: int) -> str:
        """How `add_working_days(start, n)` was reached, in Indonesian then English: the holidays and cuti
        bersama skipped (weekends only counted), and the decrees they come from."""
        due = self.add_working_days(start, n)
        off = self.days_off_between(start, due)
        skipped = [d for d in off if d.day.weekday() < 5]
        weekends = sum(1 for d in off if d.day.weekday() >= 5)
        text = (f"{n} hari kerja setelah {start.isoformat()} ({WEEKDAY_NAMES[start.weekday()]}) = {due.isoformat()} "
                f"({WEEKDAY_NAMES[due.weekday()]}); tidak dihitung: {weekends} hari Sabtu/Minggu")
        if skipped:
            text += ", " + "; ".join(d.describe() for d in skipped)
        years = range(start.year, due.year + 1)
        sources = [d.number.split(" tentang ")[0] for y in years for d in self.decrees(y)]
        unconfirmed = [str(y) for y in years if not self.decrees(y)]
        text += f". Sumber: {self.library}" + (f" dan {'; '.join(sources)}" if sources else "")
        if unconfirmed:
            text += (f". PERHATIAN: kalender {', '.join(unconfirmed)} belum dikonfirmasi dengan SKB 3 Menteri "
                     f"(calendar not yet confirmed by the decree; see {SETTING})")
        return text + (f" / {n} working days after {start.isoformat()} = {due.isoformat()}, weekends, national "
                       f"holidays and cuti bersama skipped")


@lru_cache(maxsize=8)
def _calendar(path: Path, mtime_ns: int) -> WorkdayCalendar:
    return WorkdayCalendar(read_calendar_file(path), origin=str(path))


def workday_calendar(path: Path | None = None) -> WorkdayCalendar:
    """The calendar of `path` (a deployment's P3KE_CALENDAR_FILE), else the bundled one; read again when the
    file changes (a revised SKB), otherwise built once per process."""
    path = path or BUNDLED_CALENDAR
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise ConfigurationError(f"{SETTING} {path}: tidak dapat dibaca (cannot read it: {exc.strerror or exc})"
                                 ) from None
    return _calendar(path, mtime)


def is_working_day(day: date, calendar: WorkdayCalendar | None = None) -> bool:
    return (calendar or workday_calendar()).is_working_day(day)


def add_working_days(day: date, n: int, calendar: WorkdayCalendar | None = None) -> date:
    return (calendar or workday_calendar()).add_working_days(day, n)


def working_days_between(start: date, end: date, calendar: WorkdayCalendar | None = None) -> int:
    return (calendar or workday_calendar()).working_days_between(start, end)


def day_off(day: date, calendar: WorkdayCalendar | None = None) -> DayOff | None:
    return (calendar or workday_calendar()).day_off(day)
