"""The package: CSV + XLSX + manifest in an AES-256 ZIP that 7-Zip (Debian's p7zip-full) opens with
the password, and whose content is the extract, row for row."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import subprocess
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from p3ke_delivery.adapters import extract, package, xlsx_stream
from tests.unit.delivery.support import SEVEN_ZIP, seven_zip_extract, synthetic_extract

PASSWORD = "Abcde-Fghij-Kmnpq-Rstuv-Wxyz2"
needs_7z = pytest.mark.usefixtures("seven_zip_installed")


def _build(tmp_path: Path, rows: int, fmt: str = "parquet", **kwargs: object) -> tuple[Path, package.Package]:
    source, sha = synthetic_extract(tmp_path, rows, fmt=fmt)
    built = package.build(source, tmp_path / "out" / "package.zip", PASSWORD, base="P3KE_padat_karya_ex-1",
                          manifest={"bast_number": "001/BAST-P3KE/PK/XI/2026", "extract_sha256": sha},
                          **kwargs)  # type: ignore[arg-type]
    return source, built


@needs_7z
@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_package_opens_with_7z_and_matches_the_extract(tmp_path: Path, fmt: str) -> None:
    source, built = _build(tmp_path, 2500, fmt, batch_rows=1024)
    assert built.rows == 2500
    assert hashlib.sha256(built.path.read_bytes()).hexdigest() == built.sha256

    listing = subprocess.run([SEVEN_ZIP, "l", "-slt", f"-p{PASSWORD}", str(built.path)], capture_output=True,
                             text=True, check=True).stdout
    methods = [line for line in listing.splitlines() if line.startswith("Method = ")]
    assert len(methods) == 3 and all("AES-256" in m for m in methods), methods

    out = tmp_path / "opened"
    done = seven_zip_extract(built.path, PASSWORD, out)
    assert done.returncode == 0, done.stdout + done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["bast_number"] == "001/BAST-P3KE/PK/XI/2026"
    assert manifest["record_count"] == 2500
    assert sum(manifest["counts_by_desil"].values()) == 2500
    for item in manifest["files"]:  # the manifest's checksums are those of the files as extracted
        data = (out / item["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == item["sha256"] and len(data) == item["size"]

    expected = pq.read_table(source) if fmt == "parquet" else None
    with (out / "P3KE_padat_karya_ex-1.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2500
    if expected is not None:
        assert [r["nik"] for r in rows] == expected.column("nik").to_pylist()
        assert rows[10]["tanggal_lahir"] == expected.column("tanggal_lahir")[10].as_py().isoformat()
    else:
        with source.open(newline="", encoding="utf-8") as fh:
            assert rows == list(csv.DictReader(fh))

    sheet = openpyxl.load_workbook(out / "P3KE_padat_karya_ex-1.xlsx", read_only=True)["data"]
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == [f["name"] for f in manifest["fields"]]
    assert len(values) == 2501
    assert [v[0] for v in values[1:]] == [r["nik"] for r in rows]  # NIKs stay text, leading digits intact
    assert all(isinstance(v[0], str) and len(v[0]) == 16 for v in values[1:])


@needs_7z
def test_wrong_password_opens_nothing(tmp_path: Path) -> None:
    _, built = _build(tmp_path, 50)
    done = seven_zip_extract(built.path, "not-the-password", tmp_path / "x")
    assert done.returncode != 0
    assert "Wrong password" in done.stdout + done.stderr
    assert not (tmp_path / "x" / "P3KE_padat_karya_ex-1.csv").exists() or \
        (tmp_path / "x" / "P3KE_padat_karya_ex-1.csv").stat().st_size == 0


def test_package_bytes_hold_no_plaintext(tmp_path: Path) -> None:
    source, built = _build(tmp_path, 300)
    first = pq.read_table(source).slice(0, 1).to_pylist()[0]
    raw = built.path.read_bytes()
    for value in (first["nik"], first["nama"], "NAMA SINTETIS", "nik,nama"):
        assert value.encode() not in raw
    assert not list((tmp_path / "out").glob(".*tmp"))  # no temporary file left behind


def test_xlsx_rolls_over_to_a_new_sheet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xlsx_stream, "MAX_ROWS", 101)
    batch = pa.RecordBatch.from_pydict({"nik": [f"9901{i:012d}" for i in range(250)],
                                        "n": pa.array(range(250), pa.int32())})
    sink = io.BytesIO()
    rows = xlsx_stream.write_table(sink, batch.schema, [batch.slice(0, 130), batch.slice(130)])
    assert rows == 250
    book = openpyxl.load_workbook(io.BytesIO(sink.getvalue()), read_only=True)
    assert book.sheetnames == ["data", "data_2", "data_3"]
    seen = [r for name in book.sheetnames for r in list(book[name].iter_rows(values_only=True))[1:]]
    assert [r[0] for r in seen] == batch.column("nik").to_pylist()
    assert [r[1] for r in seen] == list(range(250))


def test_xlsx_escapes_text_and_keeps_nulls_in_place() -> None:
    batch = pa.RecordBatch.from_pydict({"a": ["<b>&</b>", None, "ctrl\x01char"], "b": pa.array([1, None, 3])})
    sink = io.BytesIO()
    xlsx_stream.write_table(sink, batch.schema, [batch])
    rows = list(openpyxl.load_workbook(io.BytesIO(sink.getvalue()), read_only=True)["data"].iter_rows(values_only=True))
    assert rows[1:] == [("<b>&</b>", 1), (None, None), ("ctrlchar", 3)]


@pytest.mark.parametrize(("uri", "problem"), [
    ("http://example.org/x.parquet", "scheme 'http' is not supported"),
    ("file://evil.example/x.parquet", "remote host"),
    ("/etc/passwd", "outside the shared data directory"),
    ("../outside.parquet", "outside the shared data directory"),
    ("extracts/missing.parquet", "does not exist"),
])
def test_extract_location_is_confined(tmp_path: Path, uri: str, problem: str) -> None:
    (tmp_path / "root" / "extracts").mkdir(parents=True)
    with pytest.raises(extract.ExtractError, match=problem):
        extract.resolve(uri, tmp_path / "root")


def test_extract_resolves_paths_and_file_uris(tmp_path: Path) -> None:
    path, _ = synthetic_extract(tmp_path, 3)
    assert extract.resolve(path.as_uri(), tmp_path) == path
    assert extract.resolve(str(path.relative_to(tmp_path)), tmp_path) == path
