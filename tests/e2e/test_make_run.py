"""`p3ke run` (what `make run` calls) brings up Kafka and all six services with healthy /readyz."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.helpers.agreement_terms import far_agreement_dir

pytestmark = [pytest.mark.kafka]


def test_local_stack_comes_up_ready_and_stops_cleanly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("P3KE_")}
    env["P3KE_AGREEMENT_DIR"] = str(far_agreement_dir(tmp_path))  # in force to 2099: real time
    data_dir = tmp_path / "local"
    done = subprocess.run([sys.executable, "-m", "p3ke_platform.cli", "run", "--data-dir", str(data_dir),
                           "--exit-when-ready", "--seed-families", "200"], env=env, capture_output=True, text=True,
                          timeout=420)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    endpoints = json.loads((data_dir / "endpoints.json").read_text())
    assert set(endpoints["services"]) == {"ingest", "targeting", "delivery", "feedback", "audit", "witness"}
    for name, urls in endpoints["services"].items():
        assert urls["api"] in done.stdout, name
    assert "stopped." in done.stdout
    # seeded: a snapshot published through the ingest API, tokens for every role, the signatories' certificates
    assert "dataset version: dv-" in done.stdout, done.stdout[-3000:]
    dev_env = (data_dir / "dev.env").read_text()
    for variable in ("INGEST", "TARGETING", "DELIVERY", "FEEDBACK", "AUDIT", "WITNESS", "P1_STEWARD", "P1_SIGNATORY",
                     "P1_AUDITOR", "P2_OFFICER", "P2_SIGNATORY", "P2_AUDITOR", "P2_PLATFORM", "P3KE_DATA_DIR"):
        assert f"export {variable}=" in dev_env, variable
    assert oct((data_dir / "dev.env").stat().st_mode & 0o777) == "0o600"
    # Kafka's address and the platforms' development event keys, for `p3ke platform request`
    assert f"export P3KE_KAFKA_BOOTSTRAP={endpoints['kafka']}" in dev_env
    for party in (1, 2):
        key = data_dir / "dev-keys" / f"dev-party-{party}-platform.pem"
        assert f"export P{party}_PLATFORM_KEY={key}" in dev_env
        assert f"export P{party}_PLATFORM_KID=dev-party-{party}-platform" in dev_env
        assert key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
        assert oct(key.stat().st_mode & 0o777) == "0o600"
        assert f"$P{party}_PLATFORM_KEY  {key.name}" in done.stdout
    assert str(data_dir / "dev-keys") in done.stdout
    certificates = sorted(p.name for p in (data_dir / "services" / "dev-ca").glob("*.p12"))
    assert certificates == ["sig-kemenkopmk-deputi.p12", "sig-kemnaker-kabarenbang.p12"]
    assert all(name in done.stdout for name in certificates)
    # party 2's witness witnesses the audit log, with the development witness key everyone knows
    from p3ke_platform.tlog.dev_keys import development_witness_vkey

    assert f"witness cosignature verifier key {development_witness_vkey()}" in done.stdout
    assert "audit checkpoint verifier key   p3ke.local/audit+" in done.stdout
    assert len(endpoints["pids"]) == 10  # six APIs, four workers (ingest and the witness consume nothing)
    alive = [name for name, pid in endpoints["pids"].items() if Path(f"/proc/{pid}").exists()]
    assert alive == [], f"left running after stop: {alive}"
    broker = subprocess.run(["pgrep", "-f", str(data_dir / "kafka")], capture_output=True, text=True)
    assert broker.stdout.strip() == "", "Kafka left running after stop"
