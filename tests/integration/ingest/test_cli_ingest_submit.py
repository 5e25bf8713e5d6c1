"""`p3ke synth` then `p3ke ingest submit` against the real ingest API: `python -m p3ke_ingest api` (uvicorn, jobs
in the API process) on a free port, on SQLite, without Kafka (the relay is off). The exact invocation other
parts of the project use runs as a separate process; the rest runs in this process (the API logs in its own)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from p3ke_ingest.bootstrap import SERVICE
from p3ke_ingest.config import IngestSettings
from p3ke_platform.auth import DevIssuer
from p3ke_platform.cli import main
from p3ke_platform.migrations import upgrade
from p3ke_platform.settings import load_settings
from tests.integration.helpers.processes import ApiProcess


class IngestApi(ApiProcess):
    """`python -m p3ke_ingest api` on its own data directory and SQLite database, until stopped."""

    def __init__(self, tmp: Path) -> None:
        data = tmp / "data"
        super().__init__("p3ke_ingest", "ingest", tmp / "api.log",
                         {"P3KE_DATA_DIR": str(data), "P3KE_INGEST_ENGINE_MEMORY_MB": "256"})
        settings = load_settings(IngestSettings, service="ingest", data_dir=data, env="test")
        upgrade(SERVICE, settings)
        self.token = DevIssuer(settings).mint("steward-1", "kemenkopmk", ["data-steward"])


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngestApi]:
    with IngestApi(tmp_path_factory.mktemp("ingest-cli")) as server:
        yield server


def synth(capsys: pytest.CaptureFixture[str], out: Path, *extra: str) -> dict[str, Any]:
    code, stdout, _ = run(capsys, "synth", "--out", str(out), "--families", "400", "--no-progress", "--json", *extra)
    assert code == 0
    return dict(json.loads(stdout))


def test_submit_as_other_tools_call_it_then_json(api: IngestApi, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    clean = synth(capsys, tmp_path / "clean", "--seed", "7")
    individual, family = clean["files"]["individual"]["path"], clean["files"]["family"]["path"]
    assert clean["seed"] == 7 and clean["families"] == 400 and clean["defects"]["total"] == 0

    # exactly as the seeding of `p3ke run` and the end-to-end test call it: human output, exit 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("P3KE_")}
    done = subprocess.run([sys.executable, "-m", "p3ke_platform.cli", "ingest", "submit", individual, "--family",
                           family, "--api", api.url, "--token", api.token], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr  # no bars when stderr is not a terminal
    assert ": published" in done.stdout and "dataset version: dv-" in done.stdout
    assert "uploaded individu.csv: " in done.stdout and "uploaded keluarga.csv: " in done.stdout
    lines = done.stdout.splitlines()
    assert any(x.split()[:2] == ["individual", "individu.csv"] for x in lines)

    # the same files again, --json: one document, the final submission (an identical submission answers)
    code, out, _ = run(capsys, "ingest", "submit", individual, "--family", family, "--api", api.url, "--token",
                       api.token, "--json", "--no-progress")
    assert code == 0
    first = json.loads(out)
    assert first["status"] == "published" and first["progress"] == 1.0
    assert first["dataset_version_id"] in done.stdout
    files = first["summary"]["files"]
    assert files["individual"]["rows"] == clean["files"]["individual"]["rows"]
    assert files["family"]["rows"] == 400

    # a snapshot with defects: --json has the findings; the exit code follows the status
    dirty = synth(capsys, tmp_path / "dirty", "--seed", "8", "--defects", "0.03")
    code, out, _ = run(capsys, "ingest", "submit", dirty["files"]["individual"]["path"], "--family",
                       dirty["files"]["family"]["path"], "--api", api.url, "--token", api.token, "--json")
    body = json.loads(out)
    assert body["status"] in ("published", "refused")
    assert code == (0 if body["status"] == "published" else 3)
    assert body["submission_id"] != first["submission_id"]
    assert sum(f["findings"] for f in body["summary"]["files"].values()) > 0


def test_no_wait_and_refusals(api: IngestApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snap = synth(capsys, tmp_path / "s", "--seed", "9", "--no-family-file")
    individual = snap["files"]["individual"]["path"]
    code, out, _ = run(capsys, "ingest", "submit", individual, "--api", api.url, "--token", api.token, "--no-wait",
                       "--json")
    assert code == 0
    assert json.loads(out)["status"] in ("queued", "running", "published", "unchanged", "refused")

    code, out, err = run(capsys, "ingest", "submit", individual, "--api", api.url, "--token", "nonsense", "--json")
    assert code == 1 and "unggahan individu.csv ditolak: HTTP 401" in err  # Bahasa Indonesia first
    assert json.loads(out)["error"]["status"] == 401
    code, out, err = run(capsys, "ingest", "submit", individual, "--api", api.url, "--token", "nonsense", "--lang",
                         "en")
    assert code == 1 and "upload of individu.csv refused: HTTP 401" in err

    code, out, err = run(capsys, "ingest", "submit", str(tmp_path / "nope.csv"), "--api", api.url, "--token",
                         api.token)
    assert code == 2 and out == "" and "no such file" in err

    not_a_table = tmp_path / "x.csv"
    not_a_table.write_text("hello\n")
    code, out, err = run(capsys, "ingest", "submit", str(not_a_table), "--api", api.url, "--token", api.token)
    assert code == 1 and "pengajuan snapshot ditolak: HTTP 422" in err
