"""The outbox relay on PostgreSQL is woken by the commits that write events (LISTEN/NOTIFY), from any process, and
publishes them at once, however long it would otherwise wait before looking again; a rolled-back transaction
wakes nothing that it could publish; a stopped relay ends within a fraction of a second. Real PostgreSQL, real
broker."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from kafka import KafkaConsumer

from p3ke_platform.messaging.outbox import CHANNEL
from p3ke_platform.migrations import upgrade
from p3ke_platform.service import Runtime, installed_service
from p3ke_platform.settings import load_settings
from p3ke_schemas import Actor

pytestmark = [pytest.mark.kafka]

ACTOR = Actor(org="kemnaker", subject="officer-1", roles=["program-officer"])
# neither look interval would find the rows within the test's 5 s deadline
IDLE_MS, LISTEN_POLL_MS = 10_000, 60_000


def _runtime(url: str, bootstrap: str, tmp_path: Path) -> Runtime:
    settings = load_settings(service="ingest", database_url=url, data_dir=tmp_path, env="test",
                             kafka_bootstrap=bootstrap, relay_idle_ms=IDLE_MS,
                             relay_listen_poll_ms=LISTEN_POLL_MS)
    runtime = Runtime(installed_service("ingest"), settings)
    upgrade(runtime.spec, runtime.settings)
    return runtime


def _published_within(runtime: Runtime, seconds: float) -> bool:
    relay = runtime.relay()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if relay.pending() == 0:
            return True
        time.sleep(0.02)
    return False


def test_a_commit_wakes_the_relay_and_a_stop_ends_it(postgres_url: str, kafka_bootstrap: str,
                                                     tmp_path: Path) -> None:
    runtime = _runtime(postgres_url, kafka_bootstrap, tmp_path)
    relay = runtime.relay()
    thread, stop = relay.start_thread()
    try:
        time.sleep(1.0)  # listening, idle: its next own look is a minute away
        tag = f"wake-{uuid.uuid4().hex[:8]}"
        with runtime.unit_of_work() as uow:
            uow.record_access(actor=ACTOR, action="read", resource_type="t", resource_id=tag)
        assert _published_within(runtime, 5.0)
        consumer = KafkaConsumer("p3ke.data-access.v1", bootstrap_servers=kafka_bootstrap,
                                 auto_offset_reset="earliest", consumer_timeout_ms=10_000)
        try:
            assert any(record.key == tag.encode() for record in consumer)
        finally:
            consumer.close()
    finally:
        started = time.monotonic()
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive() and time.monotonic() - started < 2.0


def test_a_rolled_back_transaction_notifies_no_one(postgres_url: str, kafka_bootstrap: str, tmp_path: Path) -> None:
    runtime = _runtime(postgres_url, kafka_bootstrap, tmp_path)
    conninfo = runtime.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    heard: list[str] = []
    ready = threading.Event()

    def listen() -> None:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            ready.set()
            heard.extend(n.channel for n in conn.notifies(timeout=3.0))

    listener = threading.Thread(target=listen)
    listener.start()
    assert ready.wait(10)
    with pytest.raises(RuntimeError), runtime.unit_of_work() as uow:
        uow.record_access(actor=ACTOR, action="read", resource_type="t", resource_id="never")
        uow.session.flush()
        raise RuntimeError("the change fails")
    with runtime.unit_of_work() as uow:
        uow.record_access(actor=ACTOR, action="read", resource_type="t", resource_id="kept")
    listener.join(timeout=10)
    assert heard == [CHANNEL]  # the commit's, once; the rolled-back transaction's never
