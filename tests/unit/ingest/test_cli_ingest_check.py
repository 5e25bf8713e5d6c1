"""`p3ke ingest check` (human by default, --json) and `p3ke synth --json`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from p3ke_platform.cli import main


def test_synth_json_then_check_human_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["synth", "--out", str(tmp_path / "s"), "--families", "60", "--seed", "4", "--defects", "0.02",
                 "--defect-kinds", "nik_missing", "--json"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert captured.err == ""  # no bar: stderr is not a terminal
    assert summary["seed"] == 4 and summary["families"] == 60 and summary["format"] == "csv"
    individual = summary["files"]["individual"]
    family = summary["files"]["family"]
    assert Path(individual["path"]).is_file() and family["rows"] == 60
    assert summary["defects"]["by_kind"] == {"nik_missing": summary["defects"]["total"]}
    assert summary["defects"]["total"] > 0 and Path(summary["defects"]["log"]).is_file()

    assert main(["synth", "--out", str(tmp_path / "s2"), "--families", "5"]) == 0
    out = capsys.readouterr().out
    assert "keluarga.csv  5 rows" in out and "next: p3ke ingest check" in out

    report = tmp_path / "findings.csv"
    assert main(["ingest", "check", individual["path"], "--family", family["path"], "--report", str(report)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("accepted: the files would be published")
    assert "individual  individu.csv" in out and "nik_missing" in out and f"findings report: {report}" in out
    assert report.is_file()

    assert main(["ingest", "check", individual["path"], "--family", family["path"], "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["accepted"] is True and result["reasons"] == []
    assert result["files"]["individual"]["rows"] == individual["rows"]
    assert sum(f["findings_by_code"].get("nik_missing", 0) for f in result["files"].values()) \
        == summary["defects"]["total"]  # planted in both files


def test_check_refuses_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "x.csv"
    bad.write_text("hello\nworld\n")
    assert main(["ingest", "check", str(bad)]) == 3
    out = capsys.readouterr().out
    assert out.startswith("NOT ACCEPTED") and "reason: file individu x.csv" in out and "Cara memperbaiki" in out
    assert main(["ingest", "check", str(bad), "--json"]) == 3
    assert json.loads(capsys.readouterr().out)["accepted"] is False
    assert main(["ingest", "check", str(tmp_path / "nope.csv"), "--json"]) == 2
    captured = capsys.readouterr()
    assert "no such file" in captured.err and json.loads(captured.out)["error"]["exit_code"] == 2
