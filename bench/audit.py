"""Audit: Kafka -> audit worker -> PostgreSQL with the Merkle tree maintained, against a raw consumer.

1. BENCH_AUDIT_ENTRIES data-access events (default 20000; each naming BENCH_AUDIT_SUBJECTS_PER_EVENT data
   subjects, default 2) are produced to `p3ke.data-access.v1` beforehand; then the real audit worker
   (`python -m p3ke_audit worker`, a separate process, default settings: batches of 1000, a signed checkpoint
   every 1000 entries) drains the backlog into PostgreSQL. The sustained append rate is measured from the
   first appended entry to the last (worker start-up and group join excluded; `append_wall_seconds` has
   them; `append_steady_entries_per_s` is the rate from 10 % to 90 % of the backlog). The reference, in
   the same run and on the same topic once the worker has stopped, is a bare kafka-python consumer in a
   fresh group that only counts the messages: `ratio` = our seconds / its.
2. At the resulting size (grow it without Kafka with BENCH_AUDIT_PREFILL: entries appended in-process
   through the inbox and the same handler before step 1), with a checkpoint signed over the whole log:
   latency of an inclusion proof and of a subject lookup by NIK, BENCH_AUDIT_SAMPLES each (default 300),
   through the service layer in this process and through the real API process over HTTP (which also
   records each query in the log's outbox).
3. `verify_log` (what `p3ke audit verify` runs: the tree, the checkpoints and every entry's origin signature,
   pages checked by one worker process per CPU) over the whole log: entries per second (`verify_entries_per_s`;
   the tree alone over the same log: `verify_tree_only_small_entries_per_s`). Then the tree alone over a log of
   BENCH_AUDIT_VERIFY_ENTRIES entries (default 100000) built in bulk (`bulk_log`: the worker's entries repeated
   under new event ids, each leaf hash computed by domain/entry.py, the nodes by the tree's frontier, a checkpoint
   signed by the log's key every 1000 entries, written with COPY; verification reads it like any log; the copies
   keep their originals' signatures, so their origins are not checked): BENCH_AUDIT_VERIFY_RUNS runs (default
   3), `verify_tree_only_entries_per_s` being the median. The same-run references, measured just before on the
   same log: `verify_reference_fetch_rows_per_s`, one connection fetching the same columns page by page with
   the same driver (what reading alone costs), and `verify_reference_sha256_mb_per_s`, hashlib over the same
   canonical bytes in this process (the CPU's state); with `verify_loadavg` (1, 5, 15 min) at the start, since
   other work on the machine takes the same 2 CPUs.

BENCH_WORKER_ENGINE (default kafka-python) sets the worker's engine, P3KE_WORKER_ENGINE (`faust` to compare).

Every event is signed with its service's development key (the worker verifies it before the handler).

Aims (issue 7): >= 5,000 entries/s appended on 2 cores; at 10^7 entries p95 <= 50 ms for an inclusion
proof and <= 200 ms for a subject lookup; verification >= 100,000 entries/s (issue 16; of the tree: since
issue 15 a verification also checks every entry's origin signature, one Ed25519 verification per entry (about
50 us with libsodium on this machine, 100 us with OpenSSL before) spread over the CPUs, which sets its pace;
`verify_tree_only_entries_per_s` is the tree's part). The throwaway PostgreSQL cluster runs with fsync and
synchronous_commit off (p3ke_platform.devstack.postgres).
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import Engine

from bench.report import env_int, peak_rss_mb, write
from bench.support import pct, spawn, stop, wait_http
from p3ke_audit.adapters.orm import checkpoints, entries
from p3ke_platform.audit_client import access_event
from p3ke_platform.devstack.kafka import KafkaBroker
from p3ke_platform.devstack.ports import free_port
from p3ke_platform.devstack.postgres import PostgresCluster
from p3ke_platform.event_keys import dev_signer
from p3ke_platform.messaging.admin import ensure_topics
from p3ke_platform.settings import load_settings
from p3ke_schemas import Actor, CloudEvent, ProgramCode, sign_event, verify_event

TOPIC = "p3ke.data-access.v1"
ENGINE = os.environ.get("BENCH_WORKER_ENGINE", "kafka-python")  # the worker's client (P3KE_WORKER_ENGINE)
SUBJECT_KEY = "bench-audit-subject-hash-key-0123456789"
SERVICES = ["ingest", "targeting", "delivery", "feedback"]
ACTORS = [Actor(org="kemnaker", subject=f"officer-{i}", roles=["program-officer"]) for i in range(20)] + [
    Actor(org="kemenkopmk", subject=f"steward-{i}", roles=["data-steward"]) for i in range(5)]
PROGRAMS = [p.value for p in ProgramCode]
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def nik(i: int) -> str:
    return f"3201{i:012d}"


def events(first: int, n: int, pool: int, per_event: int, seed: int) -> Iterator[CloudEvent]:
    """n synthetic data-access events, i from `first`, each naming `per_event` NIKs out of `pool`."""
    rng = random.Random(seed)
    for i in range(first, first + n):
        service = SERVICES[i % len(SERVICES)]
        data = access_event(
            service=service, actor=ACTORS[i % len(ACTORS)], action=rng.choice(["read", "export", "download", "match"]),
            resource_type="extract", resource_id=f"ext-{i % 97}", outcome="denied" if i % 50 == 0 else "allowed",
            reason="agreement expired" if i % 50 == 0 else None, record_count=rng.randrange(1, 5000),
            agreement_id="PKS-003", program=PROGRAMS[i % len(PROGRAMS)], at=T0 + timedelta(seconds=i),
            subject_hash_key=SUBJECT_KEY, subject_niks=[nik(rng.randrange(pool)) for _ in range(per_event)])
        yield CloudEvent.of(data, source=f"urn:p3ke:service:{service}", time=data.occurred_at)


def signed_message(event: CloudEvent) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """(key, value, headers) of `event` signed with its service's development key, as the service publishes it."""
    service = event.source.removeprefix("urn:p3ke:service:")
    return sign_event(event, dev_signer(service), service)


