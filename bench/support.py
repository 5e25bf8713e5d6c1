"""Shared by the benchmarks: the cached synthetic snapshot, service processes (started, stopped, waited
for) and percentiles."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack, suppress
from pathlib import Path

import httpx

from bench.report import RESULTS

SNAPSHOTS = Path.home() / ".cache" / "p3ke" / "bench"


def cached_snapshot(rows: int, seed: int) -> Path:
    """The individual file of a synthetic snapshot of `rows` persons: generated (in a child process) once per
    size and seed, and kept in ~/.cache/p3ke/bench/ for every benchmark that asks for the same."""
    out = SNAPSHOTS / f"synth-{rows}-seed{seed}"
    path = out / "individu.parquet"
    if not path.is_file():
        code = ("from p3ke_ingest.synth import generate; import sys; "
                f"generate(sys.argv[1], individuals={rows}, fmt='parquet', seed={seed}, family_file=False)")
        subprocess.run([sys.executable, "-c", code, str(out)], check=True)
    return path


def spawn(stack: ExitStack, argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A service process, stopped (SIGTERM, then SIGKILL) by `stop` or at the latest when the stack closes."""
    profiler = os.environ.get("BENCH_PYSPY")  # a py-spy binary: record a flame graph of each service process
    if profiler:
        argv = [profiler, "record", "--rate", "200", "--format", "speedscope", "-o",
                str(RESULTS / f"profile-{log.stem}.json"), "--", *argv]
        RESULTS.mkdir(exist_ok=True)
    # its own process group, so that stopping it stops what it started too (py-spy's child, a worker's helpers)
    proc = subprocess.Popen(argv, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    stack.callback(stop, proc)
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None and os.environ.get("BENCH_PYSPY"):
        proc.send_signal(signal.SIGINT)  # py-spy writes its profile on SIGINT
        with suppress(subprocess.TimeoutExpired):
            proc.wait(30)
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # whatever of its group is left


def wait_http(url: str, timeout: float = 180) -> None:
    """Wait until `url` answers 200; TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(url)


def pct(values: list[float], q: float, digits: int = 2) -> float:
    """The `q` quantile of `values` (the value at rank int(q * n) of the sorted values), rounded to `digits`
    decimals; NaN for no values."""
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], digits) if ordered else float("nan")
