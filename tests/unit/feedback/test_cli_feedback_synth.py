"""`p3ke feedback synth`: a deterministic synthetic data balikan whose rows land in the match classes it
planted, in a layout the feedback service's own parser reads."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from p3ke_feedback.adapters import sources
from p3ke_feedback.domain.layout import COLUMNS
from p3ke_feedback.domain.vocabulary import STATUS_ALIASES, MatchClass, MatchView, counts_in_view, token
from p3ke_feedback.synth import HEADER, INVALID_KINDS
from p3ke_platform.cli import main
from tests.unit.feedback.conftest import World, auth, upload

PACKAGE_FIELDS = ["nik", "nama", "jenis_kelamin", "tanggal_lahir", "provinsi", "kabupaten_kota", "kecamatan",
                  "desa_kelurahan", "kode_kemendagri", "desil_kesejahteraan", "pekerjaan", "status_pekerjaan"]


def write_package_csv(snapshot: Path, niks: list[str], out: Path, manifest: dict[str, Any] | None = None) -> Path:
    """The CSV of a delivery package for these persons, written as delivery writes it (pyarrow, text columns)."""
    table = pq.read_table(snapshot, columns=PACKAGE_FIELDS)
    table = table.filter(pc.is_in(table.column("nik"), pa.array(niks)))
    table = pa.table({n: pc.cast(table.column(n), pa.string()) for n in PACKAGE_FIELDS})
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as f, pcsv.CSVWriter(f, table.schema, write_options=pcsv.WriteOptions(
            include_header=True, quoting_style="needed")) as writer:
        writer.write_table(table)
    if manifest is not None:
        (out.parent / "manifest.json").write_text(json.dumps(manifest))
    return out


def synth(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["feedback", "synth", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def package(world: World) -> Path:
    return write_package_csv(world.snapshot, [p["nik"] for p in world.delivered], world.tmp / "pkg" / "P3KE_pk.csv",
                             {"handover_id": "ho-1", "program": "padat_karya", "created_at": "2026-03-01T02:00:00Z"})


def test_deterministic_for_a_seed(world: World, package: Path, capsys: pytest.CaptureFixture[str]) -> None:
    common = ["--package-csv", str(package), "--program", "padat_karya", "--extra-not-in-p3ke", "7",
              "--invalid-nik", "6", "--extra-not-delivered-from", str(world.snapshot), "9"]
    a = synth(capsys, *common, "--out", str(world.tmp / "a.csv"), "--seed", "3")
    b = synth(capsys, *common, "--out", str(world.tmp / "b.csv"), "--seed", "3")
    c = synth(capsys, *common, "--out", str(world.tmp / "c.csv"), "--seed", "4")
    assert c["expected_by_match_class"] == a["expected_by_match_class"]  # another sample, as many of each
    assert (world.tmp / "a.csv").read_bytes() == (world.tmp / "b.csv").read_bytes()
    assert (world.tmp / "a.csv").read_bytes() != (world.tmp / "c.csv").read_bytes()
    assert {k: v for k, v in a.items() if k != "out"} == {k: v for k, v in b.items() if k != "out"}
    assert a["handover_id"] == "ho-1" and a["start"] == "2026-03-15"  # 14 days after the manifest's created_at
    assert a["expected_by_match_class"] == {"in_extract": 320, "in_p3ke_not_delivered": 9, "not_in_p3ke": 7,
                                            "invalid_nik": 6}
    assert a["rows"] == 342 == len(read_rows(world.tmp / "a.csv"))
    assert a["invalid_nik_kinds"] == {kind: 1 for kind in INVALID_KINDS}


def test_planted_rows_are_what_they_claim(world: World, package: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = world.tmp / "balikan.csv"
    summary = synth(capsys, "--package-csv", str(package), "--program", "pk", "--out", str(out), "--seed", "1",
                    "--served-share", "0.5", "--extra-not-in-p3ke", "12", "--invalid-nik", "12",
                    "--extra-not-delivered-from", str(world.snapshot), "15")
    rows = read_rows(out)
    assert list(rows[0]) == list(HEADER)
    delivered = {p["nik"] for p in world.delivered}
    niks = [r["NIK"] for r in rows]
    filled = [n for n in niks if n]
    assert len(set(filled)) == len(filled)  # nobody twice: no planted duplicates
    served = [n for n in niks if n in delivered]
    outside = [n for n in niks if n in world.present and n not in delivered]
    strangers = [n for n in niks if len(n) == 16 and n.isdigit() and n not in world.present
                 and not n.startswith("00") and n[8:10] != "13" and not n.endswith("0000")]
    assert len(served) == 200 and len(outside) == 15 and len(strangers) == 12
    assert all(int(n[-4:]) >= 5000 for n in strangers)
    assert len(rows) - len(served) - len(outside) - len(strangers) == 12  # the invalid ones
    assert summary["expected_by_match_class"]["in_extract"] == 200
    assert {r["Kode Program"] for r in rows} == {"padat_karya"}
    assert all(token(r["Status Kepesertaan"]) in STATUS_ALIASES for r in rows)
    completed = [r for r in rows if token(r["Status Kepesertaan"]) == "selesai"]
    assert completed and all(r["Tanggal Selesai"] for r in completed)
    assert all(r["Kode Wilayah"].isdigit() and len(r["Kode Wilayah"]) == 10 for r in rows)
    assert all(int(r["Nilai Manfaat (Rp)"]) > 0 for r in rows if r["Nilai Manfaat (Rp)"])


def test_the_feedback_parser_reads_every_column(world: World, package: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "balikan.csv"
    synth(capsys, "--package-csv", str(package), "--program", "padat_karya", "--out", str(out),
          "--invalid-nik", "3")
    con = duckdb.connect()
    staged = sources.stage(con, out, tmp_path)
    assert staged.fmt == "csv" and staged.rows == 323 and staged.layout.unknown == []
    assert [n.key for n in staged.notes] == ["file.file_read"]  # what was read, nothing else
    assert sorted(staged.layout.positions) == sorted(COLUMNS)


def test_matched_by_the_service_as_planted(world: World, client: TestClient, package: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = world.tmp / "balikan.csv"
    summary = synth(capsys, "--package-csv", str(package), "--program", "padat_karya", "--out", str(out),
                    "--seed", "9", "--extra-not-in-p3ke", "11", "--invalid-nik", "13",
                    "--extra-not-delivered-from", str(world.snapshot), "17")
    r = upload(client, world, out)
    assert r.status_code == 201, r.text
    batch = r.json()
    expected = summary["expected_by_match_class"]
    # party 2 learns only whether a row was in the handover; party 1 sees the classes as planted
    assert batch["match_view"] == "handover"
    assert batch["counts_by_match_class"] == counts_in_view(expected, MatchView.HANDOVER)  # and no duplicate
    steward = client.get(f"/v1/feedback-batches/{batch['batch_id']}",
                         headers=auth(world.runtime, "kemenkopmk", "data-steward")).json()
    assert steward["match_view"] == "p3ke" and steward["counts_by_match_class"] == expected
    assert MatchClass.DUPLICATE.value not in expected
    assert batch["served"] == expected["in_extract"] + expected["in_p3ke_not_delivered"] + expected["not_in_p3ke"]
    assert batch["rows_rejected"] == 13
    errors = {code for code in batch["counts_by_finding"] if code.startswith("nik_")}
    assert errors == {"nik_missing", "nik_format", "nik_scientific", "nik_province_unknown", "nik_date_invalid",
                      "nik_serial_zero"}
    # nothing else is wrong with the rows: not even the start date (after the BAST) or a completed row's end
    assert set(batch["counts_by_finding"]) == errors
    assert sum(batch["counts_by_status"].values()) == batch["served"]


def test_refuses_bad_input(world: World, package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["feedback", "synth", "--package-csv", str(package), "--out", str(tmp_path / "x.csv")]
    assert main([*base, "--program", "Bansos!"]) == 2
    assert "unknown program 'Bansos!'" in capsys.readouterr().err
    assert main([*base, "--program", "pk", "--extra-not-delivered-from", str(tmp_path / "nope.csv"), "3",
                 "--json"]) == 2
    captured = capsys.readouterr()
    assert "no such snapshot file" in captured.err and json.loads(captured.out)["error"]["exit_code"] == 2
    empty = tmp_path / "empty.csv"
    empty.write_text("nama,kode\n")
    assert main(["feedback", "synth", "--package-csv", str(empty), "--out", str(tmp_path / "x.csv"),
                 "--program", "pk"]) == 2
    assert "no header row with a `nik` column" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*base, "--program", "pk", "--served-share", "1.5"])
    assert main([*base, "--program", "tkm"]) == 0  # the manifest says padat_karya: a note, not a refusal
    captured = capsys.readouterr()
    assert "manifest.json is for program padat_karya" in captured.err and "next: p3ke feedback upload" in captured.out
