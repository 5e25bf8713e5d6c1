"""Events: outbox insert -> relay -> Kafka -> faust worker -> inbox -> applied, against a raw client.

Sizes: BENCH_EVENTS (throughput run, default 20000), BENCH_RATE and BENCH_LATENCY_SECONDS (the paced
latency run, default 500 events/s for 10 s), BENCH_DB (sqlite | postgresql, default sqlite).
The writer is this process; the outbox relay (`python -m p3ke_ingest relay`) and the audit worker
(`python -m p3ke_audit worker`) are separate processes, as deployed. The reference is kafka-python
producing and consuming the same number of messages of the same size on the same broker.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from sqlalchemy import create_engine, func, select

from bench.report import env_int, peak_rss_mb, write
from bench.support import pct, spawn, wait_http
from p3ke_audit.adapters.orm import entries
from p3ke_platform.devstack.kafka import KafkaBroker
from p3ke_platform.devstack.ports import free_port
from p3ke_platform.messaging.admin import ensure_topics
from p3ke_platform.service import Runtime
from p3ke_platform.settings import load_settings
from p3ke_schemas import Actor

ACTOR = Actor(org="kemnaker", subject="bench", roles=["program-officer"])


def _database(kind: str, scratch: Path, name: str, stack: ExitStack) -> str:
    if kind == "sqlite":
        return f"sqlite:///{scratch / f'{name}.db'}"
    from p3ke_platform.devstack.postgres import PostgresCluster

    cluster = getattr(_database, "cluster", None)
    if cluster is None:
        cluster = stack.enter_context(PostgresCluster(scratch / "pg"))
        _database.cluster = cluster  # type: ignore[attr-defined]
    return cluster.create_database(name)


def _count(engine: object, tag: str) -> int:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return int(conn.execute(select(func.count()).select_from(entries).where(
            entries.c.resource_id.like(f"{tag}-%"))).scalar_one())


def _wait_count(engine: object, tag: str, n: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _count(engine, tag) >= n:
            return time.monotonic()
        time.sleep(0.05)
    raise TimeoutError(f"only {_count(engine, tag)} of {n} events applied after {timeout}s")


def _latencies_ms(engine: object, tag: str) -> list[float]:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(select(entries.c.occurred_at, entries.c.recorded_at).where(
            entries.c.resource_id.like(f"{tag}-%"))).all()
    return sorted((r.recorded_at - r.occurred_at).total_seconds() * 1000 for r in rows)


def _pct(values: list[float], q: float) -> float:
    return pct(values, q, digits=1)


def reference(bootstrap: str, n: int, size: int) -> float:
    """kafka-python alone: produce n messages of `size` bytes and consume them all; seconds."""
    from kafka import KafkaConsumer, KafkaProducer

    topic = f"bench-raw-{uuid.uuid4().hex[:6]}"
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=f"g-{topic}", auto_offset_reset="earliest",
                             enable_auto_commit=True)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2, batch_size=256 * 1024)
    producer.send(topic, b"warm").get(30)
    consumer.subscribe([topic])
    seen, started = 0, time.monotonic()
    payload = b"x" * size
    for i in range(n):
        producer.send(topic, key=str(i).encode(), value=payload)
    producer.flush()
    while seen < n + 1:
        for records in consumer.poll(timeout_ms=500).values():
            seen += len(records)
    elapsed = time.monotonic() - started
    producer.close()
    consumer.close()
    return elapsed


def main() -> None:
    n = env_int("BENCH_EVENTS", 20_000)
    rate = env_int("BENCH_RATE", 500)
    paced_seconds = env_int("BENCH_LATENCY_SECONDS", 10)
    db_kind = os.environ.get("BENCH_DB", "sqlite")
    scratch = Path(tempfile.mkdtemp(prefix="p3ke-bench-"))
    scratch.chmod(0o755)
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, scratch, True)
        broker = stack.enter_context(KafkaBroker(scratch / "kafka"))
        ensure_topics(load_settings(kafka_bootstrap=broker.bootstrap))
        base = {k: v for k, v in os.environ.items() if not k.startswith("P3KE_")}
        base.update(P3KE_KAFKA_BOOTSTRAP=broker.bootstrap, P3KE_DATA_DIR=str(scratch / "data"), P3KE_ENV="test",
                    P3KE_LOG_LEVEL="WARNING")
        writer_url = _database(db_kind, scratch, "ingest", stack)
        audit_url = _database(db_kind, scratch, "audit", stack)
        writer_env = {**base, "P3KE_SERVICE": "ingest", "P3KE_DATABASE_URL": writer_url,
                      "P3KE_RELAY_IDLE_MS": "5"}
        audit_env = {**base, "P3KE_SERVICE": "audit", "P3KE_DATABASE_URL": audit_url,
                     "P3KE_WORKER_PORT": str(free_port())}
        for package, env in (("p3ke_ingest", writer_env), ("p3ke_audit", audit_env)):
            subprocess.run([sys.executable, "-m", package, "migrate"], env=env, check=True, capture_output=True)
        spawn(stack, [sys.executable, "-m", "p3ke_audit", "worker"], audit_env, scratch / "worker.log")
        wait_http(f"http://127.0.0.1:{audit_env['P3KE_WORKER_PORT']}/readyz", timeout=120)
        spawn(stack, [sys.executable, "-m", "p3ke_ingest", "relay"], writer_env, scratch / "relay.log")

        from p3ke_ingest.bootstrap import SERVICE

        runtime = Runtime(SERVICE, load_settings(service="ingest", database_url=writer_url,
                                                 kafka_bootstrap=broker.bootstrap))
        audit_db = create_engine(audit_url)

        # 1. warm-up, so group joins and connections are not timed
        _write(runtime, "warm", 50, batch=50)
        _wait_count(audit_db, "warm", 50, 120)

        # 2. sustained throughput: n events inserted in transactions of 100, applied by the worker
        tag = f"tp{uuid.uuid4().hex[:6]}"
        started = time.monotonic()
        _write(runtime, tag, n, batch=100)
        inserted = time.monotonic()
        finished = _wait_count(audit_db, tag, n, 600)
        seconds = finished - started
        tp_lat = _latencies_ms(audit_db, tag)

        # 3. latency at a fixed rate, one event per transaction (like an API call)
        tag2 = f"lat{uuid.uuid4().hex[:6]}"
        paced = rate * paced_seconds
        _write(runtime, tag2, paced, batch=1, rate=rate)
        _wait_count(audit_db, tag2, paced, 120)
        lat = _latencies_ms(audit_db, tag2)

        # 4. the reference on the same broker, same message size
        size = len(runtime_event_size(runtime))
        ref_seconds = reference(broker.bootstrap, n, size)

    ours = n / seconds
    ref = n / ref_seconds
    write("events", {
        "events": n, "database": db_kind, "message_bytes": size,
        "seconds": round(seconds, 3), "insert_seconds": round(inserted - started, 3),
        "events_per_s": round(ours), "throughput_p50_ms": _pct(tp_lat, 0.5), "throughput_p99_ms": _pct(tp_lat, 0.99),
        "paced_rate_per_s": rate, "paced_events": paced,
        "p50_ms": _pct(lat, 0.5), "p99_ms": _pct(lat, 0.99), "max_ms": _pct(lat, 1.0),
        "mean_ms": round(statistics.fmean(lat), 1) if lat else None,
        "reference": "kafka-python producer -> consumer, same broker", "reference_seconds": round(ref_seconds, 3),
        "reference_events_per_s": round(ref), "ratio": round(seconds / ref_seconds, 3),
        "throughput_ratio": round(ours / ref, 3), "peak_rss_mb": peak_rss_mb(),
    })


def runtime_event_size(runtime: Runtime) -> bytes:
    from datetime import UTC, datetime

    from p3ke_platform.audit_client import access_event
    from p3ke_schemas import CloudEvent, to_kafka

    event = CloudEvent.of(access_event(service="ingest", actor=ACTOR, action="read", resource_type="bench",
                                       resource_id="x-0", outcome="allowed", at=datetime.now(UTC),
                                       subject_hash_key=runtime.settings.subject_hash_key), source="bench")
    return to_kafka(event)[1]


def _write(runtime: Runtime, tag: str, n: int, *, batch: int, rate: int | None = None) -> None:
    started = time.monotonic()
    for first in range(0, n, batch):
        with runtime.unit_of_work() as uow:
            for i in range(first, min(n, first + batch)):
                uow.record_access(actor=ACTOR, action="read", resource_type="bench", resource_id=f"{tag}-{i}")
        if rate:
            ahead = (first + batch) / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)


if __name__ == "__main__":
    main()
