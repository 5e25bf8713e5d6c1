"""`make chaos`: the reliability and security suite in its long version, and its figures.

Runs tests/chaos (SIGKILL of workers and relays under a stream of events, broker and database restarts
mid-stream, replay from offset 0, poison on every topic) and tests/security (schemathesis fuzzing of
every API, the authorisation matrix, resource limits, PII hygiene) with bigger numbers than `make test`,
then prints one table and writes bench/results/chaos.json.

Sizes (environment, defaults for the long run): CHAOS_KILLS=25, CHAOS_EVENTS=20000,
CHAOS_BROKER_DOWN_SECONDS=5, CHAOS_DB_DOWN_SECONDS=15, P3KE_FUZZ_EXAMPLES=200; CHAOS_SEED repeats a run.
Extra pytest arguments may follow: `python -m bench.chaos -x -k kill9`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.report import peak_rss_mb, write

LONG = {"CHAOS_KILLS": "25", "CHAOS_EVENTS": "20000", "CHAOS_BROKER_DOWN_SECONDS": "5",
        "CHAOS_DB_DOWN_SECONDS": "15", "CHAOS_CONVERGE_SECONDS": "600", "P3KE_FUZZ_EXAMPLES": "200"}
ROOT = Path(__file__).resolve().parents[1]


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def summarise(faults: dict[str, Any], security: dict[str, Any], *, exit_code: int, seconds: float) -> dict[str, Any]:
    s = faults.get("summary", {})
    fuzz_cases = sum(v for k, v in security.items() if k.startswith("fuzz_cases_"))
    fuzz_failures = sum(v for k, v in security.items() if k.startswith("fuzz_failures_"))
    authz_leaks = sum(v for k, v in security.items() if k.startswith("authz_leaks_"))
    leaks = {"authz_matrix": authz_leaks, "objects": security.get("object_leaks"), "pii": security.get("pii_leaks"),
             "chaos_logs": len(s.get("log_leaks", [])) if s else None}
    return {
        "result": "pass" if exit_code == 0 else f"FAIL (pytest exit {exit_code})",
        "seconds": round(seconds, 1),
        "sizes": faults.get("sizes"),
        "kills": s.get("kills"),
        "restarts": s.get("restarts"),
        "crashes": s.get("crashes"),
        "broker_restarts": s.get("broker_restarts"),
        "database_restarts": s.get("database_restarts"),
        "events_produced": s.get("events_produced"),
        "events_acknowledged": s.get("events_acknowledged"),
        "effects_expected": s.get("effects_expected"),
        "applied": s.get("applied"),
        "duplicates": s.get("duplicates"),
        "lost": s.get("lost"),
        "dlq": s.get("dlq"),
        "repeats_on_topics_absorbed": s.get("repeats_on_topics_absorbed"),
        "dlq_of_legitimate_events": s.get("dlq_legit"),
        "poison": faults.get("poison", {}).get("messages"),
        "replayed": s.get("replayed"),
        "replay_state_changes": s.get("replay_state_changes"),
        "final_consumer_lag": s.get("final_lag"),
        "verification": s.get("audit_verify"),
        "audit_tree_size": s.get("audit_tree_size"),
        "fuzz_examples_per_operation": security.get("fuzz_examples_per_operation"),
        "fuzz_cases": fuzz_cases,
        "fuzz_failures": fuzz_failures,
        "authz_calls": sum(v for k, v in security.items() if k.startswith("authz_calls_")),
        "pii_events_scanned": security.get("pii_events_scanned"),
        "leaks": sum(v or 0 for v in leaks.values()),
        "leaks_by_check": leaks,
        "phases": {k: v for k, v in faults.items() if k not in ("summary", "sizes", "logs")},
        "peak_rss_mb": peak_rss_mb(),
    }


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    env = {**os.environ}
    for key, value in LONG.items():
        env.setdefault(key, value)
    with tempfile.TemporaryDirectory(prefix="p3ke-chaos-report-") as report:
        env["P3KE_CHAOS_REPORT_DIR"] = report
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "timeout=7200",
                               "tests/chaos", "tests/security", *argv], cwd=ROOT, env=env)
        seconds = time.monotonic() - started
        figures = summarise(_load(Path(report) / "faults.json"), _load(Path(report) / "security.json"),
                            exit_code=done.returncode, seconds=seconds)
    write("chaos", figures)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
