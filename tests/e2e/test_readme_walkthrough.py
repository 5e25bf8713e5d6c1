"""The README's walkthrough, run word for word against `p3ke run`, so the quick start stays true.

The bash block under "## A walk through the agreement" is taken from README.md unchanged and run in a
directory laid out like the repository's root (`var/local` is the seeded system's data directory,
`.venv` the project's environment), with `set -euo pipefail`: a step that no longer works fails here.

It also holds the walkthrough to the users' language: the refusal it shows first (party 2 uploading a dataset) comes
in Bahasa Indonesia by default and in English with `Accept-Language: en`, and the `p3ke` command quotes the same
reason in Indonesian by default and in English with `--lang en`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.helpers.agreement_terms import far_agreement_dir

pytestmark = [pytest.mark.kafka, pytest.mark.usefixtures("seven_zip_installed")]

ROOT = Path(__file__).resolve().parents[2]
INDONESIAN = {"tidak", "hanya", "boleh", "dari", "untuk", "yang", "peran", "dengan", "atau", "ini", "anda", "akun"}
ENGLISH = {"not", "only", "may", "the", "of", "role", "for", "your", "is", "account"}


def words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-z]+", text)}


def walkthrough() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## A walk through the agreement", 1)[1]
    found = re.search(r"```bash\n(.*?)```", section, re.S)
    assert found, "README.md has no bash block in 'A walk through the agreement'"
    return found.group(1)


@pytest.mark.timeout(900)
def test_the_readme_walkthrough_works_as_written(tmp_path: Path) -> None:
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    data_dir = tmp_path / "var" / "local"
    env = {k: v for k, v in os.environ.items() if not k.startswith("P3KE_")}
    env["P3KE_AGREEMENT_DIR"] = str(far_agreement_dir(tmp_path))  # in force to 2099: real time
    log = (tmp_path / "run.log").open("wb")
    run = subprocess.Popen([sys.executable, "-m", "p3ke_platform.cli", "run", "--data-dir", str(data_dir),
                            "--seed-families", "800"], cwd=tmp_path, env=env, stdout=log,
                           stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 480
        while not (data_dir / "endpoints.json").exists():
            assert run.poll() is None, (tmp_path / "run.log").read_text()[-4000:]
            assert time.monotonic() < deadline, "p3ke run did not come up"
            time.sleep(1)
        script = "set -euo pipefail\n" + walkthrough()
        done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=600)
        out = done.stdout
        assert done.returncode == 0, f"walkthrough failed ({done.returncode}):\n{out[-4000:]}\n{done.stderr[-4000:]}"
        lines = out.splitlines()
        assert "403" in lines, "party 2's dataset upload and party 1's download must both be refused"
        assert lines.count("403") == 2
        # the same refusal in the users' language first, then in English, from the API and from the `p3ke` command
        first = lines.index("403")
        refusal_id, refusal_en = lines[first + 1], lines[first + 2]
        assert refusal_id != refusal_en, (refusal_id, refusal_en)
        assert words(refusal_id) & INDONESIAN and not words(refusal_id) & {"the", "not", "may", "only"}, refusal_id
        assert words(refusal_en) & ENGLISH and not words(refusal_en) & {"tidak", "hanya", "boleh", "yang"}, refusal_en
        assert lines.count("exit 1") == 2, "both `p3ke ingest submit` calls are refused (exit 1)"
        errors = done.stderr.splitlines()
        cli_id = [e for e in errors if e.startswith("p3ke ingest submit: unggahan keluarga.csv ditolak: HTTP 403: ")]
        cli_en = [e for e in errors if e.startswith("p3ke ingest submit: upload of keluarga.csv refused: HTTP 403: ")]
        assert len(cli_id) == 1 and len(cli_en) == 1, done.stderr[-4000:]
        assert f"HTTP 403: {refusal_id}" in cli_id[0] and f"HTTP 403: {refusal_en}" in cli_en[0]
        assert "accepted" in lines and "partially-signed" in lines and "signed" in lines
        assert any("'alamat' is not allowed for program padat_karya" in line for line in lines)
        # party 2's platform: a signed request over Kafka is accepted; a forged one is dead-lettered and audited
        assert "  request_id demo-platform-1" in lines and "  request_id demo-forged-1" in lines
        assert lines.count("accepted") >= 2, "the API request and the platform's request are both accepted"
        refusal = ("origin not proven (principal): party-1 platform's key 'dev-party-1-platform' may vouch only for "
                   "people of kemenkopmk, not for an account of kemnaker")
        assert f"p3ke-targeting: {refusal}" in lines, "the dead letter names why the forged request was refused"
        assert refusal in lines, "the audit log records the refusal with the same reason"
        assert "404" in lines, "targeting never stored the forged request"
        assert any(line.startswith("ok:") for line in lines), "p3ke audit verify must report an intact log"
        # the cosigned note: the log's signature and party 2's witness's cosignature; verification against it
        assert any(line.startswith("— p3ke.local/audit ") for line in lines), out
        assert any(line.startswith("— p3ke.local/witness-party-2 ") for line in lines), out
        assert any("consistent with the trusted checkpoint(s)" in line for line in lines), out
        trail = [line for line in lines if re.match(r"\d{4}-\d\d-\d\dT", line)]
        assert any(" targeting select " in line for line in trail), trail
        assert (tmp_path / "var" / "walk" / "monev.pdf").read_bytes().startswith(b"%PDF")
        endpoints = json.loads((data_dir / "endpoints.json").read_text())
        assert f"{endpoints['services']['audit']['api']}/ui" in out
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGINT)
            try:
                run.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(run.pid, signal.SIGKILL)
        log.close()
    assert "stopped." in (tmp_path / "run.log").read_text()
