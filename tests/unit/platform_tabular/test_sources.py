"""File intake (p3ke_platform.tabular.sources): real small files in tmp_path."""

from __future__ import annotations

import codecs
import datetime as dt
import re
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from p3ke_platform.tabular import sources
from p3ke_platform.tabular.layout import HeaderVocabulary, LayoutError
from p3ke_platform.tabular.sources import (
    CsvHead,
    NotATable,
    cell_text,
    decode_head,
    detect_format,
    floating_fields,
    open_workbook,
    read_parquet_schema,
    scan_sheets,
    sniff_csv_head,
    stage_sheets,
)

VOCABULARY = HeaderVocabulary(frozenset({"nik", "nama", "kode", "status"}), {"no_nik": "nik"})
NO_HEADER = "no header in the first {lines} lines"
NO_SHEET = "no sheet has a header in its first {rows} rows"


def _sniff(path: Path) -> CsvHead:
    return sniff_csv_head(path, VOCABULARY.score, no_header=NO_HEADER, min_score=3)


def _workbook(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


# -- format ----------------------------------------------------------------------------------------------

def test_detect_format_by_content(tmp_path: Path) -> None:
    csv_file = tmp_path / "data.xlsx"  # the name does not matter
    csv_file.write_text("nik,nama,kode\n")
    assert detect_format(csv_file) == "csv"
    parquet = tmp_path / "data"
    pq.write_table(pa.table({"nik": ["1"]}), parquet)
    assert detect_format(parquet) == "parquet"
    xlsx = _workbook(tmp_path / "book", {"S": [["nik"]]})
    assert detect_format(xlsx) == "xlsx"


@pytest.mark.parametrize(("content", "reason"), [
    (b"", "the file is empty"),
    (b"PAR1" + b"0" * 20, "the Parquet file is truncated"),
    (b"PK\x03\x04garbage", r"looks like XLSX \(a zip archive\) but is damaged"),
    (b"\xd0\xcf\x11\xe0" + b"0" * 20, "old Excel .xls files are not supported"),
])
def test_detect_format_refuses(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "f"
    path.write_bytes(content)
    with pytest.raises(NotATable) as refused:
        detect_format(path)
    assert re.search(reason, refused.value.message("en"))


def test_detect_format_refuses_a_zip_that_is_no_workbook(tmp_path: Path) -> None:
    path = tmp_path / "f.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("a.txt", "x")
    with pytest.raises(NotATable, match="arsip zip ini bukan workbook XLSX") as refused:  # Indonesian first
        detect_format(path)
    assert refused.value.message("en") == "the zip archive is not an XLSX workbook"
    assert "XLSX, CSV" in refused.value.fix() and "XLSX, CSV" in refused.value.fix("en")


# -- CSV -------------------------------------------------------------------------------------------------

def test_decode_head_encodings() -> None:
    assert decode_head(codecs.BOM_UTF8 + b"nik,nama\n") == ("nik,nama\n", "utf-8")
    assert decode_head("nik;nama\n".encode("utf-16")) == ("nik;nama\n", "utf-16")
    assert decode_head("José,nama,kode\n".encode("latin-1")) == ("José,nama,kode\n", "latin-1")
    assert decode_head("abc é".encode()[:-1]) == ("abc ", "utf-8")  # a character cut by the end of the head


@pytest.mark.parametrize("raw", [b"a,b\x00c\n", bytes(range(1, 32)) * 100])
def test_decode_head_refuses_binary(raw: bytes) -> None:
    with pytest.raises(NotATable, match="isi file biner") as refused:
        decode_head(raw)
    assert "binary content" in refused.value.message("en")


def test_sniff_csv_head_skips_title_rows_and_picks_the_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(b"LAPORAN\r\n\r\nNo NIK;Nama;Kode;Keterangan, catatan\r\n3201;Budi;32;x\r\n")
    head = _sniff(path)
    assert head == CsvHead("utf-8", ";", 2, ["No NIK", "Nama", "Kode", "Keterangan, catatan"], line_break="CRLF")
    assert head.what_was_read() == {"delimiter": "semicolon", "encoding": "UTF-8", "line_break": "CRLF",
                                    "header_line": 3, "title_rows": 2}
    assert head.header_line == 3 and not head.fallback_encoding


def test_sniff_csv_head_reports_latin1(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes("nik|nama|kode|status\n1|José|32|x\n".encode("latin-1"))
    head = _sniff(path)
    assert (head.delimiter, head.encoding, head.fallback_encoding) == ("|", "latin-1", True)


def test_sniff_csv_head_uses_the_first_header_like_line(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("nik,nama,kode\nnik\tnama\tkode\tstatus\n")
    assert _sniff(path).header_index == 0


def test_sniff_csv_head_refusals(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("\n  \n\n")
    with pytest.raises(NotATable, match="file tidak berisi baris teks") as refused:
        _sniff(path)
    assert refused.value.message("en") == "the file has no text lines"
    path.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(NotATable, match=f"^no header in the first {sources.HEAD_LINES} lines$"):
        _sniff(path)
    path.write_text("".join(f"title {i}\n" for i in range(sources.HEAD_LINES)) + "nik,nama,kode\n")
    with pytest.raises(NotATable, match="no header"):
        _sniff(path)


def test_sniff_csv_head_reads_only_the_head(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "HEAD_BYTES", 16)
    path = tmp_path / "f.csv"
    path.write_text("x\nnik,nama,kode,status\n" + "1,2,3,4\n" * 1000)  # the header line is cut by the head
    with pytest.raises(NotATable, match="no header"):
        _sniff(path)
    path.write_text("nik,nama,kode\n" + "1,2,3\n" * 1000)
    assert _sniff(path).headers == ["nik", "nama", "kode"]


# -- Parquet ---------------------------------------------------------------------------------------------

def test_parquet_schema_and_floating_fields(tmp_path: Path) -> None:
    path = tmp_path / "f.parquet"
    pq.write_table(pa.table({"NIK": [3.2e15], "nama": ["a"], "kk": [1]}), path)
    schema = read_parquet_schema(path)
    assert schema.names == ["NIK", "nama", "kk"]
    assert floating_fields(schema, {"nik": 0, "no_kk": 2}, ("nik", "no_kk", "absent")) == {"nik"}
    path.write_bytes(b"PAR1" + b"x" * 20 + b"PAR1")
    with pytest.raises(NotATable, match=r"file Parquet tidak dapat dibaca \(ArrowInvalid\)"):
        read_parquet_schema(path)


# -- XLSX ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "identity", "expected"), [
    (None, False, None), ("'3201", True, "'3201"), (True, False, "True"), (False, False, "False"),
    (dt.datetime(2024, 1, 2), False, "2024-01-02"), (dt.datetime(2024, 1, 2, 3, 4), False, "2024-01-02 03:04:00"),
    (dt.date(2024, 1, 2), False, "2024-01-02"), (7.0, False, "7"), (1.5, False, "1.5"), (12, False, "12"),
    (3201011204900001, True, "3201011204900001"), (3.2010112049e15, True, "3.20101120490000E+15"),
    (3201011204900010, True, "3.20101120490001E+15"),  # ends in 0: Excel may have rounded it
    (9403011204900001, True, "9403011204900001"),  # above 2^53 and odd: no double holds it, written exactly
    (9403011204900002, True, "9.40301120490000E+15"),  # above 2^53 and even: may be a rounded odd NIK
    (3201011204900001, False, "3201011204900001"), (1e15, False, "1000000000000000.0"), (99, True, "99"),
])
def test_cell_text(value: object, identity: bool, expected: str | None) -> None:
    assert cell_text(value, identity) == expected


def test_cell_text_booleans_in_the_service_words() -> None:
    assert cell_text(True, False, ("Ya", "Tidak")) == "Ya"
    assert cell_text(False, False, ("Ya", "Tidak")) == "Tidak"


def test_open_workbook_ignores_the_file_name_and_refuses_damage(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "upload-without-extension", {"S": [["nik"]]})
    with open_workbook(path) as wb:
        assert wb.sheetnames == ["S"]
    damaged = tmp_path / "damaged"
    damaged.write_bytes(path.read_bytes()[:200])
    with pytest.raises(NotATable, match="rusak atau terpotong") as caught:  # refused by the archive guard
        open_workbook(damaged).__enter__()
    assert caught.value.key == "file.hostile_damaged" and "damaged or truncated" in caught.value.message("en")


def _positions(headers: list[str]) -> dict[str, int]:
    return VOCABULARY.match(headers).positions


def test_scan_sheets_sorts_the_sheets(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "b.xlsx", {
        "notes": [["read me"]],
        "A": [["Laporan"], [], ["NIK", "nama", "kode"]],
        "broken": [["nik", "nama", "kode", "no_nik"]],
        "B": [["kode", "nama", "nik", "status"]],
    })
    with open_workbook(path) as wb:
        scan = scan_sheets(wb, VOCABULARY.score, _positions, no_header=NO_SHEET, min_score=3)
    assert [(t.title, t.header_row, t.layout) for t in scan.tables] == [
        ("A", 3, {"nik": 0, "nama": 1, "kode": 2}), ("B", 1, {"kode": 0, "nama": 1, "nik": 2, "status": 3})]
    assert scan.ignored == ["notes"]
    assert scan.problems == ["broken: kolom 1 dan 4 sama-sama berisi nik"]
    assert [e.message("en") for e in scan.errors] == ["columns 1 and 4 both hold nik"]


def test_scan_sheets_refusals(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "b.xlsx", {"x": [["a", "b"]], "y": [["nik", "nama", "kode", "NIK"]]})
    with open_workbook(path) as wb, pytest.raises(LayoutError, match=r"^kolom 1 dan 4 sama-sama berisi nik$"):
        scan_sheets(wb, VOCABULARY.score, _positions, no_header=NO_SHEET, min_score=3)
    path = _workbook(tmp_path / "c.xlsx", {"x": [["a", "b"]]})
    with open_workbook(path) as wb, pytest.raises(NotATable, match=r"^no sheet has a header in its first 50 rows$"):
        scan_sheets(wb, VOCABULARY.score, _positions, no_header=NO_SHEET, min_score=3)


def test_stage_sheets_streams_text_columns_in_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "XLSX_CHUNK_ROWS", 2)
    path = _workbook(tmp_path / "b.xlsx", {
        "A": [["NIK", "nama", "kode"], [3201011204900001, "Budi", 32], [None, ""], ["'3201", True, 7.0],
              ["x", "y", "z"]],
        "B": [["title"], ["kode", "nik"], [dt.date(2024, 1, 2)]],  # a short row: nik absent
    })
    target = tmp_path / "staged.parquet"
    with open_workbook(path) as wb:
        scan = scan_sheets(wb, VOCABULARY.score, _positions, no_header=NO_SHEET, min_score=2)
        written = stage_sheets(wb, [(t.title, t.header_row, t.layout) for t in scan.tables], target,
                               columns=["_sheet", "_line", "nik", "nama", "kode"], line_column="_line",
                               sheet_column="_sheet", identity={"nik"}, bool_text=("Ya", "Tidak"))
    table = pq.read_table(target)
    assert written.rows == 4 and pq.ParquetFile(target).metadata.num_row_groups == 3
    assert written.blank_rows == 1 and written.numeric == {"nik": 1} and written.exact == {"nik": 1}
    assert table.schema.names == ["_sheet", "_line", "nik", "nama", "kode"]
    assert table.schema.field("_line").type == pa.int64() and table.schema.field("nama").type == pa.string()
    assert table.to_pylist() == [
        {"_sheet": "A", "_line": 2, "nik": "3201011204900001", "nama": "Budi", "kode": "32"},  # exact: read
        {"_sheet": "A", "_line": 4, "nik": "'3201", "nama": "Ya", "kode": "7"},
        {"_sheet": "A", "_line": 5, "nik": "x", "nama": "y", "kode": "z"},
        {"_sheet": "B", "_line": 3, "nik": None, "nama": None, "kode": "2024-01-02"},
    ]


def test_stage_sheets_without_rows_writes_the_schema(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "b.xlsx", {"A": [["nik", "nama", "kode"]]})
    target = tmp_path / "staged.parquet"
    with open_workbook(path) as wb:
        written = stage_sheets(wb, [("A", 1, {"nik": 0})], target, columns=["nik", "line", "sheet"],
                               line_column="line", sheet_column="sheet")
    assert written.rows == 0 and pq.read_table(target).num_rows == 0
    assert pq.read_schema(target).names == ["nik", "line", "sheet"]


@pytest.mark.parametrize(("niks", "expected", "exact"), [
    # written by a program: a NIK ending in 0 is exact too, since the column's others prove it
    ([3201011204900001, 3201011204900010], ["3201011204900001", "3201011204900010"], 2),
    # rounded by Excel (15 significant digits): every one ends in 0, digits lost
    ([3201011204900010, 3201011204900020], ["3.20101120490001E+15", "3.20101120490002E+15"], 0),
    # floats (scientific text in the XML) are never exact
    ([3.2010112049e15], ["3.20101120490000E+15"], 0),
])
def test_stage_sheets_reads_exact_16_digit_numbers_and_flags_rounded_ones(
        tmp_path: Path, niks: list[Any], expected: list[str], exact: int) -> None:
    rows = [["nik", "nama", "kode", "tgl"], *[[n, "x", "32", 45123] for n in niks]]
    path = _workbook(tmp_path / "n.xlsx", {"A": rows})
    target = tmp_path / "staged.parquet"
    with open_workbook(path) as wb:
        staged = stage_sheets(wb, [("A", 1, {"nik": 0, "nama": 1, "kode": 2, "tgl": 3})], target,
                              columns=["nik", "nama", "kode", "tgl", "_line", "_sheet"], line_column="_line",
                              sheet_column="_sheet", identity={"nik"}, dates={"tgl"})
    assert pq.read_table(target).column("nik").to_pylist() == expected
    assert staged.numeric == {"nik": len(niks)} and staged.exact.get("nik", 0) == exact
    assert staged.numeric_dates == {"tgl": len(niks)}  # a date column stored as Excel serial numbers


def test_sniff_csv_head_without_a_line_break_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "HEAD_BYTES", 64)
    path = tmp_path / "f.csv"
    path.write_text("nik,nama,kode," * 100)  # no line break in the head
    with pytest.raises(NotATable, match="tidak ada jeda baris dalam 64 byte") as refused:
        _sniff(path)
    assert refused.value.key == "file.no_line_break"
    assert "no line break in the first 64 bytes" in refused.value.message("en")
