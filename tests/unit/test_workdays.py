"""The Indonesian working-day calendar on real dates: the national holidays and cuti bersama of the SKB 3 Menteri
for 2025 (revised in August) and 2026, counted from the `holidays` package and the calendar file."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from p3ke_platform.settings import ConfigurationError
from p3ke_platform.workdays import (
    BUNDLED_CALENDAR,
    add_working_days,
    day_off,
    is_working_day,
    workday_calendar,
    working_days_between,
)

SKB_2026 = "Nomor 1497 Tahun 2025, Nomor 2 Tahun 2025, dan Nomor 5 Tahun 2025"


def test_idul_fitri_2026_and_its_cuti_bersama() -> None:
    # SKB 1497/2/5 of 2025: Nyepi 19 March (cuti bersama 18), Idul Fitri 1447 H on 21-22 March (a weekend),
    # cuti bersama 20, 23 and 24 March
    expected = {
        date(2026, 3, 18): ("cuti-bersama", "Cuti Bersama Hari Suci Nyepi"),
        date(2026, 3, 19): ("national-holiday", "Hari Suci Nyepi"),
        date(2026, 3, 20): ("cuti-bersama", "Cuti Bersama Hari Raya Idul Fitri"),
        date(2026, 3, 21): ("national-holiday", "Hari Raya Idul Fitri"),
        date(2026, 3, 22): ("national-holiday", "Hari kedua dari Hari Raya Idul Fitri"),
        date(2026, 3, 23): ("cuti-bersama", "Cuti Bersama Hari Raya Idul Fitri"),
        date(2026, 3, 24): ("cuti-bersama", "Cuti Bersama Hari Raya Idul Fitri"),
    }
    for day, (kind, name) in expected.items():
        off = day_off(day)
        assert off is not None and (off.kind, off.name) == (kind, name), day
        assert not is_working_day(day)
    assert is_working_day(date(2026, 3, 17)) and is_working_day(date(2026, 3, 25))


def test_the_2026_cuti_bersama_are_the_eight_days_of_the_skb() -> None:
    calendar = workday_calendar()
    start = date(2026, 1, 1)
    found = [d.day for d in calendar.days_off_between(start - timedelta(days=1), date(2026, 12, 31))
             if d.kind == "cuti-bersama"]
    assert found == [date(2026, 2, 16), date(2026, 3, 18), date(2026, 3, 20), date(2026, 3, 23), date(2026, 3, 24),
                     date(2026, 5, 15), date(2026, 5, 28), date(2026, 12, 24)]
    assert [SKB_2026 in d.number for d in calendar.decrees(2026)] == [True]


def test_fourteen_working_days_across_idul_fitri_2026() -> None:
    # a force majeure on Tuesday 17 March 2026, the last working day before Nyepi and Lebaran: 18-24 March are all
    # off, and Good Friday (3 April) too, so the 14th working day is Tuesday 14 April, not 6 April (weekdays only)
    assert add_working_days(date(2026, 3, 17), 14) == date(2026, 4, 14)
    assert add_working_days(date(2026, 3, 20), 14) == date(2026, 4, 14)  # the day before Idul Fitri
    weekdays_only = date(2026, 3, 17)
    for _ in range(14):
        weekdays_only += timedelta(days=3 if weekdays_only.weekday() == 4 else 1)
    assert weekdays_only == date(2026, 4, 6)
    assert working_days_between(date(2026, 3, 17), date(2026, 4, 14)) == 14
    assert working_days_between(date(2026, 4, 14), date(2026, 3, 17)) == -14
    # six working days (Art. 13(2)) from Friday 13 March: 16, 17, then nothing until 25, 26, 27, 30
    assert add_working_days(date(2026, 3, 13), 6) == date(2026, 3, 30)


def test_day_zero_is_the_start_day_itself() -> None:
    assert add_working_days(date(2026, 3, 21), 0) == date(2026, 3, 21)  # even a holiday
    assert add_working_days(date(2026, 3, 21), 1) == date(2026, 3, 25)
    with pytest.raises(ValueError, match="jumlah hari kerja"):
        add_working_days(date(2026, 3, 21), -1)


def test_2025_lebaran_and_the_august_revision() -> None:
    # Thursday 27 March 2025: 28 cuti bersama Nyepi, 29 Nyepi, 31 March-1 April Idul Fitri 1446 H, 2-4 and
    # 7 April cuti bersama; the next working day is Tuesday 8 April
    assert add_working_days(date(2025, 3, 27), 1) == date(2025, 4, 8)
    # 18 August 2025: cuti bersama added by the revising SKB of 7 August 2025 (the calendar file names it)
    off = day_off(date(2025, 8, 18))
    assert off is not None and off.kind == "cuti-bersama"
    assert "933 Tahun 2025" in off.source
    assert add_working_days(date(2025, 8, 15), 1) == date(2025, 8, 19)
    assert len(workday_calendar().decrees(2025)) == 2  # the SKB and its revision


def test_weekends_are_named_and_the_explanation_cites_the_decree() -> None:
    off = day_off(date(2026, 3, 28))
    assert off is not None and (off.kind, off.name) == ("weekend", "Sabtu")
    text = workday_calendar().explain(date(2026, 3, 20), 14)
    assert text.startswith("14 hari kerja setelah 2026-03-20 (Jumat) = 2026-04-14 (Selasa)")
    assert "2026-03-23 (Senin) Cuti Bersama Hari Raya Idul Fitri" in text and "2026-04-03 (Jumat) Wafat Yesus" in text
    assert SKB_2026.split(", dan")[0] in text and "belum dikonfirmasi" not in text
    later = workday_calendar().explain(date(2027, 3, 5), 14)  # 2027: no SKB recorded in the calendar file yet
    assert "PERHATIAN: kalender 2027 belum dikonfirmasi" in later


def _calendar_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "hari_libur.yaml"
    path.write_text(BUNDLED_CALENDAR.read_text(encoding="utf-8").replace("removed: []\n", "") + body,
                    encoding="utf-8")
    return path


def test_a_day_added_by_the_calendar_file_is_a_day_off(tmp_path: Path) -> None:
    path = _calendar_file(tmp_path, """
  - date: 2026-04-13
    kind: cuti-bersama
    name: Cuti Bersama tambahan (uji)
    source: SKB perubahan Tahun 2026 (contoh untuk uji)