def produce(bootstrap: str, stream: Iterator[CloudEvent]) -> tuple[int, int]:
    """Send every event, signed, to the topic (acks=all); returns (messages, bytes of the values)."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, batch_size=256 * 1024)
    count = size = 0
    for event in stream:
        key, value, headers = signed_message(event)
        producer.send(TOPIC, key=key, value=value, headers=headers)
        count, size = count + 1, size + len(value)
    producer.flush()
    producer.close()
    return count, size


def prefill(url: str, data_dir: Path, n: int, pool: int, per_event: int) -> None:
    """Grow the log to n entries without Kafka: the inbox and the audit handler, in this process."""
    from p3ke_audit.bootstrap import SERVICE
    from p3ke_audit.config import AuditSettings
    from p3ke_platform.messaging.inbox import Delivered
    from p3ke_platform.service import Runtime

    runtime = Runtime(SERVICE, load_settings(AuditSettings, service="audit", database_url=url, data_dir=data_dir,
                                             env="test", subject_hash_key=SUBJECT_KEY,
                                             audit_checkpoint_every=100_000))
    inbox = runtime.inbox("bench-prefill")
    ring = runtime.context.event_keys
    batch: list[Delivered] = []
    started = time.monotonic()
    for offset, event in enumerate(events(0, n, pool, per_event, seed=2)):
        # signed and verified, as the worker hands events to the handler
        batch.append(Delivered(TOPIC, 0, offset, verify_event(*signed_message(event), ring.public_key)))
        if len(batch) == 500:
            assert inbox.apply_batch(batch) == []
            batch = []
            if (offset + 1) % 100_000 == 0:
                print(f"  prefill {offset + 1}/{n} ({(offset + 1) / (time.monotonic() - started):.0f}/s)", flush=True)
    if batch:
        assert inbox.apply_batch(batch) == []
    runtime.engine.dispose()


def log_size(engine: Engine) -> int:
    with engine.connect() as conn:
        top = conn.execute(select(func.max(entries.c.leaf_index))).scalar()
    return 0 if top is None else int(top) + 1


def watch_appends(engine: Engine, start: int, target: int, timeout: float) -> list[tuple[float, int]]:
    """Poll the log (every 0.1 s) until it holds `target` entries: (when, size) from the first new entry on."""
    deadline = time.monotonic() + timeout
    seen: list[tuple[float, int]] = []
    while time.monotonic() < deadline:
        size, now = log_size(engine), time.monotonic()
        if size > start:
            seen.append((now, size))
        if size >= target:
            return seen
        time.sleep(0.1)
    raise TimeoutError(f"the log holds {log_size(engine)} of {target} entries after {timeout}s")


def rate_between(seen: list[tuple[float, int]], lo: int, hi: int) -> float:
    """Entries per second while the log grew from `lo` to `hi` entries (first polls at or above each)."""
    a = next(p for p in seen if p[1] >= lo)
    b = next(p for p in seen if p[1] >= hi)
    return (b[1] - a[1]) / (b[0] - a[0]) if b[0] > a[0] else float("nan")


def reference(bootstrap: str, n: int, verify: bool = False) -> tuple[float, float]:
    """A bare kafka-python consumer, fresh group, same topic from the start: (first->last seconds, total). With
    `verify`, it also does what any consumer of the contract must per event: parse the CloudEvent and verify its
    signature (one process, no database)."""
    from kafka import KafkaConsumer

    from p3ke_platform.event_keys import dev_keys
    from p3ke_schemas import from_kafka
    from p3ke_schemas.signing import verify_headers

    keys = {key.kid: key.public_key for key in dev_keys()}
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=f"bench-ref-{uuid.uuid4().hex[:8]}",
                             auto_offset_reset="earliest", enable_auto_commit=False)
    started = time.monotonic()
    consumer.subscribe([TOPIC])
    seen, first = 0, 0.0
    while seen < n:
        for records in consumer.poll(timeout_ms=500).values():
            if not first:
                first = time.monotonic()
            seen += len(records)
            if verify:
                for record in records:
                    from_kafka(record.key, record.value, record.headers)
                    verify_headers(record.headers, record.value, keys.get)
    done = time.monotonic()
    consumer.close()
    return done - first, done - started


def cpu_seconds(pids: list[int]) -> float:
    import psutil

    total = 0.0
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def postgres_pids(pgdata: Path) -> list[int]:
    import psutil

    try:
        master = int((pgdata / "postmaster.pid").read_text().split()[0])
        return [master, *(p.pid for p in psutil.Process(master).children(recursive=True))]
    except (OSError, ValueError, psutil.Error):
        return []


def timed(samples: int, call: Callable[[], Any], warm: int = 5) -> list[float]:
    for _ in range(warm):
        call()
    out = []
    for _ in range(samples):
        t = time.perf_counter()
        call()
        out.append((time.perf_counter() - t) * 1000)
    return sorted(out)


def bulk_log(source: Engine, url: str, signer: Any, n: int, every: int = 1000) -> None:
    """A log of `n` entries in the (migrated, empty) database `url`: the entries of `source` repeated, each copy
    under a new event id, with its leaf hash (domain/entry.py), the tree's nodes (the frontier, as the appender
    writes them) and a checkpoint signed by `signer` every `every` entries and at the end, written with COPY."""
    import psycopg

    from p3ke_audit.adapters.orm import tree_nodes
    from p3ke_audit.domain.entry import ORDER, entry_leaf_hash
    from p3ke_platform.tlog.merkle import Frontier, stored_index
    from p3ke_platform.tlog.note import Checkpoint, sign

    names = [name for name in ORDER if name != "leaf_index"]
    with source.connect() as conn:
        originals = [dict(r) for r in conn.execute(select(*(entries.c[name] for name in names))
                                                   .order_by(entries.c.leaf_index)).mappings()]
    frontier = Frontier()
    columns = [*ORDER, "leaf_hash"]
    now = datetime.now(UTC)
    nodes: list[tuple[int, int, int, bytes]] = []
    signed: list[tuple[int, bytes, str, str, datetime]] = []
    with psycopg.connect(url.replace("+psycopg", "")) as conn, conn.cursor() as cursor:
        with cursor.copy(f"COPY {entries.name} ({', '.join(columns)}) FROM STDIN") as rows:
            for i in range(n):
                copy, row = divmod(i, len(originals))
                entry = {**originals[row], "leaf_index": i}
                if copy:
                    entry["event_id"] = f"{entry['event_id'][:50]}-copy{copy}"
                entry["leaf_hash"] = leaf = entry_leaf_hash(entry)
                rows.write_row([entry[c] for c in columns])
                nodes += [(stored_index(level, idx), level, idx, h) for level, idx, h in frontier.append(leaf)]
                if frontier.size % every == 0 or frontier.size == n:
                    root = frontier.root()
                    note = sign(Checkpoint(signer.name, frontier.size, root), signer.name, signer.private_key)
                    signed.append((frontier.size, root, note, signer.key_id_hex, now))
        for table, names, values in ((tree_nodes.name, "id, level, idx, hash", nodes),
                                     (checkpoints.name, "tree_size, root_hash, note, key_id, issued_at", signed)):
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copying:
                for value in values:
                    copying.write_row(value)

def fetch_reference(url: str, page: int) -> float:
    """Rows per second of one connection fetching the columns verification reads, page by page (psycopg,
    binary), hashing and serialising nothing: what reading the log alone costs on this machine now."""
    import psycopg

    from p3ke_audit.domain.entry import ORDER

    sql = (f"SELECT leaf_hash, {', '.join(ORDER)} FROM {entries.name} WHERE leaf_index >= %s AND leaf_index < %s "
           "ORDER BY leaf_index")
    count = 0
    with psycopg.connect(url.replace("+psycopg", "")) as conn, conn.cursor(binary=True) as cursor:
        conn.execute("SET TIME ZONE 'UTC'")
        size = conn.execute(f"SELECT count(*) FROM {entries.name}").fetchone()[0]  # type: ignore[index]
        started = time.perf_counter()
        for lo in range(0, size, page):
            count += len(cursor.execute(sql, (lo, lo + page)).fetchall())
        return count / (time.perf_counter() - started)


def sha256_reference(engine: Engine, rows: int = 20_000) -> float:
    """MB per second of hashlib's SHA-256 over the canonical bytes of the log's first entries, in this process."""
    import hashlib

    from p3ke_audit.domain.entry import ORDER, canonical_leaf_input

    with engine.connect() as conn:
        data = [canonical_leaf_input(r) for r in conn.execute(select(*(entries.c[name] for name in ORDER))
                                                              .order_by(entries.c.leaf_index).limit(rows))]
    started = time.perf_counter()
    for _ in range(5):
        for item in data:
            hashlib.sha256(item).digest()
    return 5 * sum(map(len, data)) / (time.perf_counter() - started) / 1e6


def verification(runtime: Any, bulk_url: str, env: dict[str, str]) -> dict[str, Any]:
    """Step 3: `verify_log` over the log the worker built (with origins, then the tree alone), and the tree alone
    over a bulk-built log of BENCH_AUDIT_VERIFY_ENTRIES entries, with the same-run references."""
    from p3ke_audit.service_layer import verification as verify
    from p3ke_audit.service_layer.verification import verify_log

    size = env_int("BENCH_AUDIT_VERIFY_ENTRIES", 100_000)
    runs = env_int("BENCH_AUDIT_VERIFY_RUNS", 3)
    s, engine = runtime.context.signer, runtime.engine
    figures: dict[str, Any] = {"verify_cpus": os.cpu_count(), "verify_loadavg": [round(x, 2) for x in os.getloadavg()]}
    report = verify_log(engine, s.name, s.public_key, keys=runtime.context.event_keys)
    small = verify_log(engine, s.name, s.public_key)
    if not (report.ok and small.ok) or report.signed_entries != report.entries_checked:
        raise SystemExit(f"verification failed: {report.summary()} / {small.summary()}")
    figures.update(verify_entries=report.entries_checked, verify_checkpoints=report.checkpoints_checked,
                   verify_signatures=report.signed_entries, verify_seconds=round(report.seconds, 3),
                   verify_entries_per_s=round(report.entries_checked / report.seconds),
                   verify_tree_only_small_entries_per_s=round(small.entries_checked / small.seconds))

    print(f"[audit] building a log of {size} entries in bulk for the tree-only verification", flush=True)
    subprocess.run([sys.executable, "-m", "p3ke_audit", "migrate"], env={**env, "P3KE_DATABASE_URL": bulk_url},
                   check=True, capture_output=True)
    started = time.monotonic()
    bulk_log(engine, bulk_url, s, size)
    bulk = create_engine(bulk_url)
    figures.update(verify_tree_only_build_seconds=round(time.monotonic() - started, 1),
                   verify_reference_fetch_rows_per_s=round(fetch_reference(bulk_url, verify.PAGE)),
                   verify_reference_sha256_mb_per_s=round(sha256_reference(bulk)))
    rates = []
    for run in range(runs):
        tree = verify_log(bulk, s.name, s.public_key)
        if not tree.ok or tree.entries_checked != size:
            raise SystemExit(f"verification of the bulk log failed: {tree.summary()}")
        rates.append(round(tree.entries_checked / tree.seconds))
        print(f"  run {run + 1}: {rates[-1]} entries/s", flush=True)
    bulk.dispose()
    figures.update(verify_tree_only_entries=size, verify_tree_only_checkpoints=tree.checkpoints_checked,
                   verify_tree_only_entries_per_s=round(statistics.median(rates)),
                   verify_tree_only_runs_entries_per_s=rates,
                   verify_loadavg_after=[round(x, 2) for x in os.getloadavg()])
    return figures


def main() -> None:
    n = env_int("BENCH_AUDIT_ENTRIES", 20_000)
    extra = env_int("BENCH_AUDIT_PREFILL", 0)
    samples = env_int("BENCH_AUDIT_SAMPLES", 300)
    per_event = env_int("BENCH_AUDIT_SUBJECTS_PER_EVENT", 2)
    total = extra + n
    pool = max(100, total * per_event // 10)  # about 10 entries per data subject
    scratch = Path(tempfile.mkdtemp(prefix="p3ke-bench-audit-"))
    scratch.chmod(0o755)
    figures: dict[str, Any] = {"entries": n, "prefill": extra, "database": "postgresql",
                               "subjects_per_event": per_event, "subjects": pool}
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, scratch, True)
        broker = stack.enter_context(KafkaBroker(scratch / "kafka"))
        cluster = stack.enter_context(PostgresCluster(scratch / "pg"))
        ensure_topics(load_settings(kafka_bootstrap=broker.bootstrap))
        url = cluster.create_database("audit")
        data_dir = scratch / "data"
        env = {k: v for k, v in os.environ.items() if not k.startswith("P3KE_")}
        env.update(P3KE_SERVICE="audit", P3KE_ENV="test", P3KE_KAFKA_BOOTSTRAP=broker.bootstrap,
                   P3KE_DATABASE_URL=url, P3KE_DATA_DIR=str(data_dir), P3KE_LOG_LEVEL="WARNING",
                   P3KE_SUBJECT_HASH_KEY=SUBJECT_KEY, P3KE_RELAY_IN_API="false")
        subprocess.run([sys.executable, "-m", "p3ke_audit", "migrate"], env=env, check=True, capture_output=True)
        engine = create_engine(url)

        if extra:
            print(f"[audit] prefill: {extra} entries in-process", flush=True)
            prefill(url, data_dir, extra, pool, per_event)
        start_size = log_size(engine)
        assert start_size == extra, (start_size, extra)

        # 1. the backlog on the topic, then the worker drains it into the tree
        print(f"[audit] producing {n} data-access events", flush=True)
        t = time.monotonic()
        produced, value_bytes = produce(broker.bootstrap, events(extra, n, pool, per_event, seed=1))
        figures.update(produce_seconds=round(time.monotonic() - t, 3), message_bytes=round(value_bytes / produced))
        print("[audit] audit worker draining the topic", flush=True)
        worker_env = {**env, "P3KE_WORKER_PORT": str(free_port()), "P3KE_WORKER_ENGINE": ENGINE}
        figures["worker_engine"] = ENGINE
        pg_before = cpu_seconds(postgres_pids(cluster.data_dir / "pgdata"))
        launched = time.monotonic()
        worker = spawn(stack, [sys.executable, "-m", "p3ke_audit", "worker"], worker_env,
                            scratch / "worker.log")
        seen = watch_appends(engine, start_size, total, timeout=max(600, n / 100))
        (first_at, first_size), (done, _) = seen[0], seen[-1]
        worker_cpu = cpu_seconds([worker.pid])
        pg_cpu = cpu_seconds(postgres_pids(cluster.data_dir / "pgdata")) - pg_before
        stop(worker)
        seconds = done - first_at
        rate = (total - first_size) / seconds if seconds > 0 else float("nan")
        with engine.connect() as conn:
            signed = conn.execute(select(func.count()).select_from(checkpoints)).scalar_one()
        figures.update(
            append_seconds=round(seconds, 3), append_entries_per_s=round(rate),
            append_steady_entries_per_s=round(rate_between(seen, start_size + n // 10, start_size + n * 9 // 10)),
            append_wall_seconds=round(done - launched, 3), worker_cpu_seconds=round(worker_cpu, 1),
            postgres_cpu_seconds=round(pg_cpu, 1), checkpoints_signed=int(signed))

        # the reference: the same topic, nothing but a consumer
        print("[audit] reference consumer", flush=True)
        ref_seconds, ref_total = reference(broker.bootstrap, n)
        figures.update(
            reference="kafka-python consumer, same topic, fresh group, counting only",
            reference_seconds=round(ref_seconds, 3), reference_total_seconds=round(ref_total, 3),
            reference_entries_per_s=round(n / ref_seconds), ratio=round(seconds / ref_seconds, 2))
        verified_seconds, _ = reference(broker.bootstrap, n, verify=True)
        figures.update(
            verified_reference="the same consumer parsing each CloudEvent and verifying its signature",
            verified_reference_entries_per_s=round(n / verified_seconds),
            verified_ratio=round(seconds / verified_seconds, 2))

        # 2. proofs and subject lookups at this size, against a checkpoint over the whole log
        from p3ke_audit.bootstrap import SERVICE
        from p3ke_audit.config import AuditSettings
        from p3ke_audit.service_layer import proofs, queries
        from p3ke_audit.service_layer.queries import Filters
        from p3ke_platform.audit_client import subject_ref
        from p3ke_platform.auth import DevIssuer
        from p3ke_platform.service import Runtime

        settings = load_settings(AuditSettings, service="audit", database_url=url, data_dir=data_dir, env="test",
                                 subject_hash_key=SUBJECT_KEY, kafka_bootstrap=broker.bootstrap)
        runtime = Runtime(SERVICE, settings)
        runtime.context.issue_checkpoint()
        size = log_size(engine)
        rng = random.Random(3)
        print(f"[audit] latencies at {size} entries", flush=True)

        def inclusion() -> None:
            with runtime.sessions() as session:
                proofs.inclusion(session, rng.randrange(size))

        found: list[int] = []

        def lookup() -> None:
            with runtime.sessions() as session:
                f = Filters(subject_ref=subject_ref(SUBJECT_KEY, nik(rng.randrange(pool))))
                found.append(len(queries.with_bast(session, queries.page(session, f, limit=100))))

        inc = timed(samples, inclusion)
        sub = timed(samples, lookup)
        with runtime.sessions() as session:
            hashes = len(proofs.inclusion(session, size - 1).proof)

        api_env = {**env, "P3KE_API_PORT": str(free_port())}
        api = spawn(stack, [sys.executable, "-m", "p3ke_audit", "api"], api_env, scratch / "api.log")
        base = f"http://127.0.0.1:{api_env['P3KE_API_PORT']}"
        wait_http(f"{base}/readyz")
        token = DevIssuer(settings).mint("bench-dpo", "kemnaker", ["compliance-auditor"])
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:

            def inclusion_http() -> None:
                http.get("/v1/proofs/inclusion", params={"leaf_index": rng.randrange(size)}).raise_for_status()

            def lookup_http() -> None:
                http.post("/v1/subjects/trail", json={"nik": nik(rng.randrange(pool))}).raise_for_status()

            inc_http = timed(samples, inclusion_http)
            sub_http = timed(samples, lookup_http)
        stop(api)
        figures.update(
            tree_size=size, latency_samples=samples, proof_hashes=hashes,
            inclusion_p50_ms=pct(inc, 0.5), inclusion_p95_ms=pct(inc, 0.95),
            inclusion_http_p50_ms=pct(inc_http, 0.5), inclusion_http_p95_ms=pct(inc_http, 0.95),
            subject_lookup_p50_ms=pct(sub, 0.5), subject_lookup_p95_ms=pct(sub, 0.95),
            subject_lookup_http_p50_ms=pct(sub_http, 0.5), subject_lookup_http_p95_ms=pct(sub_http, 0.95),
            subject_entries_mean=round(statistics.fmean(found), 1) if found else 0)

        # 3. full verification: as `p3ke audit verify` runs it (every entry's origin too), then the tree alone
        print("[audit] full verification", flush=True)
        figures.update(verification(runtime, cluster.create_database("audit_bulk"), env))
        runtime.engine.dispose()
        engine.dispose()

    write("audit", {**figures, "peak_rss_mb": peak_rss_mb()})


if __name__ == "__main__":
    main()
