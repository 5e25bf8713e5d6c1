"""The chaos stack: a Kafka broker and a PostgreSQL cluster of its own (so they can be restarted), the
services' workers and outbox relays as separate processes (killed with SIGKILL at random moments and
started again), a stream of synthetic events, and the checks that prove nothing was lost or doubled.

Events enter the system three ways, and each way has its own meaning of *acknowledged*:

* straight onto the topics, as a ministry platform would: acknowledged when the broker acks the send
  (kafka-python, idempotent, acks=all) — `Feed`;
* through a service's outbox (ingest's, written by this process): acknowledged when the transaction
  commits — `OutboxWriter`; the ingest relay publishes them;
* derived: the targeting worker answers every extract request with events in its own outbox
  (extract-prepared `rejected`, data-access `refusal`: the agreement as signed has expired), which the
  targeting relay publishes and the audit worker records.

Every acknowledged event has expected effects (`Expect`): an audit entry for every event, a request
row and exactly one extract-prepared in targeting, a handover in delivery, a signed handover and a
snapshot in feedback. `ChaosStack.tally` compares the sets of ids: missing effects are losses, effects
seen more than once are duplicates. Personal data never appears: every payload is synthetic ids.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine

from p3ke_platform.audit_client import access_event
from p3ke_platform.devstack.kafka import KafkaBroker, cache_dir
from p3ke_platform.devstack.ports import free_port
from p3ke_platform.devstack.postgres import PostgresCluster
from p3ke_platform.event_keys import dev_signer
from p3ke_platform.migrations import upgrade
from p3ke_platform.service import Runtime, ServiceSpec, installed_service
from p3ke_platform.settings import load_settings
from p3ke_schemas import (
    EVENTS,
    Actor,
    ArtefactDisposed,
    CloudEvent,
    DatasetUpdated,
    DisposalStatusChanged,
    ExtractCriteria,
    ExtractPrepared,
    ExtractRequested,
    FeedbackReceived,
    HandoverMilestone,
    HandoverSigned,
    IncidentOpened,
    ObligationStatusChanged,
    Signer,
    sign_event,
)

AGREEMENT_ID = "pks-p3ke-2023"
SUBJECT_KEY = "chaos-subject-hash-key-0123456789"
PROGRAMS = ["pelatihan_berbasis_kompetensi", "padat_karya", "tenaga_kerja_mandiri", "pbi_jamsostek_pekerja_rentan"]
OFFICER = Actor(org="kemnaker", subject="chaos-officer", roles=["program-officer"])
STEWARD = Actor(org="kemenkopmk", subject="chaos-steward", roles=["data-steward"])
WORKERS = ("audit", "targeting", "delivery", "feedback")
RELAYS = ("targeting", "ingest")
# How fast the workers recover, not what they do: a killed worker's partitions move after 3 s instead of 10 s (the
# chaos broker allows sessions that short, see ChaosBroker), and the worker's requests (an offset commit pending
# across a broker restart) give up after 9 s. WORKER_ENV is the default (kafka-python) engine's setting; faust reads
# FAUST_ENV from the environment when a run sets P3KE_WORKER_ENGINE=faust (with faust's defaults the workers
# stalled 27-56 s after the broker was back; see the report of this suite).
WORKER_ENV = {"P3KE_WORKER_SESSION_TIMEOUT_S": "3"}
FAUST_ENV = {"BROKER_SESSION_TIMEOUT": "3", "BROKER_HEARTBEAT_INTERVAL": "0.5", "BROKER_REBALANCE_TIMEOUT": "20",
             "BROKER_REQUEST_TIMEOUT": "5"}
# the mix of the stream: how many events of each kind per 20
MIX = {"access": 8, "request": 3, "prepared": 3, "signed": 3, "dataset": 1, "feedback": 2}


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


@dataclass(frozen=True)
class Sizes:
    """Sizes from the environment: small for `make test`, large for `make chaos`."""

    kills: int = field(default_factory=lambda: env_int("CHAOS_KILLS", 4))
    events: int = field(default_factory=lambda: env_int("CHAOS_EVENTS", 300))
    broker_down: float = field(default_factory=lambda: env_float("CHAOS_BROKER_DOWN_SECONDS", 1))  # + JVM start
    # longer than the worker's 5 attempts (about 6 s): an outage must be waited out, not dead-lettered
    db_down: float = field(default_factory=lambda: env_float("CHAOS_DB_DOWN_SECONDS", 7))
    converge: float = field(default_factory=lambda: env_float("CHAOS_CONVERGE_SECONDS", 180))
    seed: int = field(default_factory=lambda: env_int("CHAOS_SEED", random.SystemRandom().randrange(1 << 30)))


class ChaosBroker(KafkaBroker):
    """The devstack broker, allowing consumer sessions down to 1 s (Kafka's minimum is 6 s by default)."""

    def _properties(self, logs: Path) -> str:
        return super()._properties(logs) + "group.min.session.timeout.ms=1000\n"


def service_spec(name: str) -> ServiceSpec:
    return installed_service(name)


def sha(text_: str) -> str:
    return hashlib.sha256(text_.encode()).hexdigest()


# -------------------------------------------------------------------------------------------------
# Processes
# -------------------------------------------------------------------------------------------------

class Proc:
    """One service process (`python -m p3ke_<service> worker|relay`), restartable, log appended to."""

    def __init__(self, service: str, role: str, env: dict[str, str], log: Path) -> None:
        self.service, self.role, self.log = service, role, log
        self.port = free_port() if role == "worker" else 0
        self.env = {**env, **({"P3KE_WORKER_PORT": str(self.port)} if self.port else {})}
        self.popen: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def name(self) -> str:
        return f"{self.service}-{self.role}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen([sys.executable, "-m", f"p3ke_{self.service}", self.role], env=self.env,
                                          stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.starts += 1

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill9(self) -> None:
        assert self.popen is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait(30)

    def stop(self, timeout: float = 30) -> None:
        if not self.alive():
            return
        assert self.popen is not None
        self.popen.terminate()
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()

    def ready(self) -> bool:
        if not self.alive():
            return False
        if not self.port:
            return True
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


# -------------------------------------------------------------------------------------------------
# What should happen, and what did
# -------------------------------------------------------------------------------------------------

@dataclass
class Expect:
    kind: str
    key: str
    effects: frozenset[str]


class Ledger:
    """Every event this test put into the system, whether it was acknowledged, and what it must cause."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: dict[str, Expect] = {}
        self.acked: set[str] = set()
        self.failed: dict[str, str] = {}

    def attempt(self, event_id: str, expect: Expect) -> None:
        with self.lock:
            self.sent[event_id] = expect

    def ack(self, event_id: str) -> None:
        with self.lock:
            self.acked.add(event_id)

    def fail(self, event_id: str, error: str) -> None:
        with self.lock:
            self.failed[event_id] = error


EFFECTS_OF = {
    "access": {"audit"},
    "dataset": {"audit", "targeting-dataset", "feedback-snapshot"},
    "request": {"audit", "targeting-request", "targeting-prepared"},
    "prepared": {"audit", "delivery-handover"},
    "signed": {"audit", "feedback-handover"},
    "feedback": {"audit"},
    # the events of the obligations desk and the data lifecycle: the audit log records them (a consumer that
    # cannot place a synthetic one, e.g. targeting a milestone of an extract it never made, dead-letters it)
    "obligation": {"audit"},
    "incident": {"audit"},
    "disposed": {"audit"},
    "disposal-status": {"audit"},
    "milestone": {"audit"},
}
KIND_OF_TYPE = {"p3ke.data-access.v1": "access", "p3ke.dataset-updated.v1": "dataset",
                "p3ke.extract-requested.v1": "request", "p3ke.extract-prepared.v1": "prepared",
                "p3ke.handover-signed.v1": "signed", "p3ke.feedback-received.v1": "feedback",
                "p3ke.obligation-status-changed.v1": "obligation", "p3ke.incident-opened.v1": "incident",
                "p3ke.artefact-disposed.v1": "disposed", "p3ke.disposal-status-changed.v1": "disposal-status",
                "p3ke.handover-milestone.v1": "milestone"}
"""The Feed's kind of every event type of the contract (a new event type must be added here and in `Feed.event`)."""


class Feed:
    """Synthetic events straight onto the topics, each recorded in the ledger (acked on the broker's ack)."""

    def __init__(self, bootstrap: str, ledger: Ledger, rng: random.Random) -> None:
        from kafka import KafkaProducer

        self.ledger = ledger
        self.rng = rng
        self.producer = KafkaProducer(
            bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5,
            max_block_ms=180_000, request_timeout_ms=30_000, delivery_timeout_ms=600_000,
            reconnect_backoff_max_ms=2000)
        self.raw_sent = 0

    def event(self, kind: str, tag: str, i: int) -> CloudEvent:
        now = datetime.now(UTC)
        program = PROGRAMS[i % len(PROGRAMS)]
        if kind == "access":
            service = ("ingest", "targeting", "delivery", "feedback")[i % 4]
            data: Any = access_event(service=service, actor=OFFICER, action="read", resource_type="chaos",
                                     resource_id=f"{tag}-a{i}", outcome="allowed", at=now, subject_hash_key=SUBJECT_KEY,
                                     record_count=i % 50, agreement_id=AGREEMENT_ID, program=program)
            return CloudEvent.of(data, source=f"urn:p3ke:service:{service}")
        if kind == "dataset":
            data = DatasetUpdated(
                dataset_version_id=f"{tag}-dv{i}", agreement_id=AGREEMENT_ID,
                snapshot_uri=f"file:///nonexistent/chaos/{tag}-dv{i}.parquet", snapshot_sha256=sha(f"{tag}-dv{i}"),
                individuals=100 + i, families=40, published_by=STEWARD, published_at=now)
            return CloudEvent.of(data, source="urn:p3ke:service:ingest")
        if kind == "request":
            return CloudEvent.of(self.request(f"{tag}-rq{i}", program), source="urn:p3ke:platform:kemnaker")
        if kind == "prepared":
            data = ExtractPrepared(
                request_id=f"{tag}-pp{i}", extract_id=f"{tag}-ext{i}", agreement_id=AGREEMENT_ID, program=program,
                status="accepted", record_count=10, counts_by_desil={"1": 10},
                file_uri=f"file:///nonexistent/chaos/{tag}-ext{i}.parquet", file_sha256=sha(f"{tag}-ext{i}"),
                prepared_at=now)
            return CloudEvent.of(data, source="urn:p3ke:service:targeting")
        if kind == "signed":
            signers = [Signer(party=p, org=o, signatory_id=f"chaos-sig-{p}", certificate_sha256=sha(f"cert{p}"),
                              signed_at=now) for p, o in ((1, "kemenkopmk"), (2, "kemnaker"))]
            data = HandoverSigned(
                handover_id=f"{tag}-ho{i}", bast_number=f"{i:03d}/BAST-P3KE/CH/I/2026", agreement_id=AGREEMENT_ID,
                extract_id=f"{tag}-hx{i}", program=program, record_count=10, package_sha256=sha(f"{tag}-pkg{i}"),
                bast_sha256=sha(f"{tag}-bast{i}"), signers=signers, signed_at=now)
            return CloudEvent.of(data, source="urn:p3ke:service:delivery")
        if kind == "feedback":
            data = FeedbackReceived(
                batch_id=f"{tag}-fb{i}", handover_id=f"{tag}-ho{i}", agreement_id=AGREEMENT_ID, program=program,
                rows=5, counts_by_match_class={"exact": 5}, submitted_by=OFFICER, received_at=now)
            return CloudEvent.of(data, source="urn:p3ke:service:feedback")
        return self._lifecycle_event(kind, tag, i, now, program)

    @staticmethod
    def _lifecycle_event(kind: str, tag: str, i: int, now: datetime, program: str) -> CloudEvent:
        """The events of the obligations desk (audit) and of the data lifecycle (the owning services)."""
        if kind == "obligation":
            data: Any = ObligationStatusChanged(
                obligation_id=f"{tag}-ob{i}", agreement_id=AGREEMENT_ID, kind="monitoring-evaluation",
                article="Pasal 7", responsible_org="both", due_date=now.date(), status="overdue", change="status",
                occurred_at=now)
            return CloudEvent.of(data, source="urn:p3ke:service:audit")
        if kind == "incident":
            data = IncidentOpened(incident_id=f"{tag}-in{i}", source="manual", discovered_at=now,
                                  due_at=now + timedelta(hours=72), occurred_at=now)
            return CloudEvent.of(data, source="urn:p3ke:service:audit")
        if kind == "disposed":
            data = ArtefactDisposed(
                artefact_id=f"dataset-upload:{tag}-up{i}", kind="raw-upload", resource_type="dataset-upload",
                resource_id=f"{tag}-up{i}", sha256=sha(f"{tag}-up{i}"), rule_kind="raw-upload", trigger="published",
                due_at=now, service="ingest", disposed_at=now)
            return CloudEvent.of(data, source="urn:p3ke:service:ingest")
        if kind == "disposal-status":
            data = DisposalStatusChanged(
                handover_id=f"{tag}-ho{i}", bast_number=f"{i:03d}/BAST-P3KE/CH/I/2026", agreement_id=AGREEMENT_ID,
                program=program, status="due", due_reason="purpose-ended", due_since=now,
                due_by=now + timedelta(days=30), occurred_at=now)
            return CloudEvent.of(data, source="urn:p3ke:service:delivery")
        if kind == "milestone":
            data = HandoverMilestone(handover_id=f"{tag}-ho{i}", extract_id=f"{tag}-hx{i}", agreement_id=AGREEMENT_ID,
                                     milestone="package-downloaded", occurred_at=now)
            return CloudEvent.of(data, source="urn:p3ke:service:delivery")
        raise ValueError(kind)

    @staticmethod
    def request(request_id: str, program: str, quota: int = 100) -> ExtractRequested:
        return ExtractRequested(
            request_id=request_id, agreement_id=AGREEMENT_ID, program=program, criteria=ExtractCriteria(),
            quota=quota, fields=["nik", "desil_kesejahteraan"], justification="chaos test: a synthetic request",
            purpose="seleksi_calon_peserta",
            requested_by=OFFICER, requested_at=datetime.now(UTC))

    def send(self, event: CloudEvent, kind: str, effects: Iterable[str] | None = None) -> None:
        # signed with the development key of the producer the event stands for (a service, or party 2's platform)
        owner = event.source.removeprefix("urn:p3ke:service:") if "service" in event.source else "party-2 platform"
        key, value, headers = sign_event(event, dev_signer(owner), owner)
        expect = Expect(kind, event.key, frozenset(EFFECTS_OF[kind] if effects is None else effects))
        self.ledger.attempt(event.id, expect)
        future = self.producer.send(event.spec.topic, key=key, value=value, headers=headers)
        future.add_callback(lambda _meta, eid=event.id: self.ledger.ack(eid))
        future.add_errback(lambda exc, eid=event.id: self.ledger.fail(eid, repr(exc)))

    def send_raw(self, topic: str, key: str, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        self.producer.send(topic, key=key.encode(), value=value, headers=headers)
        self.raw_sent += 1

    def stream(self, tag: str, count: int, seconds: float, stop: threading.Event | None = None) -> int:
        """`count` events of the mix, spread evenly over `seconds`."""
        kinds = [k for k, n in MIX.items() for _ in range(n)]
        started = time.monotonic()
        for i in range(count):
            if stop is not None and stop.is_set():
                return i
            kind = kinds[self.rng.randrange(len(kinds))]
            self.send(self.event(kind, tag, i), kind)
            delay = started + seconds * (i + 1) / count - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        return count

    def flush(self, timeout: float = 300) -> None:
        self.producer.flush(timeout=timeout)

    def close(self) -> None:
        self.producer.close(timeout=10)


class OutboxWriter(threading.Thread):
    """Writes data-access events through ingest's outbox (one transaction each), as a service would.

    An event is acknowledged when its transaction commits; the outbox table itself is the truth (a
    commit whose answer was lost with the database still counts, because it is in the table).
    """

    def __init__(self, runtime: Runtime, tag: str, count: int, seconds: float) -> None:
        super().__init__(name=f"outbox-writer-{tag}", daemon=True)
        self.runtime, self.tag, self.count, self.seconds = runtime, tag, count, seconds
        self.committed = 0
        self.retries = 0

    def run(self) -> None:
        started = time.monotonic()
        for i in range(self.count):
            while True:
                try:
                    with self.runtime.unit_of_work() as uow:
                        uow.record_access(actor=OFFICER, action="read", resource_type="chaos-outbox",
                                          resource_id=f"{self.tag}-o{i}", record_count=i % 30)
                    self.committed += 1
                    break
                except Exception:  # the database is away: try again, as a service's request would
                    self.retries += 1
                    time.sleep(0.3)
            delay = started + self.seconds * (i + 1) / self.count - time.monotonic()
            if delay > 0:
                time.sleep(delay)


# -------------------------------------------------------------------------------------------------
# The stack
# -------------------------------------------------------------------------------------------------

@dataclass
class Tally:
    produced: int = 0
    acknowledged: int = 0
    expected_effects: int = 0
    applied: int = 0
    duplicates: int = 0
    lost: int = 0
    unexpected: int = 0
    missing_examples: list[str] = field(default_factory=list)
    duplicate_examples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if not k.endswith("_examples")}


class ChaosStack:
    def __init__(self, root: Path, broker: KafkaBroker, pg: PostgresCluster, sizes: Sizes) -> None:
        self.root, self.broker, self.pg, self.sizes = root, broker, pg, sizes
        self.rng = random.Random(sizes.seed)
        self.ledger = Ledger()
        self.suffix = uuid.uuid4().hex[:6]
        self.urls: dict[str, str] = {}
        self.engines: dict[str, Engine] = {}
        self.envs: dict[str, dict[str, str]] = {}
        self.procs: dict[str, Proc] = {}
        self.kills: list[str] = []
        self.restarts = 0
        self.crashes: list[str] = []  # processes that exited without being killed (and were restarted)
        self.broker_restarts = 0
        self.db_restarts = 0
        self.poison_sent = 0
        self.poison_expected_dlq = 0
        self.poison_keys: set[str] = set()
        # effects a key may have more than once, and how many: a request id reused with other content gets a
        # rejected extract-prepared answer beside the original's outcome (two, once each, never more)
        self.expected_repeats: Counter[tuple[str, str]] = Counter()
        self.poison_ids: set[str] = set()
        self.feed: Feed | None = None
        self.writers: list[OutboxWriter] = []
        self.ingest_runtime: Runtime | None = None
        self.replay: dict[str, Any] = {}

    # -- set-up -------------------------------------------------------------------------------------
    def group(self, service: str) -> str:
        return f"chaos-{service}-{self.suffix}"

    def env(self, service: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("P3KE_") and k not in FAUST_ENV}
        base.update(FAUST_ENV)
        # a restarted process should not compile every module again (PYTHONDONTWRITEBYTECODE may be set):
        # compiled modules go to a cache of their own, outside the source tree
        base.pop("PYTHONDONTWRITEBYTECODE", None)
        base["PYTHONPYCACHEPREFIX"] = str(cache_dir() / "pycache")
        base.update(P3KE_ENV="test", P3KE_KAFKA_BOOTSTRAP=self.broker.bootstrap, P3KE_LOG_LEVEL="INFO",
                    P3KE_LOG_JSON="true", P3KE_SUBJECT_HASH_KEY=SUBJECT_KEY, P3KE_SERVICE=service,
                    P3KE_DATABASE_URL=self.urls[service], P3KE_DATA_DIR=str(self.root / "data" / service),
                    P3KE_CONSUMER_GROUP=self.group(service), P3KE_RELAY_IN_API="false", **WORKER_ENV)
        if os.environ.get("P3KE_WORKER_ENGINE"):  # the engine under test, when a run names one
            base["P3KE_WORKER_ENGINE"] = os.environ["P3KE_WORKER_ENGINE"]
        return base

    def prepare_databases(self) -> None:
        """One database per service, migrated (needs PostgreSQL only; runs while the broker starts)."""
        for service in ("ingest", *WORKERS):
            self.urls[service] = self.pg.create_database(f"chaos_{service}_{self.suffix}")
            self.envs[service] = self.env(service)
            spec = service_spec(service)
            upgrade(spec, load_settings(spec.settings_class, service=service, database_url=self.urls[service],
                                        data_dir=self.root / "data" / service, env="test"))
            self.engines[service] = create_engine(self.urls[service], pool_pre_ping=True)

    def prepare_processes(self) -> None:
        logs = self.root / "logs"
        logs.mkdir(exist_ok=True)
        for service, role in [(s, "worker") for s in WORKERS] + [(s, "relay") for s in RELAYS]:
            self.procs[f"{service}-{role}"] = Proc(service, role, self.envs[service], logs / f"{service}-{role}.log")
        ingest = service_spec("ingest")
        self.ingest_runtime = Runtime(ingest, load_settings(
            ingest.settings_class, service="ingest", database_url=self.urls["ingest"],
            data_dir=self.root / "data" / "ingest", env="test", subject_hash_key=SUBJECT_KEY))
        self.feed = Feed(self.broker.bootstrap, self.ledger, self.rng)

    def start(self, names: Iterable[str] | None = None, timeout: float = 120) -> None:
        chosen = list(names or self.procs)
        for name in chosen:
            self.procs[name].start()
        self.wait_ready(chosen, timeout)

    def wait_ready(self, names: Iterable[str], timeout: float = 120) -> None:
        pending = set(names)
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for name in list(pending):
                proc = self.procs[name]
                if not proc.alive():
                    raise AssertionError(f"{name} exited at start-up:\n{proc.tail()}")
                if proc.ready():
                    pending.discard(name)
            time.sleep(0.3)
        if pending:
            raise AssertionError(f"not ready after {timeout}s: {sorted(pending)}\n"
                                 + "\n".join(self.procs[n].tail(1500) for n in pending))

    def stop(self, names: Iterable[str]) -> None:
        """SIGTERM to all of them at once, then wait (a faust worker takes a few seconds to leave)."""
        chosen = [self.procs[n] for n in names if self.procs[n].alive()]
        for proc in chosen:
            assert proc.popen is not None
            proc.popen.terminate()
        for proc in chosen:
            proc.stop()

    def shutdown(self) -> None:
        for proc in self.procs.values():  # nothing to preserve: SIGKILL is the fastest way out
            if proc.alive():
                proc.kill9()
        if self.feed is not None:
            self.feed.close()
        for engine in self.engines.values():
            engine.dispose()
        if self.ingest_runtime is not None:
            self.ingest_runtime.engine.dispose()

    # -- faults -------------------------------------------------------------------------------------
    def supervise(self) -> None:
        """Start again whatever exited on its own (as Kubernetes would), and remember it."""
        for name, proc in self.procs.items():
            if proc.popen is not None and not proc.alive():
                self.crashes.append(f"{name} (exit {proc.popen.returncode})")
                proc.start()
                self.restarts += 1

    def restart_broker(self, down: float) -> None:
        self.broker.stop()
        time.sleep(down)
        self.broker.start()
        self.broker_restarts += 1

    def restart_database(self, down: float) -> None:
        self.pg.stop()
        time.sleep(down)
        self.pg.start()
        self.db_restarts += 1

    def write_through_outbox(self, tag: str, count: int, seconds: float) -> OutboxWriter:
        assert self.ingest_runtime is not None
        writer = OutboxWriter(self.ingest_runtime, tag, count, seconds)
        writer.start()
        self.writers.append(writer)
        return writer

    # -- observation --------------------------------------------------------------------------------
    def counts(self, service: str, sql: str) -> Counter[str]:
        with self.engines[service].connect() as conn:
            return Counter({str(k): int(n) for k, n in conn.execute(text(sql)).all()})

    def outbox_events(self, service: str) -> list[tuple[str, str, str, bool]]:
        """(event_id, event_type, key, sent) of every committed outbox row."""
        with self.engines[service].connect() as conn:
            return [(r[0], r[1], r[2], r[3] is not None) for r in conn.execute(
                text("SELECT event_id, event_type, key, sent_at FROM outbox")).all()]

    def effects(self) -> dict[str, Counter[str]]:
        return {
            "audit": self.counts("audit", "SELECT event_id, count(*) FROM audit_entries GROUP BY event_id"),
            "targeting-dataset": self.counts("targeting", "SELECT dataset_version_id, count(*) FROM datasets "
                                                          "GROUP BY dataset_version_id"),
            "targeting-request": self.counts("targeting", "SELECT request_id, count(*) FROM extract_requests "
                                                          "GROUP BY request_id"),
            "targeting-prepared": self.counts("targeting", "SELECT key, count(*) FROM outbox WHERE event_type = "
                                                           "'p3ke.extract-prepared.v1' GROUP BY key"),
            "delivery-handover": self.counts("delivery", "SELECT request_id, count(*) FROM handovers "
                                                         "GROUP BY request_id"),
            "feedback-handover": self.counts("feedback", "SELECT handover_id, count(*) FROM signed_handovers "
                                                         "GROUP BY handover_id"),
            "feedback-snapshot": self.counts("feedback", "SELECT dataset_version_id, count(*) FROM snapshots "
                                                         "GROUP BY dataset_version_id"),
        }

    def expectations(self) -> tuple[dict[str, set[str]], dict[str, set[str]], int, int]:
        """Per effect: the keys that must be there (acknowledged) and the keys that may be there
        (sent, acknowledged or not); and how many events were produced and acknowledged."""
        must: dict[str, set[str]] = {}
        may: dict[str, set[str]] = {}

        def add(effect: str, key: str, acked: bool) -> None:
            may.setdefault(effect, set()).add(key)
            if acked:
                must.setdefault(effect, set()).add(key)

        with self.ledger.lock:
            sent = dict(self.ledger.sent)
            acked = set(self.ledger.acked)
        for event_id, expect in sent.items():
            for effect in expect.effects:
                add(effect, event_id if effect == "audit" else expect.key, event_id in acked)
        produced, acknowledged = len(sent), len(acked & set(sent))
        for service in ("ingest", "targeting"):  # committed outbox rows are acknowledged events
            for event_id, _type, _key, _sent in self.outbox_events(service):
                add("audit", event_id, True)
                produced += 1
                acknowledged += 1
        return must, may, produced, acknowledged

    def tally(self) -> Tally:
        must, may, produced, acknowledged = self.expectations()
        seen = self.effects()
        t = Tally(produced=produced, acknowledged=acknowledged)
        for effect, counts in seen.items():
            wanted = must.get(effect, set())
            allowed = may.get(effect, set())
            t.expected_effects += len(wanted)
            for key in wanted:
                n = counts.get(key, 0)
                if n == 0:
                    t.lost += 1
                    if len(t.missing_examples) < 10:
                        t.missing_examples.append(f"{effect}:{key}")
                else:
                    t.applied += 1
            for key, n in counts.items():
                n -= self.expected_repeats[(effect, key)]
                if n > 1:
                    t.duplicates += n - 1
                    if len(t.duplicate_examples) < 10:
                        t.duplicate_examples.append(f"{effect}:{key} x{n}")
                if key not in allowed and n:
                    t.unexpected += 1
        return t

    def outbox_pending(self) -> int:
        return sum(1 for s in ("ingest", "targeting") for *_x, sent in self.outbox_events(s) if not sent)

    def lags(self) -> dict[str, int]:
        """Consumer lag per worker group: end offsets minus committed offsets, over its topics."""
        from kafka import KafkaAdminClient, TopicPartition
        from kafka.admin import OffsetSpec

        admin = KafkaAdminClient(bootstrap_servers=self.broker.bootstrap, request_timeout_ms=10_000)
        try:
            out: dict[str, int] = {}
            for service in WORKERS:
                spec = service_spec(service)
                parts = [TopicPartition(ev.topic, p) for ev in EVENTS if ev.topic in spec.topics
                         for p in range(ev.partitions)]
                ends = admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in parts})
                committed = admin.list_group_offsets({self.group(service): parts})[self.group(service)]
                lag = 0
                for tp in parts:
                    end = _offset(ends[tp])
                    done = committed.get(tp)
                    done_at = _offset(done) if done is not None else -1
                    lag += end - done_at if done_at >= 0 else end
                out[service] = lag
            return out
        finally:
            admin.close()

    def inbox(self, service: str) -> Counter[str]:
        return self.counts(service, "SELECT event_id, count(*) FROM inbox GROUP BY event_id")

    def converge(self, timeout: float | None = None, *, need_writers: bool = True) -> Tally:
        """Wait until producers are done, outboxes are empty, every acknowledged event has its effects and
        every group's lag is 0. Returns the final tally (duplicates are checked by the caller)."""
        timeout = timeout or self.sizes.converge
        deadline = time.monotonic() + timeout
        assert self.feed is not None
        self.feed.flush()
        if need_writers:
            for writer in self.writers:
                writer.join(max(1.0, deadline - time.monotonic()))
        last: Any = None
        while time.monotonic() < deadline:
            self.supervise()
            try:
                tally = self.tally()
                pending = self.outbox_pending()
                lags = self.lags()
            except Exception as exc:  # a server is still coming back
                last = repr(exc)
                time.sleep(1)
                continue
            last = (tally.as_dict(), tally.missing_examples[:3], pending, lags)
            if tally.lost == 0 and pending == 0 and not any(lags.values()):
                time.sleep(1.5)  # anything late (a repeat) would land now
                tally = self.tally()
                if tally.lost == 0 and not any(self.lags().values()):
                    return tally
            time.sleep(1)
        raise AssertionError(f"no convergence within {timeout:.0f}s: {last}\n" + self.diagnostics())

    def diagnostics(self) -> str:
        return "\n".join(f"--- {name} (alive={p.alive()}, starts={p.starts})\n{p.tail(1500)}"
                         for name, p in self.procs.items())

    # -- dead letters -------------------------------------------------------------------------------
    def dead_letters(self) -> list[dict[str, Any]]:
        """Every record on every DLQ topic (read up to the end offsets), with its p3ke_dlq_* headers."""
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(bootstrap_servers=self.broker.bootstrap, enable_auto_commit=False, group_id=None)
        try:
            parts = [TopicPartition(spec.dlq, 0) for spec in EVENTS]
            consumer.assign(parts)
            consumer.seek_to_beginning(*parts)
            ends = consumer.end_offsets(parts)
            out: list[dict[str, Any]] = []
            deadline = time.monotonic() + 60
            while any(consumer.position(tp) < ends[tp] for tp in parts) and time.monotonic() < deadline:
                for m in (m for ms in consumer.poll(timeout_ms=500).values() for m in ms):
                    headers = {k: v.decode(errors="replace") for k, v in (m.headers or [])}
                    out.append({"key": (m.key or b"").decode(errors="replace"), "dlq_topic": m.topic,
                                "ce_id": headers.get("ce_id"), "reason": headers.get("p3ke_dlq_reason", ""),
                                "topic": headers.get("p3ke_dlq_topic"), "consumer": headers.get("p3ke_dlq_consumer"),
                                "origin": (headers.get("p3ke_dlq_topic"), headers.get("p3ke_dlq_partition"),
                                           headers.get("p3ke_dlq_offset"), headers.get("p3ke_dlq_consumer")),
                                "value": m.value or b""})
            return out
        finally:
            consumer.close()

    def repeats_on_topics(self) -> int:
        """Extra copies of events on the topics (same ce_id twice or more): what the relays published again
        after being killed between publishing and marking sent, for the inboxes to absorb."""
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(bootstrap_servers=self.broker.bootstrap, enable_auto_commit=False, group_id=None,
                                 max_partition_fetch_bytes=8 * 1024 * 1024)
        try:
            parts = [TopicPartition(spec.topic, p) for spec in EVENTS for p in range(spec.partitions)]
            consumer.assign(parts)
            consumer.seek_to_beginning(*parts)
            ends = consumer.end_offsets(parts)
            ids: Counter[str] = Counter()
            deadline = time.monotonic() + 120
            while any(consumer.position(tp) < ends[tp] for tp in parts) and time.monotonic() < deadline:
                for m in (m for ms in consumer.poll(timeout_ms=500).values() for m in ms):
                    ce_id = dict(m.headers or []).get("ce_id")
                    if ce_id:
                        ids[ce_id.decode(errors="replace")] += 1
            return sum(n - 1 for n in ids.values() if n > 1)
        finally:
            consumer.close()

    def legit_dead_letters(self, letters: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Dead letters of events that should have been applied (any such letter is a loss)."""
        with self.ledger.lock:
            sent = set(self.ledger.sent)
        legit = []
        for letter in letters:
            if letter["key"] in self.poison_keys or letter["ce_id"] in self.poison_ids:
                continue
            if letter["ce_id"] in sent:
                legit.append(letter)
        return legit

    # -- replay -------------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """A fingerprint of every service's state (tables except inbox/outbox timestamps)."""
        out: dict[str, Any] = {}
        for service in WORKERS:
            engine = self.engines[service]
            spec = service_spec(service)
            with engine.connect() as conn:
                for table in spec.metadata.sorted_tables:
                    if table.name == "inbox":
                        continue
                    cols = [c for c in table.columns if c.name not in ("applied_at",)]
                    rows = conn.execute(select(*cols).order_by(*cols[:1])).all()
                    out[f"{service}.{table.name}"] = (len(rows), sha(repr(sorted(map(repr, rows)))))
                out[f"{service}.inbox"] = conn.execute(select(func.count()).select_from(
                    spec.tables.inbox)).scalar_one()
        return out

    def reset_groups_to_earliest(self) -> dict[str, int]:
        """Move every worker group's committed offsets back to the start of its topics."""
        from kafka import KafkaAdminClient, TopicPartition
        from kafka.admin import OffsetSpec

        admin = KafkaAdminClient(bootstrap_servers=self.broker.bootstrap, request_timeout_ms=20_000)
        try:
            rewound = {}
            for service in WORKERS:
                spec = service_spec(service)
                parts = [TopicPartition(ev.topic, p) for ev in EVENTS if ev.topic in spec.topics
                         for p in range(ev.partitions)]
                before = admin.list_group_offsets({self.group(service): parts})[self.group(service)]
                result = admin.reset_group_offsets(self.group(service), {tp: OffsetSpec.EARLIEST for tp in parts})
                errors = {tp: r for tp, r in result.items() if getattr(r, "error", None) not in (None, 0)} \
                    if isinstance(result, dict) else {}
                assert not errors, f"reset of {service}'s group failed: {errors}"
                after = admin.list_group_offsets({self.group(service): parts})[self.group(service)]
                rewound[service] = sum(_offset(before[tp]) - _offset(after.get(tp)) for tp in before)
            return rewound
        finally:
            admin.close()


def _offset(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    return int(getattr(value, "offset", value))


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, pause: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(pause)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def dump(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
