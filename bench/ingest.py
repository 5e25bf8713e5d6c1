"""Ingest: a synthetic individual CSV of BENCH_ROWS persons (default 10^7, 1 % defects) through the whole
ingest -- submission, validation, snapshot, publication with its event -- against DuckDB's plain
`read_csv -> Parquet` of the same file.

Each measured run is a child process (`python -m bench.ingest ingest|reference ...`) that reports its
own wall time and peak RSS, so the figures do not mix. BENCH_DEFECTS sets the defect rate,
BENCH_THREADS the engine's threads (default: all cores), BENCH_MEMORY_MB its memory limit.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.report import env_int, write


def _rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def child_reference(csv_path: str, out: str, threads: int) -> dict[str, float]:
    import duckdb

    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads={threads}")
    started = time.perf_counter()
    con.execute(f"""COPY (SELECT * FROM read_csv('{csv_path}', quote='"', escape='"')) TO '{out}' (FORMAT parquet)""")
    return {"seconds": time.perf_counter() - started, "peak_rss_mb": _rss_mb()}


def child_ingest(csv_path: str, data_dir: str, threads: int, memory_mb: int) -> dict[str, object]:
    from p3ke_ingest.bootstrap import SERVICE
    from p3ke_ingest.config import IngestSettings
    from p3ke_ingest.service_layer import publication, submissions
    from p3ke_ingest.service_layer.jobs import JobRunner
    from p3ke_platform.migrations import upgrade
    from p3ke_platform.service import Runtime
    from p3ke_platform.settings import load_settings
    from p3ke_schemas import Actor

    settings = load_settings(IngestSettings, service="ingest", data_dir=Path(data_dir), env="test",
                             relay_in_api=False, jobs_in_api=False, ingest_import_dirs=[Path(csv_path).parent],
                             ingest_engine_threads=threads, ingest_engine_memory_mb=memory_mb)
    upgrade(SERVICE, settings)
    ctx = Runtime(SERVICE, settings).context
    actor = Actor(org="kemenkopmk", subject="bench", roles=["data-steward"])
    path = Path(csv_path)
    phases: dict[str, float] = {}
    started = time.perf_counter()
    runner = JobRunner(ctx)  # built outside the timing
    queued = submissions.submit(ctx, actor, [{"label": "individual", "kind": "path", "path": str(path),
                                              "name": path.name, "bytes": path.stat().st_size}])
    job = runner.claim()
    assert job is not None and job["submission_id"] == queued.submission_id

    from p3ke_ingest.service_layer import validation

    original = validation.run_statement_with_progress
    last = {"t": time.perf_counter()}

    def timed(engine, phase, fn, progress, interval=1.0):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        try:
            return original(engine, phase, fn, progress, interval)
        finally:
            phases[phase] = phases.get(phase, 0.0) + time.perf_counter() - t
            last["t"] = time.perf_counter()

    validation.run_statement_with_progress = timed  # type: ignore[assignment]
    status = runner.process(job)
    seconds = time.perf_counter() - started
    with ctx.runtime.sessions() as session:
        version = publication.current_version(session)
    return {"seconds": seconds, "peak_rss_mb": _rss_mb(), "status": status,
            "individuals": version["individuals"] if version else 0,
            "rows_rejected": version["rows_rejected"] if version else 0,
            "phase_seconds": {k: round(v, 2) for k, v in phases.items()}}


def _child(*args: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-m", "bench.ingest", *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from p3ke_ingest.synth import generate

    rows = env_int("BENCH_ROWS", 10_000_000)
    threads = env_int("BENCH_THREADS", 0)
    memory_mb = env_int("BENCH_MEMORY_MB", 1024)
    defects = float(os.environ.get("BENCH_DEFECTS", "0.01"))
    scratch = Path(tempfile.mkdtemp(prefix="p3ke-bench-ingest-"))
    try:
        synth = generate(scratch / "in", individuals=rows, seed=1, defects=defects, family_file=False,
                         defect_kinds=[k for k in ("nik_scientific", "nik_apostrophe", "nik_missing", "duplicate_row",
                                                   "duplicate_nik", "region_unknown", "desil_out_of_range",
                                                   "birthdate_mismatch", "sex_mismatch")])
        csv_path = synth.individual_path
        csv_mb = csv_path.stat().st_size / 2**20
        # the reference runs before and after ours and the faster run counts, so that a machine shared
        # with other work (load average reported) skews the ratio less
        load_before = os.getloadavg()[0]
        ref_runs = [_child("reference", str(csv_path), str(scratch / "ref.parquet"), str(threads))]
        ours = _child("ingest", str(csv_path), str(scratch / "data"), str(threads), str(memory_mb))
        ref_runs.append(_child("reference", str(csv_path), str(scratch / "ref.parquet"), str(threads)))
        load_after = os.getloadavg()[0]
        ref = min(ref_runs, key=lambda r: float(r["seconds"]))  # type: ignore[arg-type]
        ours_s, ref_s = float(ours["seconds"]), float(ref["seconds"])  # type: ignore[arg-type]
        write("ingest", {
            "rows": synth.rows["individual"], "csv_mb": round(csv_mb, 1), "defect_rate": defects,
            "generator_rows_per_s": round(synth.rows_per_second), "generator_seconds": round(synth.seconds, 2),
            "status": ours["status"], "published": ours["individuals"], "rejected": ours["rows_rejected"],
            "seconds": round(ours_s, 2), "rows_per_s": round(synth.rows["individual"] / ours_s),
            "peak_rss_mb": ours["peak_rss_mb"], "phase_seconds": ours["phase_seconds"],
            "reference": "DuckDB read_csv -> Parquet, same file, same threads",
            "reference_seconds": round(ref_s, 2), "reference_rows_per_s": round(synth.rows["individual"] / ref_s),
            "reference_runs_seconds": [round(float(r["seconds"]), 2) for r in ref_runs],  # type: ignore[arg-type]
            "reference_peak_rss_mb": ref["peak_rss_mb"], "ratio": round(ours_s / ref_s, 2),
            "load_average_before_after": [round(load_before, 1), round(load_after, 1)],
            "extrapolated_1e8_minutes": round(ours_s * 1e8 / synth.rows["individual"] / 60, 1),
            "threads": threads or os.cpu_count(), "memory_limit_mb": memory_mb,
        })
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "reference":
        print(json.dumps(child_reference(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
    elif len(sys.argv) > 1 and sys.argv[1] == "ingest":
        print(json.dumps(child_ingest(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))))
    else:
        main()
