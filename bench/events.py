"""Events: outbox insert -> relay -> Kafka -> worker -> inbox -> applied, against a raw client.

Then each stage alone over BENCH_EVENTS more events (writer, relay, worker in turn, the others stopped), so the
stage that sets the pace is named. Sizes: BENCH_EVENTS (throughput run, default 20000), BENCH_RATE and
BENCH_LATENCY_SECONDS (the paced latency run, default 500 events/s for 10 s), BENCH_LATENCY_WARMUP_SECONDS (how
long the same pace runs before it is measured, default 30 s; its figures are reported as warmup_*), BENCH_DB
(sqlite | postgresql, default sqlite), BENCH_WORKER_ENGINE (the worker's P3KE_WORKER_ENGINE, default kafka-python;
`faust` to compare), BENCH_RELAY_IDLE_MS (the relay's P3KE_RELAY_IDLE_MS, default 5) and BENCH_WORKER_BATCH_MS (the
audit worker's P3KE_WORKER_BATCH_MS, default its own).
The writer is this process; the outbox relay (`python -m p3ke_ingest relay`) and the audit worker
(`python -m p3ke_audit worker`) are separate processes, as deployed. The reference is kafka-python
producing and consuming the same number of messages of the same size on the same broker; a second reference
does the same with the per-event work the contract requires of any implementation (each message a data-access
CloudEvent, signed when produced, parsed and its signature verified when consumed).
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
from collections.abc import Callable
from contextlib import ExitStack, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select

from bench.report import env_int, peak_rss_mb, write
from bench.support import pct, spawn, stop, wait_http
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


def _applied(engine: object, tag: str) -> dict[str, Any]:
    """The audit entries of the events tagged `tag`, by resource id, with their occurred_at and recorded_at."""
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return {r.resource_id: r for r in conn.execute(select(
            entries.c.resource_id, entries.c.occurred_at, entries.c.recorded_at).where(
            entries.c.resource_id.like(f"{tag}-%"))).all()}


def _latencies_ms(rows: dict[str, Any]) -> list[float]:
    return sorted((r.recorded_at - r.occurred_at).total_seconds() * 1000 for r in rows.values())


def _latency_split(rows: dict[str, Any], bootstrap: str) -> dict[str, float]:
    """Where the paced run's delay goes: each record's LogAppendTime (the contract's topics are created with it: the
    broker stamps each record as it appends it) splits it into writer -> broker (the event recorded and committed,
    picked up by the relay, produced) and broker -> applied (the worker's fetch and poll, verification and apply)."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer("p3ke.data-access.v1", bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=3000)
    sent: dict[str, float] = {}
    for record in consumer:
        key = record.key.decode() if record.key else ""
        if key in rows and key not in sent:  # a repeat is absorbed by the inbox: its first send counts
            sent[key] = record.timestamp / 1000
    consumer.close()
    first, second = [], []
    for key, at in sent.items():
        r = rows[key]
        first.append((at - _epoch(r.occurred_at)) * 1000)
        second.append((_epoch(r.recorded_at) - at) * 1000)
    first.sort()
    second.sort()
    return {"split_events": len(sent), "writer_to_broker_p50_ms": _pct(first, 0.5),
            "writer_to_broker_p99_ms": _pct(first, 0.99), "broker_to_applied_p50_ms": _pct(second, 0.5),
            "broker_to_applied_p99_ms": _pct(second, 0.99)}


def _epoch(at: datetime) -> float:
    """Seconds since the epoch of a stored time (SQLite gives it back without its zone: UTC)."""
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


def _pct(values: list[float], q: float) -> float:
    return pct(values, q, digits=1)


def _round_trip(bootstrap: str, name: str, n: int, message: Callable[[int], tuple[bytes, bytes, list[Any]]],
                check: Callable[[Any], object] | None = None) -> float:
    """kafka-python producing `message(i)` for i < n to a fresh topic and consuming them all (each passed to `check`,
    if given), after one warm-up message; seconds from the first send to the last message read."""
    from kafka import KafkaConsumer, KafkaProducer

    topic = f"bench-{name}-{uuid.uuid4().hex[:6]}"
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=f"g-{topic}", auto_offset_reset="earliest",
                             enable_auto_commit=True)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2, batch_size=256 * 1024)
    producer.send(topic, b"warm").get(30)
    consumer.subscribe([topic])
    seen, started = 0, time.monotonic()
    for i in range(n):
        key, value, headers = message(i)
        producer.send(topic, key=key, value=value, headers=headers)
    producer.flush()
    while seen < n + 1:  # the warm-up message too
        for records in consumer.poll(timeout_ms=500).values():
            seen += len(records)
            if check is not None:
                for record in records:
                    if record.value != b"warm":
                        check(record)
    elapsed = time.monotonic() - started
    producer.close()
    consumer.close()
    return elapsed