removed:
  - date: 2026-03-24
    source: SKB perubahan Tahun 2026 (contoh untuk uji)
""")
    calendar = workday_calendar(path)
    off = calendar.day_off(date(2026, 4, 13))
    assert off is not None and off.name == "Cuti Bersama tambahan (uji)" and "contoh untuk uji" in off.source
    assert calendar.is_working_day(date(2026, 3, 24))  # removed: a working day again
    # 24 March now counts, 13 April does not: still 14 April, reached one day differently
    assert calendar.add_working_days(date(2026, 3, 20), 14) == date(2026, 4, 14)
    assert calendar.add_working_days(date(2026, 3, 20), 13) == date(2026, 4, 10)
    assert workday_calendar().add_working_days(date(2026, 3, 20), 13) == date(2026, 4, 13)  # the bundled one
    # a changed file is read again
    path.write_text(path.read_text(encoding="utf-8").replace("2026-04-13", "2026-04-14"), encoding="utf-8")
    assert workday_calendar(path).is_working_day(date(2026, 4, 13))


@pytest.mark.parametrize(("body", "message"), [
    ("  - {date: 2026-04-13, kind: libur, name: Libur uji, source: SKB uji}\n", "added.1.kind"),
    ("  - {date: 2026-04-13, kind: cuti-bersama, name: Libur uji}\n", "added.1.source"),
    ("  - {date: 2026-04-13, kind: cuti-bersama, name: Libur uji, source: SKB uji}\n"
     "removed:\n  - {date: 2026-04-13, source: SKB uji}\n", "added dan removed"),
])
def test_a_bad_calendar_file_is_refused_naming_what_is_wrong(tmp_path: Path, body: str, message: str) -> None:
    path = _calendar_file(tmp_path, body)
    with pytest.raises(ConfigurationError, match=message) as caught:
        workday_calendar(path)
    assert str(path) in str(caught.value) and "P3KE_CALENDAR_FILE" in str(caught.value)
    with pytest.raises(ConfigurationError, match="tidak dapat dibaca"):
        workday_calendar(tmp_path / "missing.yaml")
