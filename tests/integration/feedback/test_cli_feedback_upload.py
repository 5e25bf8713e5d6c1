"""`p3ke feedback upload` against the real feedback API: `python -m p3ke_feedback api` (uvicorn) on a free
port, on SQLite and without Kafka (the relay is off). The command runs in this process (its stdout is
its own: the API logs in its process) and once as a separate process, exactly as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from p3ke_feedback.domain.vocabulary import MatchView, counts_in_view
from p3ke_platform.auth import DevIssuer
from p3ke_platform.cli import main
from p3ke_platform.devstack.ports import free_port
from tests.integration.helpers.processes import ApiProcess
from tests.unit.feedback.conftest import World, build_world
from tests.unit.feedback.helpers import HEADER, synthetic_snapshot, write_csv
from tests.unit.feedback.test_cli_feedback_synth import write_package_csv


def feedback_api(world: World) -> ApiProcess:
    """`python -m p3ke_feedback api` with the world's settings, until stopped."""
    s = world.runtime.settings
    return ApiProcess("p3ke_feedback", "feedback", world.tmp / "api.log", {
        "P3KE_DATA_DIR": str(s.data_dir), "P3KE_DATABASE_URL": str(s.database_url),
        "P3KE_AGREEMENT_INCLUDE_EXAMPLES": "true",
        **({"P3KE_AGREEMENT_DIR": str(s.agreement_dir)} if s.agreement_dir else {}),  # the world's agreement
        "P3KE_FEEDBACK_SHARED_ROOT": str(s.feedback_shared_root)})  # type: ignore[attr-defined]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_snapshot(tmp_path_factory.mktemp("feedback-cli-snapshot"), 3_000, seed=21, provinces=["32"])


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, snapshot: Path) -> Iterator[tuple[World, str, str]]:
    world = build_world(tmp_path_factory.mktemp("feedback-cli"), snapshot)
    token = DevIssuer(world.runtime.settings).mint("officer-7", "kemnaker", ["program-officer"])
    world.runtime.engine.dispose()
    with feedback_api(world) as server:
        yield world, server.url, token


def test_upload_prints_counts_by_match_class(api: tuple[World, str, str], capsys: pytest.CaptureFixture[str]) -> None:
    world, url, token = api
    package = write_package_csv(world.snapshot, [p["nik"] for p in world.delivered], world.tmp / "pkg" / "p.csv")
    balikan = world.tmp / "balikan.csv"
    code, out, _ = run(capsys, "feedback", "synth", "--package-csv", str(package), "--program", "padat_karya",
                       "--out", str(balikan), "--seed", "5", "--start-date", "2026-03-20", "--extra-not-in-p3ke", "6",
                       "--invalid-nik", "6", "--extra-not-delivered-from", str(world.snapshot), "8", "--json")
    assert code == 0
    planted = json.loads(out)["expected_by_match_class"]

    # the console script as a user runs it: --json, the program looked up with GET /v1/handovers
    env = {k: v for k, v in os.environ.items() if not k.startswith("P3KE_")}
    done = subprocess.run([sys.executable, "-m", "p3ke_platform.cli", "feedback", "upload", str(balikan),
                           "--handover", "ho-1", "--api", url, "--token", token, "--json"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    batch = json.loads(done.stdout)  # stdout is exactly one JSON document
    shown = counts_in_view(planted, MatchView.HANDOVER)  # party 2 learns only: in the handover or not
    assert batch["counts_by_match_class"] == shown and batch["duplicate"] is False
    assert batch["match_view"] == "handover" and "in_p3ke_not_delivered" not in done.stdout
    assert batch["program"] == "padat_karya" and batch["rows"] == sum(planted.values())
    assert batch["file_bytes"] == balikan.stat().st_size
    assert done.stderr == ""  # no bar when stderr is not a terminal

    # the same file again, human output: the earlier batch, a table by match class
    code, out, _ = run(capsys, "feedback", "upload", str(balikan), "--handover", "ho-1", "--api", url, "--token",
                       token, "--program", "pk", "--no-progress")
    assert code == 0
    assert f"batch {batch['batch_id']}: already uploaded" in out
    for cls, n in shown.items():
        line = next(x for x in out.splitlines() if x.strip().startswith(cls + " "))
        assert f" {n:,} " in line
    assert "Tidak ada dalam data yang diserahkan" in out and "findings: " in out
    assert "P3KE" not in out.replace("matched against", "")  # no class that tells P3KE membership

    # a refusal of the request: an unknown handover (exit 1, the service's reason, a JSON error document)
    code, out, err = run(capsys, "feedback", "upload", str(balikan), "--handover", "ho-404", "--api", url,
                         "--token", token, "--program", "padat_karya", "--json")
    assert code == 1
    error = json.loads(out)["error"]
    assert error["status"] == 404 and "Serah terima 'ho-404' yang sudah ditandatangani" in error["message"]
    assert "handover-unknown" in err  # the rule, named in the command's language
    code, out, err = run(capsys, "feedback", "upload", str(balikan), "--handover", "ho-404", "--api", url,
                         "--token", token)
    assert code == 1 and out == "" and "ho-404 is not known to the feedback service" in err


def test_refusals_and_exit_codes(api: tuple[World, str, str], capsys: pytest.CaptureFixture[str]) -> None:
    world, url, token = api
    wrong = write_csv(world.tmp / "wrong.csv", [["3201011507900001", "A", "3201011001"]], header=HEADER[:3])
    base = ["feedback", "upload", str(wrong), "--handover", "ho-1", "--program", "padat_karya"]
    code, out, err = run(capsys, *base, "--api", url, "--token", token, "--json")
    assert code == 3  # the file's content: fix the file
    assert json.loads(out)["error"]["status"] == 422 and "kolom wajib tidak ada" in err

    code, out, err = run(capsys, *base, "--api", url, "--token", "nonsense")
    assert code == 1 and "HTTP 401" in err and out == ""

    code, out, err = run(capsys, "feedback", "upload", str(world.tmp / "nope.csv"), "--handover", "ho-1", "--api",
                         url, "--token", token)
    assert code == 2 and "no such file" in err

    code, out, err = run(capsys, *base, "--api", f"http://127.0.0.1:{free_port()}", "--token", token, "--json")
    assert code == 1 and "tidak dapat terhubung" in err
    assert json.loads(out)["error"]["status"] is None
