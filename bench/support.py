"""Shared by the benchmarks: the cached synthetic snapshot, service processes (started, stopped, waited
for) and percentiles."""

from __future__ import annotations

import os
import shutil
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
    """The individual file of a synthetic snapshot of `rows` persons, in the order ingest publishes a snapshot (by
    region code, then file order; zstd level 1, row groups of 122,880 rows): generated (in a child process) once per
    size and seed, and kept in ~/.cache/p3ke/bench/ for every benchmark that asks for the same. The generator's own
    file has the regions in random order (every province in every row group), which no published snapshot has:
    a one-province extract at 10^7 rows read 0.92-0.94 s from it, 0.40 s from the file ordered by region."""
    out = SNAPSHOTS / f"synth-{rows}-seed{seed}-by-region"
    path = out / "individu.parquet"
    if not path.is_file():  # in a child process: its memory is not the benchmark's
        code = f"from bench.support import write_by_region; write_by_region({str(out)!r}, {rows}, {seed})"
        subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])
    return path


def write_by_region(out: str, rows: int, seed: int) -> None:
    """Generate the synthetic snapshot and write it to `out`/individu.parquet ordered as ingest orders one."""
    import duckdb

    from p3ke_ingest.synth import generate
    from p3ke_platform.parquet_stream import write_query

    target = Path(out)
    raw = generate(target / "generated", individuals=rows, fmt="parquet", seed=seed, family_file=False).individual_path
    con = duckdb.connect(config={"memory_limit": "2GB"})
    write_query(con, f"""SELECT * EXCLUDE (file_row_number) FROM read_parquet('{raw}', file_row_number=true)
                         ORDER BY CAST(kode_kemendagri AS BIGINT), file_row_number""",
                target / "individu.parquet.tmp", compression="zstd", compression_level=1, depth=1)
    (target / "individu.parquet.tmp").rename(target / "individu.parquet")
    shutil.rmtree(target / "generated")


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