def reference(bootstrap: str, n: int, size: int) -> float:
    """kafka-python alone: produce n messages of `size` bytes and consume them all; seconds."""
    payload = b"x" * size
    return _round_trip(bootstrap, "raw", n, lambda i: (str(i).encode(), payload, []))


def signed_reference(bootstrap: str, n: int, runtime: Runtime) -> float:
    """kafka-python with the work no deployment of the contract can skip: each message a data-access CloudEvent
    built and signed (JCS + Ed25519) when produced, parsed and its signature verified when consumed; no database,
    no relay, no worker, one process. Seconds."""
    from p3ke_platform.audit_client import access_event
    from p3ke_schemas import CloudEvent, authcontext, from_kafka, to_kafka
    from p3ke_schemas.signing import verify_headers

    signer = runtime.context.event_signer
    keys = {signer.kid: signer.public_key()}

    def message(i: int) -> tuple[bytes, bytes, list[Any]]:
        payload = access_event(service="ingest", actor=ACTOR, action="read", resource_type="bench",
                               resource_id=f"ref-{i}", outcome="allowed", at=datetime.now(UTC),
                               subject_hash_key=runtime.settings.subject_hash_key)
        authtype, authid = authcontext(payload, "ingest")
        return to_kafka(CloudEvent.of(payload, source="urn:p3ke:service:ingest", authtype=authtype, authid=authid),
                        signer)

    def check(record: Any) -> None:
        from_kafka(record.key, record.value, record.headers)
        verify_headers(record.headers, record.value, keys.get)

    return _round_trip(bootstrap, "signed", n, message, check)


def main() -> None:
    n = env_int("BENCH_EVENTS", 20_000)
    rate = env_int("BENCH_RATE", 500)
    paced_seconds = env_int("BENCH_LATENCY_SECONDS", 10)
    warmup_seconds = env_int("BENCH_LATENCY_WARMUP_SECONDS", 30)
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
                      "P3KE_RELAY_IDLE_MS": os.environ.get("BENCH_RELAY_IDLE_MS", "5")}
        audit_env = {**base, "P3KE_SERVICE": "audit", "P3KE_DATABASE_URL": audit_url,
                     "P3KE_WORKER_PORT": str(free_port()),
                     "P3KE_WORKER_ENGINE": os.environ.get("BENCH_WORKER_ENGINE", "kafka-python"),
                     **({"P3KE_WORKER_BATCH_MS": os.environ["BENCH_WORKER_BATCH_MS"]}
                        if os.environ.get("BENCH_WORKER_BATCH_MS") else {})}
        for package, env in (("p3ke_ingest", writer_env), ("p3ke_audit", audit_env)):
            subprocess.run([sys.executable, "-m", package, "migrate"], env=env, check=True, capture_output=True)
        worker = spawn(stack, [sys.executable, "-m", "p3ke_audit", "worker"], audit_env, scratch / "worker.log")
        wait_http(f"http://127.0.0.1:{audit_env['P3KE_WORKER_PORT']}/readyz", timeout=120)
        relay = spawn(stack, [sys.executable, "-m", "p3ke_ingest", "relay"], writer_env, scratch / "relay.log")

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
        finished = _wait_count(audit_db, tag, n, 600 + n / 100)
        seconds = finished - started
        tp_lat = _latencies_ms(_applied(audit_db, tag))

        # 3. latency at a fixed rate, one event per transaction (like an API call), measured once the same pace has
        # run for a warm-up (as the OpenMessaging Benchmark does): right after the burst above, the broker's JVM is
        # still compiling the paths of small requests, and the first 15-30 s are slower than what follows
        warm_tag, tag2 = f"lw{uuid.uuid4().hex[:6]}", f"lat{uuid.uuid4().hex[:6]}"
        warm_n, paced = rate * warmup_seconds, rate * paced_seconds
        _write(runtime, warm_tag, warm_n, batch=1, rate=rate)
        _write(runtime, tag2, paced, batch=1, rate=rate)  # continues the warm-up's pace without a pause
        _wait_count(audit_db, tag2, paced, 120)
        _wait_count(audit_db, warm_tag, warm_n, 120)
        warm_lat = _latencies_ms(_applied(audit_db, warm_tag))
        paced_rows = _applied(audit_db, tag2)
        lat = _latencies_ms(paced_rows)
        split = _latency_split(paced_rows, broker.bootstrap)

        # 4. each stage alone on the machine: where the time goes
        stop(relay)
        stop(worker)
        stages = _stages(runtime, stack, scratch, writer_env, audit_env, audit_db, n)

        # 5. the reference on the same broker, same message size
        size = len(runtime_event_size(runtime))
        ref_seconds = reference(broker.bootstrap, n, size)
        signed_seconds = signed_reference(broker.bootstrap, n, runtime)

    ours = n / seconds
    ref = n / ref_seconds
    write("events", {
        "events": n, "database": db_kind, "message_bytes": size, "worker_engine": audit_env["P3KE_WORKER_ENGINE"],
        "relay_idle_ms": int(writer_env["P3KE_RELAY_IDLE_MS"]),
        "worker_batch_ms": int(audit_env.get("P3KE_WORKER_BATCH_MS", "0")) or "audit's default",
        "seconds": round(seconds, 3), "insert_seconds": round(inserted - started, 3),
        "events_per_s": round(ours), "throughput_p50_ms": _pct(tp_lat, 0.5), "throughput_p99_ms": _pct(tp_lat, 0.99),
        "paced_rate_per_s": rate, "paced_events": paced, "warmup_seconds": warmup_seconds,
        "warmup_p50_ms": _pct(warm_lat, 0.5), "warmup_p99_ms": _pct(warm_lat, 0.99),
        "p50_ms": _pct(lat, 0.5), "p99_ms": _pct(lat, 0.99), "max_ms": _pct(lat, 1.0),
        "mean_ms": round(statistics.fmean(lat), 1) if lat else None, **split,
        "reference": "kafka-python producer -> consumer, same broker", "reference_seconds": round(ref_seconds, 3),
        "reference_events_per_s": round(ref), "ratio": round(seconds / ref_seconds, 3),
        "signed_reference": "the same with each message a signed CloudEvent, parsed and verified when consumed",
        "signed_reference_events_per_s": round(n / signed_seconds),
        "signed_throughput_ratio": round(ours / (n / signed_seconds), 3),
        "throughput_ratio": round(ours / ref, 3), "peak_rss_mb": peak_rss_mb(),
        **stages,
    })


