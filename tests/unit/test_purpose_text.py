"""The justification check shared by targeting's API, its event handler and `p3ke platform request`: a short
note, without NIK-like numbers or persons' names, refused with an Indonesian-first reason that never quotes it."""

from __future__ import annotations

import pytest

from p3ke_platform.purpose_text import MAX_CHARS, problems, refusal


@pytest.mark.parametrize("text", [
    "padat karya Jawa Tengah 2026",
    "PBI jamsostek pekerja rentan Sulawesi Selatan 2026, tahap 1",
    "seleksi tanggal 2026-02-01, kuota 12000 orang",
    "Ibu Kota Nusantara: padat karya 2026",
    "usulan Bapak Bupati dan Pak RT 05",
    "x" * MAX_CHARS,
])
def test_short_notes_without_personal_data_pass(text: str) -> None:
    assert problems(text) == [] and refusal(text) is None


@pytest.mark.parametrize("text", [
    "untuk 3201010101010001 saja",
    "NIK 3201 0101 0101 0001 mohon diprioritaskan",
    "nik 3201.0101.0101",
    "kode 12345678 padat karya",
])
def test_nik_like_numbers_are_refused(text: str) -> None:
    [reason] = problems(text)
    assert reason.startswith("justification memuat angka mirip NIK (8 digit atau lebih")
    assert " / the justification holds a NIK-like number" in reason
    assert not any(part in reason for part in ("3201", "12345678"))


@pytest.mark.parametrize("text", [
    "usulan Bapak Budi Santoso untuk desa",
    "permintaan Ibu Sri Wahyuni",
    "titipan Pak Joko, padat karya",
    "permintaan Sdr. Andi untuk desa",
    "Sdri. Rina minta didahulukan",
    "a.n. Siti Aminah padat karya",
    "an. Dedi Kurniawan padat karya",
    "atas nama Ahmad padat karya",
    "Nama: budi, padat karya desa",
    "Tn. Ahmad dan Ny. Siti",
])
def test_person_names_after_a_form_of_address_are_refused(text: str) -> None:
    [reason] = problems(text)
    assert reason.startswith("justification tampaknya memuat nama orang")
    assert " / the justification seems to name a person" in reason
    assert not any(name in reason for name in ("Budi", "Sri", "Joko", "Andi", "Rina", "Siti", "Dedi", "Ahmad"))


def test_length_and_form() -> None:
    [too_long] = problems("a" * (MAX_CHARS + 1))
    assert too_long.startswith(f"justification terlalu panjang: {MAX_CHARS + 1} karakter, paling banyak {MAX_CHARS}")
    assert problems("pendek")[0].startswith("justification terlalu pendek")
    assert problems("baris satu\nbaris dua ok")[0].startswith("justification harus satu baris")
    both = refusal("Bapak Budi 3201010101010001")
    assert both is not None and "angka mirip NIK" in both and "nama orang" in both
