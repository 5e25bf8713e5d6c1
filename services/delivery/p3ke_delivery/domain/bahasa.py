"""Dates and numbers the way an Indonesian official document writes them.

`Pada hari ini, Kamis tanggal dua puluh enam bulan November tahun dua ribu dua puluh enam`; a moment as
`12 Juni 2026 pukul 14.05 WIB` (Jakarta time: an official reads WIB, never UTC).
"""

from __future__ import annotations

from datetime import date, datetime

from p3ke_platform.agreement import WIB

HARI = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
BULAN = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September",
         "Oktober", "November", "Desember")
_SATUAN = ("nol", "satu", "dua", "tiga", "empat", "lima", "enam", "tujuh", "delapan", "sembilan",
           "sepuluh", "sebelas")


def terbilang(n: int) -> str:
    """A non-negative integer in Indonesian words: 2026 -> `dua ribu dua puluh enam`."""
    if n < 0:
        raise ValueError("terbilang needs a non-negative number")
    if n < 12:
        return _SATUAN[n]
    if n < 20:
        return f"{_SATUAN[n - 10]} belas"
    if n < 100:
        rest = n % 10
        return f"{_SATUAN[n // 10]} puluh" + (f" {_SATUAN[rest]}" if rest else "")
    for size, word in ((10**12, "triliun"), (10**9, "miliar"), (10**6, "juta"), (1000, "ribu"), (100, "ratus")):
        if n >= size:
            head, rest = divmod(n, size)
            if head == 1 and size in (100, 1000):
                words = "seratus" if size == 100 else "seribu"
            else:
                words = f"{terbilang(head)} {word}"
            return words + (f" {terbilang(rest)}" if rest else "")
    raise AssertionError("unreachable")


def tanggal(day: date) -> str:
    """`26 November 2026`."""
    return f"{day.day} {BULAN[day.month - 1]} {day.year}"


def waktu(at: datetime) -> str:
    """`12 Juni 2026 pukul 14.05 WIB`: the moment in Jakarta time (a naive datetime is taken as Jakarta time)."""
    local = at.astimezone(WIB) if at.tzinfo else at
    return f"{tanggal(local.date())} pukul {local:%H.%M} WIB"


def hari_tanggal_terbilang(day: date) -> str:
    """`Kamis tanggal dua puluh enam bulan November tahun dua ribu dua puluh enam (26-11-2026)`."""
    return (f"{HARI[day.weekday()]} tanggal {terbilang(day.day)} bulan {BULAN[day.month - 1]} "
            f"tahun {terbilang(day.year)} ({day:%d-%m-%Y})")


def angka(n: int) -> str:
    """Thousands separated by dots, as Indonesian writes them: 1.000.000."""
    return f"{n:,}".replace(",", ".")
