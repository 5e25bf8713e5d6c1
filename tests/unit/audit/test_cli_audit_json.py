"""`p3ke audit verify-bundle`: a human line by default, one JSON report with --json, the same exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from p3ke_platform.cli import main
from p3ke_platform.tlog.note import verifier_key
from tests.unit.audit.test_entry_and_bundle import ORIGIN, _bundle


def test_verify_bundle_human_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle, key = _bundle()
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    vkey = verifier_key(ORIGIN, key.public_key())

    assert main(["audit", "verify-bundle", str(path), "--key", vkey]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: 3 entries and 1 earlier checkpoints verified against the signed tree of 9")
    assert out.splitlines()[1].startswith("PERHATIAN: asal entri (tanda tangan produsen event) TIDAK diperiksa")
    assert "origin (their producers' signatures) was NOT checked" in out.splitlines()[2]

    assert main(["audit", "verify-bundle", str(path), "--key", vkey, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {k: report.pop(k) for k in ("origin_checked", "origin_failures", "warnings")} == {
        "origin_checked": False, "origin_failures": [],
        "warnings": ["NOTE: the entries' origin (their producers' signatures) was NOT checked; give --event-keys "
                     "(from `p3ke audit event-keys`)"]}
    assert report == {"ok": True, "log": ORIGIN, "tree_size": 9, "entries_checked": 3, "checkpoints_checked": 1,
                      "problems": [], "signed_entries": 0, "unsigned_entries": 0, "unsigned_ranges": [],
                      "trusted_checked": [], "trusted_failures": [], "trusted_unchecked": [], "witnessed_by": None}

    bundle["entries"][1]["entry"]["actor_subject"] = "someone-else"
    path.write_text(json.dumps(bundle))
    assert main(["audit", "verify-bundle", str(path), "--key", vkey, "--json"]) == 1
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["ok"] is False and len(report["problems"]) == 1 and captured.err == ""
    assert main(["audit", "verify-bundle", str(path), "--key", vkey]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("FAILED: 1 problem(s)")


def test_verify_bundle_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, key = _bundle()
    vkey = verifier_key(ORIGIN, key.public_key())
    assert main(["audit", "verify-bundle", str(tmp_path / "nope.json"), "--key", vkey, "--json"]) == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out)["error"]["command"] == "p3ke audit verify-bundle"
    assert "cannot read" in captured.err
    (tmp_path / "x.json").write_text("{not json")
    assert main(["audit", "verify-bundle", str(tmp_path / "x.json"), "--key", vkey]) == 1
    assert "not JSON" in capsys.readouterr().err
    assert main(["audit", "verify-bundle", str(tmp_path / "x.json"), "--key", "nonsense", "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["error"]["message"].startswith("--key:")
