"""Bad input gets a precise reason (a refused version or a row-level finding), never a crash."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from p3ke_ingest import p3ke_columns as cols
from p3ke_ingest.adapters.sources import NotATable, open_source
from p3ke_ingest.domain.layout import LayoutError, canonical
from p3ke_ingest.synth import generate
from tests.unit.ingest.support import check, findings, reasons_en


@pytest.fixture(scope="module")
def clean_csv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("clean")
    r = generate(out, individuals=400, seed=4)
    return r.individual_path, r.family_path  # type: ignore[return-value]


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _set_field(lines: list[str], row: int, column: str, value: str) -> None:
    """Put `value` in `column` of data row `row` (line `row + 1`) of a CSV's lines, in place."""
    fields = lines[row].split(",")
    fields[lines[0].split(",").index(column)] = value
    lines[row] = ",".join(fields)


@pytest.mark.parametrize(("content", "reason"), [
    (b"", "empty"),
    (bytes(range(256)) * 40, "binary"),
    (b"\x00\x01PK garbage", "binary"),
    (b"just some text\nwithout a table\n", "no header row"),
    (b"PK\x03\x04 not really a zip", "damaged"),
    (b"PAR1 truncated", "truncated"),
])
def test_files_that_are_not_tables_are_refused_with_the_reason(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "upload.bin"
    path.write_bytes(content)
    outcome = check(tmp_path, path)
    assert not outcome.accepted
    assert len(outcome.reasons) == 1 and reason in reasons_en(outcome)[0], outcome.reasons
    if reason != "damaged":  # the archive guard's reason is bilingual, its fix included
        assert "Cara memperbaiki: " in outcome.reasons[0] and "How to fix: " in reasons_en(outcome)[0]
    assert outcome.snapshot is None


def test_a_file_with_only_the_header_is_refused(tmp_path: Path, clean_csv: tuple[Path, Path]) -> None:
    path = tmp_path / "header-only.csv"
    path.write_text(_lines(clean_csv[0])[0] + "\n", encoding="utf-8")
    outcome = check(tmp_path, path)
    assert reasons_en(outcome) == [
        "the individual file has no data rows. How to fix: fill the table below the header row"]
    assert outcome.reasons == [
        "file individu tidak berisi baris data. Cara memperbaiki: isi tabel di bawah baris judul kolom"]


def test_a_wrong_layout_names_the_missing_columns(tmp_path: Path, clean_csv: tuple[Path, Path]) -> None:
    rows = list(csv.reader(io.StringIO(clean_csv[0].read_text(encoding="utf-8"))))
    keep = [i for i, h in enumerate(rows[0]) if h not in ("nik", "tanggal_lahir")]
    path = tmp_path / "no-nik.csv"
    path.write_text("\n".join(",".join(f'"{r[i]}"' for i in keep) for r in rows) + "\n", encoding="utf-8")
    outcome = check(tmp_path, path)
    assert not outcome.accepted
    assert "required columns missing: nik, tanggal_lahir" in reasons_en(outcome)[0]
    assert "kolom wajib tidak ada: nik, tanggal_lahir" in outcome.reasons[0]
    family_as_individual = check(tmp_path / "f", clean_csv[1])
    assert "this is a family file" in reasons_en(family_as_individual)[0]
    assert "ini file keluarga" in family_as_individual.reasons[0]


def test_headers_are_mapped_by_case_spacing_and_alias(tmp_path: Path, clean_csv: tuple[Path, Path]) -> None:
    assert canonical(" NIK ") == "nik" and canonical("No. KK") == "no_kk"
    assert canonical("Desil") == "desil_kesejahteraan"
    assert canonical("Kode Wilayah") == "kode_kemendagri" and canonical("Tgl Lahir") == "tanggal_lahir"
    assert canonical("Hubungan dengan Kepala Keluarga") == "hubungan_dengan_kepala_keluarga"
    assert canonical("warna favorit") is None
    lines = _lines(clean_csv[0])
    header = [{"nik": "NIK", "no_kk": "No. KK", "desil_kesejahteraan": "Desil", "kode_kemendagri": "Kode Wilayah",
               "tanggal_lahir": "Tanggal Lahir", "jenis_kelamin": "Jenis Kelamin"}.get(h, h.upper())
              for h in lines[0].split(",")]
    path = tmp_path / "aliases.csv"
    body = ["Laporan P3KE", "Dicetak 2023-02-28", ",".join(header) + ",Catatan", *(line + "," for line in lines[1:])]
    path.write_text("\n".join(body) + "\n", encoding="utf-8")
    outcome = check(tmp_path, path)
    assert outcome.accepted, outcome.reasons
    assert outcome.individuals == len(lines) - 1
    notes = [f for f in findings(outcome) if f["data_row"] is None]
    assert [n["code"] for n in notes] == ["columns_unknown"] and "Catatan" in notes[0]["message"]


def test_malformed_lines_are_findings_and_later_rows_keep_their_numbers(tmp_path: Path,
                                                                       clean_csv: tuple[Path, Path]) -> None:
    lines = _lines(clean_csv[0])
    lines[5] = lines[5] + ",extra"  # data row 5 (line 6): one field too many
    lines[10] = "P123,I123"  # data row 10: too few
    lines[20] = lines[20].replace("Ya", "Ya" + "x" * 10_000_000, 1)  # data row 20: 10 MB in one field
    lines[30] = lines[30].replace("Kepala Keluarga", "Kepala Rumah", 1).replace("Anak", "Anak Tiri", 1)
    _set_field(lines, 40, "nik", "3.20101E+15")  # data row 40: a NIK as a spreadsheet shows it
    path = tmp_path / "malformed.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    outcome = check(tmp_path, path, max_line_bytes=1 << 20)
    assert outcome.accepted
    got = {(f["data_row"], f["line"], f["code"]) for f in findings(outcome)}
    assert {(5, 6, "row_malformed"), (10, 11, "row_malformed"), (20, 21, "row_malformed"),
            (30, 31, "hubungan_unknown"), (40, 41, "nik_scientific")} <= got
    messages = {f["data_row"]: f["message"] for f in findings(outcome) if f["code"] == "row_malformed"}
    assert "kolomnya lebih banyak dari judul kolom" in messages[5]
    assert "panjangnya 10,000," in messages[20] and "batas 1,048,576 byte" in messages[20]
    english = {f["data_row"]: f["message_en"] for f in findings(outcome) if f["code"] == "row_malformed"}
    assert "more fields than the header" in english[5] and "over the limit of 1,048,576 bytes" in english[20]
    assert outcome.rows_rejected == 4
    assert outcome.individuals == len(lines) - 1 - 4


def test_a_latin_1_file_is_read_with_a_note(tmp_path: Path, clean_csv: tuple[Path, Path]) -> None:
    lines = _lines(clean_csv[0])
    _set_field(lines, 1, "alamat", "Jl. Cemara No. 5 (dekat Café)")
    path = tmp_path / "latin1.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    outcome = check(tmp_path, path)
    assert outcome.accepted
    assert [f["code"] for f in findings(outcome)] == ["encoding_not_utf8"]
    alamat = pq.read_table(outcome.snapshot[0]).column("alamat").to_pylist()  # type: ignore[index]
    assert "Jl. Cemara No. 5 (dekat Café)" in alamat


def test_an_xlsx_with_several_sheets(tmp_path: Path) -> None:
    import openpyxl

    src = generate(tmp_path / "x", individuals=300, seed=6, fmt="xlsx", family_file=False)
    wb = openpyxl.load_workbook(src.individual_path)
    ws = wb.active
    rows = list(ws.iter_rows(values_only=True))
    notes = wb.create_sheet("Catatan", 0)
    notes.append(["Sumber: Kemenko PMK"])
    second = wb.create_sheet("Individu 2")
    second.append(["Lanjutan"])
    second.append(list(rows[0]))
    for row in rows[201:]:
        second.append(list(row))
    ws.delete_rows(202, len(rows))
    path = tmp_path / "sheets.xlsx"
    wb.save(path)
    outcome = check(tmp_path, path)
    assert outcome.accepted, outcome.reasons
    assert outcome.individuals == 300
    codes = {f["code"]: f["message"] for f in findings(outcome)}
    assert "Catatan" in codes["sheets_ignored"] and "Individu 2" in codes["sheets_combined"]


def test_individuals_must_point_to_a_family_in_the_family_file(tmp_path: Path, clean_csv: tuple[Path, Path]) -> None:
    fam = _lines(clean_csv[1])
    path = tmp_path / "keluarga.csv"
    path.write_text("\n".join(fam[:1] + fam[2:]) + "\n", encoding="utf-8")  # drop the first family
    missing = fam[1].split(",")[0]
    outcome = check(tmp_path, clean_csv[0], path)
    members = [i for i, line in enumerate(_lines(clean_csv[0])[1:], start=1) if line.startswith(missing + ",")]
    got = [f["data_row"] for f in findings(outcome) if f["code"] == "family_unknown"]
    assert got == members and members


def test_the_desil_range_is_configuration(tmp_path: Path, clean_csv: tuple[Path, Path]) -> None:
    lines = _lines(clean_csv[0])
    _set_field(lines, 1, "desil_kesejahteraan", "7")
    path = tmp_path / "dtsen.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    p3ke = check(tmp_path / "a", path)
    assert [(f["data_row"], f["code"]) for f in findings(p3ke)] == [(1, "desil_out_of_range")]
    dtsen = check(tmp_path / "b", path, desil_max=10)
    assert findings(dtsen) == [] and dtsen.counts_by_desil.get("7") == 1


def test_sniffing_reads_only_the_head(tmp_path: Path, clean_csv: tuple[Path, Path]) -> None:
    src = open_source(clean_csv[0], "individual", tmp_path)
    assert (src.fmt, src.delimiter, src.header_line, src.encoding) == ("csv", ",", 1, "utf-8")
    with pytest.raises(NotATable):
        open_source(_write(tmp_path / "e.csv", b"\n\n\n"), "individual", tmp_path)
    with pytest.raises(LayoutError):
        open_source(_write(tmp_path / "d.csv", b"nik,nik,nama,id_individu\n1,2,3,4\n"), "individual", tmp_path)
    assert set(cols.INDIVIDUAL_COLUMNS) >= set(src.layout.positions)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
