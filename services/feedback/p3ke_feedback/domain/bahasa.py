"""Numbers, dates and periods the way an Indonesian official report writes them."""

from __future__ import annotations

from datetime import date

BULAN = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September",
         "Oktober", "November", "Desember")


def angka(n: int | float | None) -> str:
    """Thousands separated by dots: 1.000.000 (a dash when there is no figure)."""
    if n is None:
        return "–"
    return f"{round(n):,}".replace(",", ".")


def persen(share: float | None, digits: int = 1) -> str:
    """A share as Indonesian writes a percentage: 12,5%."""
    if share is None:
        return "–"
    return f"{100 * share:.{digits}f}%".replace(".", ",")


def desimal(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}f}".replace(".", ",")


def rupiah(value: int | None) -> str:
    return "–" if value is None else f"Rp{angka(value)}"


def tanggal(day: date) -> str:
    """26 November 2026."""
    return f"{day.day} {BULAN[day.month - 1]} {day.year}"


def bulan_tahun(month: str) -> str:
    """`2026-03` -> Maret 2026."""
    return f"{BULAN[int(month[5:7]) - 1]} {month[:4]}"


def periode(start: str | None, end: str | None) -> str:
    if start and end:
        return bulan_tahun(start) if start == end else f"{bulan_tahun(start)} s.d. {bulan_tahun(end)}"
    if start:
        return f"sejak {bulan_tahun(start)}"
    if end:
        return f"s.d. {bulan_tahun(end)}"
    return "seluruh periode"
