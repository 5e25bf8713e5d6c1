"""Files shaped like real ministry exports get explanations a data steward can act on (#20): Indonesian first,
English on request, each with how to fix it; a column a spreadsheet spoiled as a whole is one file-level
reason, exact 16-digit numbers are read right, summary and blank rows are not rejected rows, and the steward
is told what was read. The data is synthetic (`p3ke_ingest.synth.generate`); the defects are written here."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow.parquet as pq
import pytest

from p3ke_ingest.synth import generate
from p3ke_platform.tabular.sources import EXACT_DOUBLE, HEAD_BYTES
from tests.unit.ingest.support import check, findings, reasons_en

N = 300


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> list[list[str]]:
    """The rows (header first) of a clean individual file of Jawa Barat (every NIK below 2^53)."""
    out = generate(tmp_path_factory.mktemp("synth"), individuals=N, seed=20, provinces="32")
    with out.individual_path.open(encoding="utf-8", newline="") as f:  # type: ignore[union-attr]
        return list(csv.reader(f))


def _xlsx(path: Path, rows: list[list[Any]], title_rows: int = 0) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Data Individu"
    for i in range(title_rows):
        ws.append([f"Laporan P3KE {i + 1}"])
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


def _with_column(rows: list[list[str]], name: str, convert: Any) -> list[list[Any]]:
    i = rows[0].index(name)
    return [rows[0], *[[*r[:i], convert(r[i]), *r[i + 1:]] for r in rows[1:]]]


def _file_findings(outcome: Any) -> dict[str, dict[str, Any]]:
    return {f["code"]: f for f in findings(outcome, info=True) if f["data_row"] is None}


def test_an_xlsx_whose_nik_column_excel_stored_as_numbers_is_refused_with_one_file_level_reason(
        tmp_path: Path, export: list[list[str]]) -> None:
    # Excel keeps 15 significant digits of a number: the 16th digit of every NIK is gone
    rows = _with_column(export, "nik", lambda nik: float(f"{int(nik):.15g}"))
    outcome = check(tmp_path, _xlsx(tmp_path / "numeric.xlsx", rows))
    assert not outcome.accepted
    first = outcome.reasons[0]  # the cause first, then the verdict
    assert first.startswith("file individu numeric.xlsx: kolom NIK tersimpan sebagai angka")
    assert "Cara memperbaiki: format kolom NIK sebagai Teks" in first and "ekspor ulang" in first
    assert "no valid row" not in first and "tidak berisi satu pun baris yang sah" in outcome.reasons[1]
    english = reasons_en(outcome)[0]
    assert english.startswith("individual file numeric.xlsx: the NIK column is stored as numbers")
    assert "How to fix: format the NIK column as Text" in english
    note = _file_findings(outcome)["nik_column_numeric"]
    assert note["severity"] == "error" and f"{N} dari {N} baris" in note["message"]
    assert note["fix"].startswith("format kolom NIK sebagai Teks") and note["fix_en"].startswith("format the NIK")
    row = next(f for f in findings(outcome) if f["code"] == "nik_scientific")
    assert "digit terakhirnya hilang" in row["message"] and row["fix"] and "last digits are lost" in row["message_en"]


def test_exact_16_digit_integers_written_by_a_program_are_read_as_the_right_nik(
        tmp_path: Path, export: list[list[str]]) -> None:
    i = export[0].index("nik")
    export = [list(r) for r in export]
    export[1][i] = export[1][i][:-4] + "0010"  # a NIK ending in 0: exact, as the column's others prove
    niks = [r[i] for r in export[1:]]
    assert all(int(n) <= EXACT_DOUBLE for n in niks)
    rows = _with_column(export, "nik", int)  # openpyxl writes the exact number (no rounding to 15 digits)
    outcome = check(tmp_path, _xlsx(tmp_path / "exact.xlsx", rows, title_rows=2))
    assert outcome.accepted, outcome.reasons
    assert outcome.individuals == N and outcome.rows_rejected == 0
    assert sorted(pq.read_table(outcome.snapshot[0]).column("nik").to_pylist()) == sorted(niks)  # type: ignore[index]
    notes = _file_findings(outcome)
    exact = notes["nik_column_numeric_exact"]
    assert exact["severity"] == "warning" and "dibaca dengan benar" in exact["message"]
    assert "read correctly" in exact["message_en"] and "Excel" in exact["fix"]
    assert "nik_column_numeric" not in notes and not [f for f in findings(outcome) if f["code"] == "nik_scientific"]
    read = notes["file_read"]  # what was read: the sheet, the header row, the title rows skipped
    assert read["severity"] == "info"
    assert read["message"] == "dibaca sebagai XLSX: lembar Data Individu, judul kolom di baris 3, 2 baris judul di " \
                              "atasnya dilewati"
    assert read["message_en"] == "read as XLSX: sheet Data Individu, header on row 3, 2 title rows above it skipped"


def test_dates_stored_as_numbers_are_one_file_level_reason(tmp_path: Path, export: list[list[str]]) -> None:
    serial = dt.date(1899, 12, 30)
    rows = _with_column(export, "tanggal_lahir", lambda d: (dt.date.fromisoformat(d) - serial).days)
    outcome = check(tmp_path, _xlsx(tmp_path / "dates.xlsx", rows))
    assert not outcome.accepted
    assert outcome.reasons[0].startswith("file individu dates.xlsx: kolom tanggal_lahir tersimpan sebagai angka")
    assert "format kolom tanggal_lahir sebagai Tanggal" in outcome.reasons[0]
    assert "the column tanggal_lahir is stored as numbers" in reasons_en(outcome)[0]


def test_a_shifted_header_is_one_file_level_reason(tmp_path: Path, export: list[list[str]]) -> None:
    path = tmp_path / "shifted.csv"
    header = export[0]
    lines = [",".join(header)] + [",".join(["", *r[:-1]]) for r in export[1:]]  # data one column to the right
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    outcome = check(tmp_path, path)
    assert not outcome.accepted
    shifted = _file_findings(outcome)["columns_shifted"]
    assert shifted["severity"] == "error" and "judul kolom kemungkinan bergeser" in shifted["message"]
    assert "the header probably does not sit over its data" in shifted["message_en"]
    assert any("bergeser" in r for r in outcome.reasons)


def test_summary_and_blank_rows_are_warnings_not_rejected_rows(tmp_path: Path, export: list[list[str]]) -> None:
    width = len(export[0])
    lines = [",".join(r) for r in export]
    lines.insert(50, "," * (width - 1))  # an all-empty row inside the table
    lines += ["," * (width - 1), f"Jumlah Data: {N}" + "," * (width - 1), "Total," + "," * (width - 2)]
    path = tmp_path / "summary.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    outcome = check(tmp_path, path, max_rejected_share=0.0)  # not one row may be rejected
    assert outcome.accepted, outcome.reasons
    assert outcome.individuals == N and outcome.rows_rejected == 0
    files = outcome.summary["files"]["individual"]
    assert files["rows"] == N and files["rejected"] == 0
    codes = [(f["line"], f["code"], f["severity"]) for f in findings(outcome) if f["data_row"] is not None]
    assert codes == [(51, "blank_row", "warning"), (N + 3, "blank_row", "warning"),
                     (N + 4, "summary_row", "warning"), (N + 5, "summary_row", "warning")]
    skipped = _file_findings(outcome)["rows_skipped"]
    assert skipped["message"].startswith("2 baris kosong dan 2 baris ringkasan dikenali dan dilewati")
    assert "2 empty rows and 2 summary rows" in skipped["message_en"]


def test_bom_semicolon_crlf_and_title_rows_are_told_back(tmp_path: Path) -> None:
    out = generate(tmp_path / "synth", individuals=50, seed=21, defect_kinds="header_rows,semicolon,bom,crlf")
    outcome = check(tmp_path, out.individual_path)  # type: ignore[arg-type]
    assert outcome.accepted, outcome.reasons
    read = _file_findings(outcome)["file_read"]
    assert read["severity"] == "info"
    assert "pemisah titik koma (;), pengodean UTF-8 + BOM, akhir baris CRLF" in read["message"]
    assert "delimiter semicolon (;), encoding UTF-8 + BOM, line ends CRLF" in read["message_en"]
    lines = out.individual_path.read_bytes().split(b"\r\n")  # type: ignore[union-attr]
    header_line = next(i for i, line in enumerate(lines, start=1) if b"nik" in line.lower())
    assert f"judul kolom di baris {header_line}, {header_line - 1} baris judul" in read["message"]


def test_a_file_without_a_line_break_in_its_head_gets_a_precise_reason(tmp_path: Path,
                                                                        export: list[list[str]]) -> None:
    path = tmp_path / "one-line.csv"
    body = " ".join(",".join(r) for r in export)
    path.write_text(body * (HEAD_BYTES // len(body) + 2), encoding="utf-8")
    outcome = check(tmp_path, path)
    assert not outcome.accepted
    assert outcome.reasons[0].startswith("file individu one-line.csv: tidak ada jeda baris dalam 1,048,576 byte "
                                         "(1 MiB) pertama file")
    assert "Cara memperbaiki: ekspor ulang sebagai CSV dengan satu baris per orang" in outcome.reasons[0]
    assert "no line break in the first 1,048,576 bytes" in reasons_en(outcome)[0]
    assert "no text lines" not in reasons_en(outcome)[0]


def test_an_over_long_line_states_the_limit_and_its_size(tmp_path: Path, export: list[list[str]]) -> None:
    rows = [list(r) for r in export]
    rows[5][rows[0].index("alamat")] = "x" * 300_000
    path = tmp_path / "long.csv"
    path.write_text("\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8")
    outcome = check(tmp_path, path, max_line_bytes=100_000)
    [long] = [f for f in findings(outcome) if f["code"] == "row_malformed"]
    assert long["line"] == 6 and long["severity"] == "error"
    assert long["message"].startswith("baris tidak dapat dibaca: panjangnya 300,")
    assert long["message"].endswith("byte, lebih dari batas 100,000 byte") and "tanda kutip" in long["fix"]
    assert "over the limit of 100,000 bytes" in long["message_en"] and "unclosed quote" in long["fix_en"]


def test_every_finding_in_a_dirty_export_has_an_indonesian_message_and_a_fix(tmp_path: Path) -> None:
    out = generate(tmp_path / "synth", individuals=2000, seed=22, defects=0.05)
    outcome = check(tmp_path, out.individual_path, out.family_path, max_rejected_share=1.0)  # type: ignore[arg-type]
    rows = findings(outcome, info=True)
    assert len({f["code"] for f in rows}) >= 10
    for f in rows:
        assert f["message"] and f["message_en"] and f["message"] != f["message_en"], f
        if f["severity"] != "info":
            assert f["fix"] and f["fix_en"], f
