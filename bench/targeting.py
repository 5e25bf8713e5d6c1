"""Targeting: a typical extract (one province, desil <= 2, age 18-60, quota 50,000) from request to file
written, against the equivalent hand-written DuckDB query in the same run; then the end-to-end latency
from extract-requested published on Kafka to extract-prepared consumed (worker and relay processes).

Sizes: BENCH_ROWS (snapshot rows, default 10,000,000), BENCH_RUNS (timed extracts, default 7),
BENCH_QUOTA (default 50,000), BENCH_E2E_RUNS (default 3; 0 skips the Kafka part). The synthetic
snapshot is generated once per size in a separate process, ordered by region as ingest publishes one, and cached
in ~/.cache/p3ke/bench/ (bench.support.cached_snapshot).
The in-process part goes through the real inbox on SQLite, like the worker, and reads the working copy the
worker's loop builds when a version arrives (its build time is reported); the same extracts are then timed from
the Parquet snapshot, with the copy deleted (`from_parquet_*`). An extract that leaves out earlier recipients is
timed on both paths too (`with_exclusion_*`; the Parquet one on a runtime of its own, with ledgers alike). DuckDB gets
P3KE_TARGETING_DUCKDB_THREADS (default 2) threads, and so does the reference.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

import duckdb

from bench.report import env_int, write
from bench.support import cached_snapshot, pct, spawn
from p3ke_platform.agreement import agreement_day
from p3ke_platform.devstack.ports import free_port
from p3ke_platform.event_keys import dev_signer, platform_owner
from p3ke_platform.messaging.inbox import Delivered
from p3ke_platform.migrations import upgrade
from p3ke_platform.service import Runtime
from p3ke_platform.settings import load_settings
from p3ke_platform.shared_files import sha256_file
from p3ke_schemas import Actor, CloudEvent, DatasetUpdated, ExtractRequested, sign_event
from p3ke_targeting.bootstrap import SERVICE
from p3ke_targeting.config import TargetingSettings
from p3ke_targeting.domain.selection import years_before
from p3ke_targeting.service_layer import working_copies

OFFICER = Actor(org="kemnaker", subject="bench-officer", roles=["program-officer"])
STEWARD = Actor(org="kemenkopmk", subject="bench-steward", roles=["data-steward"])
PROVINCE = "32"  # Jawa Barat, the most populous province
FIELDS = ["nik", "nama", "jenis_kelamin", "tanggal_lahir", "provinsi", "kabupaten_kota", "kecamatan",
          "desa_kelurahan", "kode_kemendagri", "desil_kesejahteraan", "pekerjaan", "status_pekerjaan"]
REFERENCE_DATE = agreement_day(datetime.now(UTC))  # ages are computed on the day a request is received


def _dataset(snapshot: Path, sha: str, rows: int, version: str) -> DatasetUpdated:
    return DatasetUpdated(dataset_version_id=version, agreement_id="pks-p3ke-2023", snapshot_uri=snapshot.as_uri(),
                          snapshot_sha256=sha, individuals=rows, families=0, published_by=STEWARD,
                          published_at=datetime.now(UTC))


def _request(quota: int, exclude: bool, version: str | None = None, program: str = "padat_karya") -> ExtractRequested:
    return ExtractRequested(
        request_id=f"bench-{uuid.uuid4().hex[:12]}", agreement_id="pks-p3ke-2023", program=program,
        criteria={"region_codes": [PROVINCE], "deciles": [1, 2], "age_min": 18, "age_max": 60,
                  "reference_date": REFERENCE_DATE.isoformat(), "exclude_already_delivered": exclude},
        quota=quota, fields=FIELDS, justification="bench: padat karya Jawa Barat", requested_by=OFFICER,
        purpose="seleksi_calon_peserta",
        dataset_version_id=version, requested_at=datetime.now(UTC))


def _apply(runtime: Runtime, payload: Any) -> None:
    event = CloudEvent.of(payload, source="bench")
    assert runtime.inbox("bench").apply_batch([Delivered(event.spec.topic, 0, 0, event)]) == []


def _prepared(runtime: Runtime, request_id: str, accept_rejected: bool = False) -> dict[str, Any]:
    outbox = runtime.spec.tables.outbox
    from sqlalchemy import select

    with runtime.engine.connect() as conn:
        values = conn.execute(select(outbox.c.value).where(outbox.c.key == request_id,
                                                           outbox.c.event_type == "p3ke.extract-prepared.v1")).scalars()
        [event] = [json.loads(v) for v in values]
    assert accept_rejected or event["status"] == "accepted", event["reason"]
    return event


def reference(snapshot: Path, quota: int, threads: int, out: Path) -> float:
    """The same selection written by hand in DuckDB: filters, priority order, limit, Parquet file."""
    started = time.perf_counter()
    con = duckdb.connect(config={"threads": threads})
    con.execute("SET enable_progress_bar = false")
    columns = ", ".join(FIELDS)
    con.execute(f"""
        COPY (SELECT {columns} FROM read_parquet('{snapshot}')
              WHERE left(kode_kemendagri, 2) = '{PROVINCE}' AND desil_kesejahteraan IN (1, 2)
                AND tanggal_lahir <= DATE '{years_before(REFERENCE_DATE, 18)}'
                AND tanggal_lahir > DATE '{years_before(REFERENCE_DATE, 61)}'
                AND padan_dukcapil = 'Ya'
                AND status_pekerjaan IN ('Tidak Bekerja', 'Pekerja Bebas', 'Pekerja Keluarga/Tidak Dibayar')
                AND pekerjaan NOT IN ('Pelajar/Mahasiswa', 'Pensiunan') AND nik IS NOT NULL
              ORDER BY desil_kesejahteraan, persentil, md5('seed' || nik) LIMIT {quota})
        TO '{out}' (FORMAT parquet, COMPRESSION zstd)""")
    con.close()
    return time.perf_counter() - started


def agree(ours: Path, ref: Path, quota: int) -> None:
    """Raise unless our extract and the reference's select alike, so that the two timed queries are the same work
    (the reference restates padat_karya's rules by hand): as many persons, the same deciles in the same order, and,
    when the quota leaves no one out, the same persons. Ties in the last persentil taken are broken by different
    keys (ours is secret per request), so a full quota may differ in whom among them."""
    import pyarrow.parquet as pq

    columns = ["nik", "desil_kesejahteraan"]
    a, b = pq.read_table(ours, columns=columns), pq.read_table(ref, columns=columns)
    same = a.num_rows == b.num_rows and a.column(1).equals(b.column(1))
    if same and a.num_rows < quota:
        same = sorted(a.column(0).to_pylist()) == sorted(b.column(0).to_pylist())
    if not same:
        raise RuntimeError(f"the extract and the hand-written reference select differently ({a.num_rows} against "
                           f"{b.num_rows} persons): the reference no longer restates the program's rules")


def _pct(values: list[float], q: float) -> float:
    return pct(values, q, digits=3)


def _runtime(where: Path) -> Runtime:
    settings = load_settings(TargetingSettings, service="targeting", env="test", data_dir=where / "data",
                             database_url=f"sqlite:///{where / 'targeting.db'}", agreement_include_examples=True,
                             log_level="WARNING")
    upgrade(SERVICE, settings)
    return Runtime(SERVICE, settings)


def _with_exclusion(runtime: Runtime, quota: int) -> tuple[float, int, int]:
    """Exclusion of earlier recipients, on another program (fresh ledgers): two extracts, then a timed third.
    Returns (its seconds, the earlier recipients, the persons it selected)."""
    earlier = 0
    for _ in range(2):
        first = _request(quota, exclude=True, program="pbi_jamsostek_pekerja_rentan")
        _apply(runtime, first)
        earlier += _prepared(runtime, first.request_id, accept_rejected=True).get("record_count", 0)
    req = _request(quota, exclude=True, program="pbi_jamsostek_pekerja_rentan")
    started = time.perf_counter()
    _apply(runtime, req)
    seconds = time.perf_counter() - started
    return seconds, earlier, _prepared(runtime, req.request_id, accept_rejected=True).get("record_count", 0)


def in_process(snapshot: Path, sha: str, rows: int, runs: int, quota: int, scratch: Path) -> dict[str, Any]:
    runtime = _runtime(scratch)
    settings = runtime.settings
    _apply(runtime, _dataset(snapshot, sha, rows, "bench-dv"))
    started = time.perf_counter()
    copy = working_copies.refresh(runtime.context)  # what the worker's loop does when a version arrives
    copy_seconds = time.perf_counter() - started
    assert copy is not None and copy.is_file()
    copy_mb = copy.stat().st_size / 2**20
    _apply(runtime, _request(quota, exclude=False))  # warm-up: checksum of the snapshot, page cache

    def timed(i: int, refs: list[float]) -> float:
        req = _request(quota, exclude=False)
        started = time.perf_counter()
        _apply(runtime, req)
        seconds = time.perf_counter() - started
        event = _prepared(runtime, req.request_id)
        counts.append(event["record_count"])
        refs.append(reference(snapshot, quota, settings.targeting_duckdb_threads, scratch / f"ref-{i}.parquet"))
        agree(Path(url2pathname(urlparse(event["file_uri"]).path)), scratch / f"ref-{i}.parquet", quota)
        return seconds

    ours, refs, counts = [], [], []
    for i in range(runs):  # interleaved, so both see the same cache state
        ours.append(timed(i, refs))
    excluded_seconds, earlier, excluded_rows = _with_exclusion(runtime, quota)
    # the same extracts from the Parquet snapshot, as before the working copy is built (or with it turned off); the
    # exclusion on a runtime of its own, with ledgers alike
    copy.unlink()
    parquet_refs: list[float] = []
    parquet = [timed(i, parquet_refs) for i in range(runs)]
    runtime.engine.dispose()
    fresh = _runtime(scratch / "from-parquet")
    _apply(fresh, _dataset(snapshot, sha, rows, "bench-dv"))
    parquet_excluded_seconds, *_ = _with_exclusion(fresh, quota)
    fresh.engine.dispose()
    return {
        "seconds": round(statistics.median(ours), 3), "p50_s": _pct(ours, 0.5), "p95_s": _pct(ours, 0.95),
        "reference_seconds": round(statistics.median(refs), 3), "reference_p95_s": _pct(refs, 0.95),
        "ratio": round(statistics.median(ours) / statistics.median(refs), 3),
        "working_copy_build_seconds": round(copy_seconds, 2), "working_copy_mb": round(copy_mb, 1),
        "from_parquet_seconds": round(statistics.median(parquet), 3),
        "from_parquet_ratio": round(statistics.median(parquet) / statistics.median(parquet_refs), 3),
        "extract_rows": counts[0], "extract_rows_per_s": round(counts[0] / statistics.median(ours)),
        "snapshot_rows_per_s": round(rows / statistics.median(ours)),
        "with_exclusion_seconds": round(excluded_seconds, 3), "with_exclusion_earlier_recipients": earlier,
        "with_exclusion_rows": excluded_rows,
        "with_exclusion_from_parquet_seconds": round(parquet_excluded_seconds, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def end_to_end(snapshot: Path, sha: str, rows: int, runs: int, quota: int, scratch: Path) -> dict[str, Any]:
    """Published on p3ke.extract-requested.v1 -> worker -> outbox -> relay -> consumed from extract-prepared."""
    from kafka import KafkaConsumer, KafkaProducer

    from p3ke_platform.devstack.kafka import KafkaBroker
    from p3ke_platform.messaging.admin import ensure_topics

    with ExitStack() as stack:
        broker = stack.enter_context(KafkaBroker(scratch / "kafka"))
        ensure_topics(load_settings(kafka_bootstrap=broker.bootstrap))
        env = {k: v for k, v in os.environ.items() if not k.startswith("P3KE_")}
        env.update(P3KE_SERVICE="targeting", P3KE_ENV="test", P3KE_KAFKA_BOOTSTRAP=broker.bootstrap,
                   P3KE_DATA_DIR=str(scratch / "e2e"), P3KE_DATABASE_URL=f"sqlite:///{scratch / 'e2e.db'}",
                   P3KE_AGREEMENT_INCLUDE_EXAMPLES="true", P3KE_LOG_LEVEL="WARNING",
                   P3KE_WORKER_PORT=str(free_port()), P3KE_CONSUMER_GROUP=f"bench-{uuid.uuid4().hex[:6]}",
                   P3KE_TARGETING_WORKING_COPY_SECONDS="1")
        subprocess.run([sys.executable, "-m", "p3ke_targeting", "migrate"], env=env, check=True, capture_output=True)
        for role in ("worker", "relay"):
            spawn(stack, [sys.executable, "-m", "p3ke_targeting", role], env, scratch / f"{role}.log")
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        stack.callback(producer.close)
        consumer = KafkaConsumer("p3ke.extract-prepared.v1", bootstrap_servers=broker.bootstrap,
                                 group_id=f"bench-{uuid.uuid4().hex[:6]}", auto_offset_reset="earliest")
        stack.callback(consumer.close)

        def send(payload: Any, producer_name: str) -> None:
            # signed with the producer's development key, as the worker verifies every event's origin
            source = "urn:p3ke:service:ingest" if producer_name == "ingest" else "urn:kemnaker:pusdatik:platform"
            event = CloudEvent.of(payload, source=source)
            key, value, headers = sign_event(event, dev_signer(producer_name))
            producer.send(event.spec.topic, key=key, value=value, headers=headers).get(30)

        def wait_for(request_id: str, timeout: float) -> float:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                for records in consumer.poll(timeout_ms=100).values():
                    for m in records:
                        if m.key.decode() == request_id:
                            return time.monotonic()
            raise TimeoutError(f"no extract-prepared for {request_id} in {timeout}s")

        send(_dataset(snapshot, sha, rows, "bench-dv"), "ingest")
        warm = _request(quota, exclude=False, version="bench-dv")
        send(warm, platform_owner(2))
        wait_for(warm.request_id, 300)  # group join, checksum of the snapshot
        # the worker's loop builds the version's working copy (timed in process above): extracts are timed after it
        copies = scratch / "e2e" / "targeting-working"
        deadline = time.monotonic() + 600
        while not list(copies.glob("*.duckdb")) and time.monotonic() < deadline:
            time.sleep(0.5)
        latencies = []
        for _ in range(runs):
            req = _request(quota, exclude=False, version="bench-dv")
            started = time.monotonic()
            send(req, platform_owner(2))
            latencies.append(wait_for(req.request_id, 120) - started)
    return {"e2e_runs": runs, "e2e_p50_s": _pct(latencies, 0.5), "e2e_max_s": _pct(latencies, 1.0)}


def main() -> None:
    rows = env_int("BENCH_ROWS", 10_000_000)
    runs = env_int("BENCH_RUNS", 7)
    quota = env_int("BENCH_QUOTA", 50_000)
    e2e_runs = env_int("BENCH_E2E_RUNS", 3)
    from p3ke_platform.logging import configure_logging

    configure_logging("targeting", "WARNING", False)
    snapshot = cached_snapshot(rows, seed=7)
    sha = sha256_file(snapshot, chunk_size=8 << 20)
    scratch = Path(tempfile.mkdtemp(prefix="p3ke-bench-targeting-"))
    scratch.chmod(0o755)
    try:
        figures = in_process(snapshot, sha, rows, runs, quota, scratch)
        if e2e_runs:
            figures.update(end_to_end(snapshot, sha, rows, e2e_runs, quota, scratch))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    write("targeting", {
        "rows": rows, "snapshot_mb": round(snapshot.stat().st_size / 2**20, 1), "quota": quota, "runs": runs,
        "extract": f"padat_karya, province {PROVINCE}, desil 1-2, age 18-60, {len(FIELDS)} fields",
        "reference": "hand-written DuckDB: same filters and order, LIMIT, COPY TO Parquet",
        **figures,
    })


if __name__ == "__main__":
    main()
