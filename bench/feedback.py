"""Feedback: matching a large data balikan batch against a handover's extract and the P3KE snapshot,
against the equivalent hand-written DuckDB join in the same run; then the latency of a report query
over the stored feedback rows.

Figures: `seconds` (the whole batch path, see below) and `ratio` = seconds / reference_seconds;
`match_seconds` (reading, validation and matching only) and `match_ratio`; `phases_seconds` per step.

Sizes: BENCH_ROWS (snapshot rows, default 10,000,000; the synthetic snapshot is generated once per size
and cached in ~/.cache/p3ke/bench/, shared with bench/targeting), BENCH_FEEDBACK_ROWS (default
1,000,000), BENCH_RUNS (timed matches, default 3), BENCH_QUERIES (report queries, default 200).
The feedback file is a CSV in the real layout: 85 % persons of the extract, 8 % in P3KE but not handed
over, 3 % not in P3KE, 2 % invalid NIKs, 2 % repeated rows. Each match runs in its own process (its peak
RSS is its own) and is the service's whole batch path after the upload is on disk: layout, validation
with findings, matching, the rows and findings files, the audit subject references, and the database
transaction (SQLite) with the aggregates, feedback-received and data-access events. The reference reads
the same CSV with DuckDB, cleans and checks the NIK, classifies each row against the same extract and
snapshot (with duplicates) and writes the classified rows to Parquet, with the same threads and memory.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.report import env_int, write
from bench.support import cached_snapshot

SEED = 7
THREADS = int(os.environ.get("P3KE_FEEDBACK_DUCKDB_THREADS", "2"))
MEMORY = os.environ.get("P3KE_FEEDBACK_DUCKDB_MEMORY", "2GB")


def _inputs(snapshot: Path, feedback_rows: int, scratch: Path) -> dict[str, Any]:
    """The extract (nik, region, desil of 1.2 x the feedback's persons) and the feedback CSV."""
    import duckdb

    extract, csv = scratch / "extract.parquet", scratch / "balikan.csv"
    n_ext, n_out, n_absent = int(feedback_rows * 0.85), int(feedback_rows * 0.08), int(feedback_rows * 0.03)
    n_bad = int(feedback_rows * 0.02)
    n_dup = feedback_rows - n_ext - n_out - n_absent - n_bad
    con = duckdb.connect(config={"threads": THREADS, "memory_limit": MEMORY})
    n_delivered = int(n_ext * 1.2)
    con.execute(f"""CREATE TABLE people AS
                    SELECT nik, kode_kemendagri, desil_kesejahteraan, row_number() OVER () AS i
                    FROM (SELECT nik, kode_kemendagri, desil_kesejahteraan FROM read_parquet('{snapshot}')
                          WHERE nik IS NOT NULL USING SAMPLE reservoir({n_delivered + n_out} ROWS) REPEATABLE (7))""")
    have = con.execute("SELECT count(*) FROM people").fetchone()[0]  # type: ignore[index]
    if have < n_delivered + n_out:
        raise SystemExit(f"the snapshot is too small for {feedback_rows} feedback rows")
    con.execute(f"COPY (SELECT nik, kode_kemendagri, desil_kesejahteraan FROM people WHERE i <= {n_delivered}) "
                f"TO '{extract}' (FORMAT parquet, COMPRESSION zstd)")
    status = "['selesai', 'aktif', 'putus', 'dibayar'][1 + (i % 4)::INTEGER]"
    row = (f"nik, 'NAMA SINTETIS ' || i AS nama, kode_kemendagri AS kode_wilayah, 'padat_karya' AS program, "
           f"'Padat karya jalan desa' AS kegiatan, '2026-04-01' AS tanggal_mulai, '2026-04-30' AS tanggal_selesai, "
           f"{status} AS status, '1500000' AS nilai_manfaat")
    con.execute(f"""COPY (
        SELECT {row} FROM people WHERE i <= {n_ext}
        UNION ALL SELECT {row} FROM people WHERE i > {n_delivered} AND i <= {n_delivered + n_out}
        UNION ALL SELECT '32' || lpad(CAST(1 + i // 9999 AS VARCHAR), 4, '0') || '150799'
                         || lpad(CAST(1 + i % 9999 AS VARCHAR), 4, '0') AS nik, 'X', '3201011001', 'padat_karya', 'x',
                         '2026-04-01', '2026-04-30', 'aktif', '0' FROM range(1, {n_absent + 1}) r(i)
        UNION ALL SELECT CASE WHEN i % 2 = 0 THEN '3.20101E+15' ELSE '' END, 'X', '3201011001', 'padat_karya', 'x',
                         '2026-04-01', '2026-04-30', 'aktif', '0' FROM range(1, {n_bad + 1}) r(i)
        UNION ALL SELECT {row} FROM people WHERE i <= {n_dup}
        ) TO '{csv}' (FORMAT csv, HEADER true)""")
    con.close()
    return {"extract": extract, "csv": csv, "extract_rows": n_delivered}


def _rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


# --- ours, in a child process -------------------------------------------------------------------

def _child_ours(scratch: str, snapshot: str, extract: str, csv: str, extract_rows: int, run: int) -> None:
    import hashlib
    import resource
    from datetime import UTC, datetime

    from p3ke_feedback.bootstrap import SERVICE
    from p3ke_feedback.config import FeedbackSettings
    from p3ke_feedback.service_layer import batches
    from p3ke_platform.logging import configure_logging
    from p3ke_platform.messaging.inbox import Delivered
    from p3ke_platform.migrations import upgrade
    from p3ke_platform.service import Runtime
    from p3ke_platform.settings import load_settings
    from p3ke_schemas import Actor, CloudEvent, DatasetUpdated, ExtractPrepared, HandoverSigned, Signer

    configure_logging("feedback", "WARNING", False)
    root = Path(scratch) / f"ours-{run}"
    settings = load_settings(FeedbackSettings, service="feedback", env="test", data_dir=root / "data",
                             database_url=f"sqlite:///{root / 'feedback.db'}", feedback_shared_root=Path("/"),
                             feedback_duckdb_threads=THREADS, feedback_duckdb_memory=MEMORY)
    upgrade(SERVICE, settings)
    runtime = Runtime(SERVICE, settings)
    at = datetime(2026, 3, 10, tzinfo=UTC)
    steward = Actor(org="kemenkopmk", subject="bench-steward", roles=["data-steward"])
    sha = {p: hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in (snapshot, extract)}
    signers = [Signer(party=n, org=o, signatory_id=f"sig-{n}", certificate_sha256="a" * 64, signed_at=at)  # type: ignore[arg-type]
               for n, o in ((1, "kemenkopmk"), (2, "kemnaker"))]
    events = [
        DatasetUpdated(dataset_version_id="bench-dv", agreement_id="pks-p3ke-2023",
                       snapshot_uri=Path(snapshot).as_uri(), snapshot_sha256=sha[snapshot],
                       individuals=_rows(Path(snapshot)), families=0, published_by=steward, published_at=at),
        ExtractPrepared(request_id="bench-req", extract_id="bench-ext", agreement_id="pks-p3ke-2023",
                        program="padat_karya", status="accepted", dataset_version_id="bench-dv",
                        record_count=extract_rows, file_uri=Path(extract).as_uri(), file_sha256=sha[extract],
                        prepared_at=at),
        HandoverSigned(handover_id="bench-ho", bast_number="001/BAST-P3KE/PK/III/2026", agreement_id="pks-p3ke-2023",
                       extract_id="bench-ext", program="padat_karya", record_count=extract_rows,
                       package_sha256="b" * 64, bast_sha256="c" * 64, signers=signers, signed_at=at),
    ]
    items = [Delivered(CloudEvent.of(e, source="bench").spec.topic, 0, i, CloudEvent.of(e, source="bench"))
             for i, e in enumerate(events)]
    assert runtime.inbox("bench").apply_batch(items) == []
    ctx = runtime.context
    # the upload as the API leaves it: streamed to disk, its SHA-256 known (not timed: HTTP, not matching)
    upload = root / "data" / "feedback" / "incoming" / "upload.part"
    upload.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(csv, upload)
    digest = hashlib.sha256(upload.read_bytes()).hexdigest()
    officer = Actor(org="kemnaker", subject="bench-officer", roles=["program-officer"])
    started = time.perf_counter()
    stored = batches.submit(ctx, officer, batches.Submission("bench-ho", "padat_karya"),
                            batches.Upload(upload, "balikan.csv", upload.stat().st_size, digest))
    seconds = time.perf_counter() - started
    summary = json.loads(stored.batch["summary"])
    print(json.dumps({"seconds": seconds, "phases": stored.phases, "rows": stored.batch["rows"],
                      "served": stored.batch["served"],
                      "by_class": summary["by_class"], "database": str(root / "feedback.db"),
                      "storage": str(settings.storage_dir),
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
    runtime.engine.dispose()


# --- the reference, in a child process ----------------------------------------------------------

def _child_reference(scratch: str, snapshot: str, extract: str, csv: str, run: int) -> None:
    import resource

    import duckdb

    out = Path(scratch) / f"reference-{run}.parquet"
    started = time.perf_counter()
    con = duckdb.connect(config={"threads": THREADS, "memory_limit": MEMORY})
    con.execute("SET enable_progress_bar = false")
    con.execute(f"""
        CREATE TEMP TABLE f AS SELECT row_number() OVER () AS row, nik, status
        FROM read_csv('{csv}', header=true, all_varchar=true)""")
    con.execute(f"""
        COPY (
            WITH c AS (SELECT row, CASE WHEN regexp_full_match(trim(ltrim(nik, '''')), '[0-9]{{16}}')
                                        THEN trim(ltrim(nik, '''')) END AS nik, status FROM f),
            k AS (SELECT DISTINCT nik FROM c WHERE nik IS NOT NULL),
            e AS (SELECT nik, min(left(kode_kemendagri, 4)) AS region, min(desil_kesejahteraan) AS desil
                  FROM read_parquet('{extract}') WHERE nik IN (SELECT nik FROM k) GROUP BY nik),
            s AS (SELECT nik, min(left(kode_kemendagri, 4)) AS region, min(desil_kesejahteraan) AS desil
                  FROM read_parquet('{snapshot}') WHERE nik IN (SELECT nik FROM k) GROUP BY nik),
            r AS (SELECT row, nik, row_number() OVER (PARTITION BY nik ORDER BY row) AS k FROM c WHERE nik IS NOT NULL)
            SELECT c.row, c.nik, c.status,
                   CASE WHEN c.nik IS NULL THEN 'invalid_nik' WHEN r.k > 1 THEN 'duplicate'
                        WHEN e.nik IS NOT NULL THEN 'in_extract' WHEN s.nik IS NOT NULL THEN 'in_p3ke_not_delivered'
                        ELSE 'not_in_p3ke' END AS class,
                   coalesce(e.region, s.region) AS region, coalesce(e.desil, s.desil, 0) AS desil
            FROM c LEFT JOIN r USING (row) LEFT JOIN e ON e.nik = c.nik LEFT JOIN s ON s.nik = c.nik
            ORDER BY c.row
        ) TO '{out}' (FORMAT parquet, COMPRESSION zstd)""")
    counts = dict(con.execute(f"SELECT class, count(*) FROM read_parquet('{out}') GROUP BY 1").fetchall())
    con.close()
    print(json.dumps({"seconds": time.perf_counter() - started, "by_class": counts,
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))


def _run(code: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).parents[1])
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- report queries over the stored rows -----------------------------------------------------------

def _report_latency(database: str, storage: str, queries: int) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from p3ke_feedback.bootstrap import SERVICE
    from p3ke_feedback.config import FeedbackSettings
    from p3ke_platform.api import create_app
    from p3ke_platform.auth import DevIssuer
    from p3ke_platform.service import Runtime
    from p3ke_platform.settings import load_settings

    settings = load_settings(FeedbackSettings, service="feedback", env="test", data_dir=Path(storage).parents[0],
                             database_url=f"sqlite:///{database}", relay_in_api=False, rate_limit_per_minute=0)
    runtime = Runtime(SERVICE, settings)
    params = [{"level": "province", "period": "month"}, {"level": "regency", "period": "year"},
              {"level": "national", "period": "quarter", "program": "padat_karya"}]
    latencies: dict[str, list[float]] = {p["level"]: [] for p in params}
    with TestClient(create_app(runtime)) as client:
        headers = {"Authorization": f"Bearer {DevIssuer(settings).mint('bench', 'kemnaker', ['program-officer'])}"}
        for i in range(queries):
            p = params[i % len(params)]
            started = time.perf_counter()
            response = client.get("/v1/reports", params=p, headers=headers)
            latencies[p["level"]].append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
        served = sum(t["served"] for t in response.json()["totals"])
    runtime.engine.dispose()
    every = sorted(v for values in latencies.values() for v in values)
    return {"report_queries": queries, "report_p50_ms": round(1000 * every[len(every) // 2], 1),
            "report_p95_ms": round(1000 * every[min(len(every) - 1, int(0.95 * len(every)))], 1),
            "report_p95_ms_by_level": {k: round(1000 * sorted(v)[min(len(v) - 1, int(0.95 * len(v)))], 1)
                                       for k, v in latencies.items()},
            "report_served_persons": served}


def main() -> None:
    rows = env_int("BENCH_ROWS", 10_000_000)
    feedback_rows = env_int("BENCH_FEEDBACK_ROWS", 1_000_000)
    runs = env_int("BENCH_RUNS", 3)
    queries = env_int("BENCH_QUERIES", 200)
    snapshot = cached_snapshot(rows, SEED)
    scratch = Path(tempfile.mkdtemp(prefix="p3ke-bench-feedback-"))
    try:
        inputs = _inputs(snapshot, feedback_rows, scratch)
        ours, refs = [], []
        for run in range(runs):  # interleaved, so both see the same cache state
            ours.append(_run(f"from bench.feedback import _child_ours; _child_ours({str(scratch)!r}, "
                             f"{str(snapshot)!r}, {str(inputs['extract'])!r}, {str(inputs['csv'])!r}, "
                             f"{inputs['extract_rows']}, {run})"))
            refs.append(_run(f"from bench.feedback import _child_reference; _child_reference({str(scratch)!r}, "
                             f"{str(snapshot)!r}, {str(inputs['extract'])!r}, {str(inputs['csv'])!r}, {run})"))
        assert ours[0]["by_class"] == refs[0]["by_class"], (ours[0]["by_class"], refs[0]["by_class"])
        report = _report_latency(ours[-1]["database"], ours[-1]["storage"], queries)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    seconds = statistics.median(o["seconds"] for o in ours)
    reference = statistics.median(r["seconds"] for r in refs)
    # the matching itself: reading the file, validating every field, classifying every row (without writing
    # the batch's files, the audit subject references and the database transaction)
    matching = statistics.median(sum(o["phases"][k] for k in ("read", "validate", "match")) for o in ours)
    write("feedback", {
        "rows": rows, "snapshot_mb": round(snapshot.stat().st_size / 2**20, 1), "feedback_rows": feedback_rows,
        "extract_rows": inputs["extract_rows"], "runs": runs, "threads": THREADS, "duckdb_memory": MEMORY,
        "by_class": ours[0]["by_class"], "served": ours[0]["served"],
        "seconds": round(seconds, 3), "runs_seconds": [round(o["seconds"], 3) for o in ours],
        "phases_seconds": {k: round(statistics.median(o["phases"][k] for o in ours), 3) for k in ours[0]["phases"]},
        "rows_per_s": round(feedback_rows / seconds),
        "match_seconds": round(matching, 3),
        "peak_rss_mb": max(o["peak_rss_mb"] for o in ours),
        "reference_seconds": round(reference, 3), "reference_runs_seconds": [round(r["seconds"], 3) for r in refs],
        "reference_peak_rss_mb": max(r["peak_rss_mb"] for r in refs),
        "ratio": round(seconds / reference, 3),
        "match_ratio": round(matching / reference, 3),
        "reference": "hand-written DuckDB: the same CSV, NIK check, classification against extract and snapshot "
                     "with duplicates, classified rows to Parquet",
        **report,
    })


if __name__ == "__main__":
    main()