def _stages(runtime: Runtime, stack: ExitStack, scratch: Path, writer_env: dict[str, str],
            audit_env: dict[str, str], audit_db: object, n: int) -> dict[str, object]:
    """Each stage alone, in turn, over the same `n` events (the others stopped): the writer inserting them into
    the outbox, the relay publishing them, the worker verifying and applying them; events per second each, and
    the worker's CPU seconds per event (so the slowest stage, the one that sets the pace, is named)."""
    import psutil

    outbox = runtime.spec.tables.outbox
    tag = f"st{uuid.uuid4().hex[:6]}"
    started = time.monotonic()
    _write(runtime, tag, n, batch=100)
    writer = n / (time.monotonic() - started)
    started = time.monotonic()
    spawn(stack, [sys.executable, "-m", "p3ke_ingest", "relay"], writer_env, scratch / "relay-stage.log")
    while True:
        with runtime.engine.connect() as conn:
            if not conn.execute(select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))).scalar():
                break
        time.sleep(0.02)
    relay = n / (time.monotonic() - started)  # start-up included: a relay starts in about a second
    worker = spawn(stack, [sys.executable, "-m", "p3ke_audit", "worker"], audit_env, scratch / "worker-stage.log")
    first = _wait_count(audit_db, tag, 1, 120)
    process = psutil.Process(worker.pid)
    cpu = sum(process.cpu_times()[:2])
    helpers = {p.pid: p for p in process.children(recursive=True)}
    helper_cpu = {pid: sum(p.cpu_times()[:2]) for pid, p in helpers.items()}
    done = _wait_count(audit_db, tag, n, 600 + n / 100)
    cpu = sum(process.cpu_times()[:2]) - cpu
    for pid, p in helpers.items():
        with suppress(psutil.Error):
            helper_cpu[pid] = sum(p.cpu_times()[:2]) - helper_cpu[pid]
    applied = _count(audit_db, tag)
    return {"stage_writer_events_per_s": round(writer), "stage_relay_events_per_s": round(relay),
            "stage_worker_events_per_s": round((applied - 1) / (done - first)) if done > first else None,
            "stage_worker_cpu_us_per_event": round(cpu / applied * 1e6),
            "stage_worker_helpers_cpu_us_per_event": round(sum(helper_cpu.values()) / applied * 1e6)}


def runtime_event_size(runtime: Runtime) -> bytes:
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
