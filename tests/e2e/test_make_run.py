"""`p3ke run` (what `make run` calls) brings up Kafka and all five services with healthy /readyz."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.kafka]


def test_local_stack_comes_up_ready_and_stops_cleanly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("P3KE_")}
    data_dir = tmp_path / "local"
    done = subprocess.run([sys.executable, "-m", "p3ke_platform.cli", "run", "--data-dir", str(data_dir),
                           "--exit-when-ready"], env=env, capture_output=True, text=True, timeout=420)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    endpoints = json.loads((data_dir / "endpoints.json").read_text())
    assert set(endpoints["services"]) == {"ingest", "targeting", "delivery", "feedback", "audit"}
    for name, urls in endpoints["services"].items():
        assert urls["api"] in done.stdout, name
    assert "stopped." in done.stdout
    assert len(endpoints["pids"]) == 9  # five APIs, four workers (ingest consumes nothing)
    alive = [name for name, pid in endpoints["pids"].items() if Path(f"/proc/{pid}").exists()]
    assert alive == [], f"left running after stop: {alive}"
    broker = subprocess.run(["pgrep", "-f", str(data_dir / "kafka")], capture_output=True, text=True)
    assert broker.stdout.strip() == "", "Kafka left running after stop"
