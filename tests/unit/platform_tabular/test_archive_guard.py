"""The archive guard refuses hostile ZIP/XLSX files from their central directory, fast and without
decompressing them, and XLSX shared strings are read into a bounded, disk-backed table."""

from __future__ import annotations

import gc
import time
import tracemalloc
import zipfile
from pathlib import Path

import openpyxl
import pytest

from p3ke_platform.settings import Settings
from p3ke_platform.tabular.archive_guard import (
    ArchiveLimits,
    HostileArchive,
    SharedStrings,
    check_archive,
    declared_entries,
)
from p3ke_platform.tabular.sources import detect_format, open_workbook
from tests import hostile_files as hostile


def _refused(path: Path, limits: ArchiveLimits | None = None) -> HostileArchive:
    with pytest.raises(HostileArchive) as caught:
        check_archive(path, limits or ArchiveLimits(), xlsx=True)
    refused = caught.value
    assert refused.key is not None and refused.key.startswith("file.hostile_")  # the catalogue's (domain findings)
    indonesian, english = refused.explained("id"), refused.explained("en")  # the reason and how to fix it
    assert "Cara memperbaiki: " in indonesian and "CSV (UTF-8)" in indonesian, indonesian
    assert "How to fix: " in english and "CSV (UTF-8)" in english, english
    assert str(refused) == refused.message("id")
    return refused


def _en(refused: HostileArchive) -> str:
    return refused.message("en")


@pytest.mark.parametrize(("build", "status", "words"), [
    (hostile.xlsx_bomb, 413, "compression ratio of entry 6 1,010 exceeds the limit of 200"),  # (English)
    (hostile.zip_bomb, 413, "compression ratio of entry 1 1,011 exceeds the limit of 200"),
    (hostile.zip_many_entries, 413, "number of entries in the archive 65,535 exceeds the limit of 10,000"),
    (hostile.zip_nested, 422, "entry 3 of the archive holds another archive"),
    (hostile.zip_traversal, 422, "entry 1 of the archive has an unsafe path name"),
])
def test_hostile_archives_are_refused_in_milliseconds_without_memory(tmp_path: Path, build, status: int,
                                                                     words: str) -> None:
    path = build(tmp_path / "hostile")
    gc.collect()  # the garbage of earlier tests is collected before the timed window, not inside it (a full
    # collection of a long test session's heap, with every allocation traced, took 2.5 s once)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        refused = _refused(path)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert refused.status == status and words in _en(refused)
    assert elapsed < 1.0 and peak < 5 * 2**20, (elapsed, peak)
    with pytest.raises(HostileArchive):  # every way in meets the guard
        detect_format(path)


def test_the_xlsx_bomb_is_a_bomb(tmp_path: Path) -> None:
    """The fixture is what it claims: 2 GiB of shared strings in about 2 MB."""
    path = hostile.xlsx_bomb(tmp_path / "bomb.xlsx")
    info = zipfile.ZipFile(path).getinfo("xl/sharedStrings.xml")
    assert path.stat().st_size < 3 * 2**20 and info.file_size > 2 * 2**30


def test_each_limit_names_the_value_found(tmp_path: Path) -> None:
    many = hostile.xlsx_many_strings(tmp_path / "many.xlsx", 2_000)
    assert declared_entries(many) == 6
    entries = _refused(many, ArchiveLimits(max_entries=5))
    assert "6 exceeds the limit of 5" in _en(entries)
    assert str(entries) == "jumlah entri dalam arsip 6 melebihi batas 5"
    too_big = _refused(many, ArchiveLimits(max_entry_bytes=1_000))
    assert too_big.status == 413 and "uncompressed size of entry" in _en(too_big)
    total = _refused(many, ArchiveLimits(max_total_bytes=5_000))
    assert "total uncompressed size" in _en(total)
    strings = _refused(many, ArchiveLimits(max_shared_strings=1_999))
    assert strings.rule == "xlsx-limit" and "shared strings 2,000 exceeds the limit of 1,999" in _en(strings)
    assert "teks bersama (shared strings) XLSX 2000 melebihi batas 1999" in str(strings)
    part = _refused(many, ArchiveLimits(max_shared_strings_bytes=100))
    assert "shared-strings part (bytes)" in _en(part)
    check_archive(many, ArchiveLimits(), xlsx=True)  # within the defaults


def test_a_truncated_archive_is_malformed(tmp_path: Path) -> None:
    path = hostile.xlsx_many_strings(tmp_path / "cut.xlsx", 10)
    path.write_bytes(path.read_bytes()[:300])
    refused = _refused(path)
    assert refused.status == 422 and "damaged or truncated" in _en(refused)
    assert str(refused).startswith("berkas tampak seperti XLSX (arsip zip) tetapi rusak atau terpotong")


def test_a_lying_unique_count_is_caught_while_reading(tmp_path: Path) -> None:
    path = hostile.xlsx_many_strings(tmp_path / "liar.xlsx", 2_000, declared=1)
    limits = ArchiveLimits(max_shared_strings=1_500)
    check_archive(path, limits, xlsx=True)  # the head says 1
    with pytest.raises(HostileArchive, match=r"shared strings\) XLSX 1501 melebihi batas 1500") as caught:
        open_workbook(path, limits).__enter__()
    assert "shared strings 1,501 exceeds the limit of 1,500" in _en(caught.value)


def test_shared_strings_live_on_disk_and_read_back(tmp_path: Path) -> None:
    path = hostile.xlsx_many_strings(tmp_path / "s.xlsx", 50_000)
    with zipfile.ZipFile(path) as zf, zf.open("xl/sharedStrings.xml") as src:
        tracemalloc.start()
        try:
            table = SharedStrings.read(src, 100_000)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    with table:
        assert len(table) == 50_000 and table[0] == "s0" and table[-1] == "s49999" and table[1:3] == ["s1", "s2"]
    assert peak < 4 * 2**20, peak  # 50,000 strings in a list would be several MB


def test_a_dtd_in_the_shared_strings_is_refused(tmp_path: Path) -> None:
    xml = (b'<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY a "aaaaaaaaaa">]>'
           b'<sst xmlns="' + hostile.NS.encode() + b'"><si><t>&a;</t></si></sst>')
    path = hostile.write_zip(tmp_path / "dtd.xlsx", hostile.xlsx_parts(hostile.Entry("xl/sharedStrings.xml", xml)))
    with pytest.raises(HostileArchive, match="DTD/entitas") as caught:
        open_workbook(path).__enter__()
    assert caught.value.status == 422


def test_a_real_workbook_reads_as_before(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Data"
    ws.append(["nik", "nama"])
    ws.append(["3201010101010001", "Siti"])
    ws.append(["3201010101010002", "Budi"])
    wb.save(tmp_path / "ok.xlsx")
    with open_workbook(tmp_path / "ok.xlsx") as book:
        assert list(book["Data"].iter_rows(values_only=True)) == [
            ("nik", "nama"), ("3201010101010001", "Siti"), ("3201010101010002", "Budi")]


def test_limits_come_from_the_settings() -> None:
    limits = ArchiveLimits.from_settings(Settings(upload_zip_max_entries=7, upload_xlsx_max_shared_strings=9))
    assert limits.max_entries == 7 and limits.max_shared_strings == 9
    assert ArchiveLimits.from_settings(Settings()) == ArchiveLimits()
