"""An event written through one process's outbox is applied exactly once by a worker in another process, also when
the relay dies between publishing and marking sent; poison goes to the DLQ. The worker runs its default engine
(kafka-python) on SQLite and PostgreSQL, and faust's (P3KE_WORKER_ENGINE=faust) on SQLite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer
from sqlalchemy import create_engine, func, select, text

from p3ke_audit.adapters.orm import entries
from p3ke_platform.devstack.ports import free_port
from tests.integration.helpers.processes import migrate, stop, wait_ready

pytestmark = [pytest.mark.kafka]
WRITER = Path(__file__).parent / "helpers" / "outbox_writer.py"


@pytest.fixture(scope="module", params=["sqlite", "postgresql", "sqlite-faust"])
def stack(request: pytest.FixtureRequest, kafka_bootstrap: str,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """The ingest outbox (writer side) and the audit worker (consumer side), each with its own DB;
    one worker per database kind serves every test of this module (each test uses its own ids)."""
    tmp_path = tmp_path_factory.mktemp(f"stack-{request.param}")
    if request.param.startswith("sqlite"):
        writer_url, audit_url = f"sqlite:///{tmp_path / 'ingest.db'}", f"sqlite:///{tmp_path / 'audit.db'}"
    else:
        from tests.conftest import new_postgres_database

        server = request.getfixturevalue("postgres")
        writer_url, audit_url = new_postgres_database(server), new_postgres_database(server)
    base = {k: v for k, v in os.environ.items() if not k.startswith("P3KE_")}
    base.update(P3KE_ENV="test", P3KE_DATA_DIR=str(tmp_path / "data"), P3KE_KAFKA_BOOTSTRAP=kafka_bootstrap,
                P3KE_CONSUMER_GROUP=f"test-{uuid.uuid4().hex[:8]}")
    writer_env = {**base, "P3KE_SERVICE": "ingest", "P3KE_DATABASE_URL": writer_url}
    audit_env = {**base, "P3KE_SERVICE": "audit", "P3KE_DATABASE_URL": audit_url,
                 "P3KE_WORKER_PORT": str(free_port()),
                 "P3KE_WORKER_ENGINE": "faust" if request.param.endswith("faust") else "kafka-python"}
    migrate("p3ke_ingest", writer_env)
    migrate("p3ke_audit", audit_env)
    log = (tmp_path / "audit-worker.log").open("wb")
    worker = subprocess.Popen([sys.executable, "-m", "p3ke_audit", "worker"], env=audit_env,
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(f"http://127.0.0.1:{audit_env['P3KE_WORKER_PORT']}/readyz", worker, tmp_path / "audit-worker.log")
        yield {"writer_env": writer_env, "audit_env": audit_env, "worker": worker,
               "audit_db": create_engine(audit_url)}
    finally:
        stop(worker)
        log.close()


def _writer(env: dict[str, str], *args: str) -> int:
    return subprocess.run([sys.executable, str(WRITER), *args], env=env, capture_output=True).returncode


def _wait_for_count(engine: object, tag: str, expected: int, timeout: float = 60) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        with engine.connect() as conn:  # type: ignore[attr-defined]
            rows = conn.execute(select(entries.c.resource_id, func.count()).where(
                entries.c.resource_id.like(f"{tag}-%")).group_by(entries.c.resource_id)).all()
        counts = {r[0]: r[1] for r in rows}
        if len(counts) >= expected:
            break
        time.sleep(0.3)
    return counts


def _messages_for(bootstrap: str, tag: str) -> int:
    """How many copies of the tagged events are on the topic (repeats included)."""
    consumer = KafkaConsumer("p3ke.data-access.v1", bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=3000, group_id=None)
    try:
        return sum(1 for m in consumer if m.key and m.key.decode().startswith(f"{tag}-"))
    finally:
        consumer.close()


def test_outbox_event_applied_exactly_once(stack: dict[str, object], kafka_bootstrap: str) -> None:
    tag = f"once-{uuid.uuid4().hex[:8]}"
    env = stack["writer_env"]
    assert _writer(env, "write", "40", tag) == 0  # type: ignore[arg-type]
    assert _writer(env, "relay") == 0  # type: ignore[arg-type]
    counts = _wait_for_count(stack["audit_db"], tag, 40)
    time.sleep(2)  # anything extra would arrive now
    counts = _wait_for_count(stack["audit_db"], tag, 40, timeout=1)
    assert len(counts) == 40
    assert set(counts.values()) == {1}


def test_relay_killed_between_publish_and_mark(stack: dict[str, object], kafka_bootstrap: str) -> None:
    tag = f"kill-{uuid.uuid4().hex[:8]}"
    env = stack["writer_env"]
    assert _writer(env, "write", "25", tag) == 0  # type: ignore[arg-type]
    assert _writer(env, "relay-crash") == -9  # type: ignore[arg-type]  # SIGKILLed after publishing
    engine = create_engine(env["P3KE_DATABASE_URL"])  # type: ignore[index]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM outbox WHERE sent_at IS NULL")).scalar() == 25
    assert _writer(env, "relay") == 0  # type: ignore[arg-type]  # the restarted relay publishes again
    counts = _wait_for_count(stack["audit_db"], tag, 25)
    time.sleep(2)
    counts = _wait_for_count(stack["audit_db"], tag, 25, timeout=1)
    assert _messages_for(kafka_bootstrap, tag) == 50  # every event is on the topic twice ...
    assert len(counts) == 25 and set(counts.values()) == {1}  # ... and applied once


def test_poison_messages_go_to_dlq_and_consumer_keeps_going(stack: dict[str, object],
                                                            kafka_bootstrap: str) -> None:
    tag = f"poison-{uuid.uuid4().hex[:8]}"
    good_headers = [("ce_specversion", b"1.0"), ("ce_id", b"x"), ("ce_source", b"test"),
                    ("ce_type", b"p3ke.data-access.v1"), ("content-type", b"application/json")]
    poison = {
        f"{tag}-notjson": (b"\xff{not json", good_headers),
        f"{tag}-noheaders": (b"{}", []),
        f"{tag}-unknowntype": (b"{}", [(k, b"p3ke.nope.v1" if k == "ce_type" else v) for k, v in good_headers]),
        f"{tag}-schema": (json.dumps({"access_id": "a", "nik": "3201010101010001"}).encode(), good_headers),
    }
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    for key, (value, headers) in poison.items():
        producer.send("p3ke.data-access.v1", key=key.encode(), value=value,
                      headers=[(k, v + key.encode() if k == "ce_id" else v) for k, v in headers])
    producer.flush()
    producer.close()
    assert _writer(stack["writer_env"], "write", "1", tag) == 0  # type: ignore[arg-type]
    assert _writer(stack["writer_env"], "relay") == 0  # type: ignore[arg-type]
    assert _wait_for_count(stack["audit_db"], tag, 1) == {f"{tag}-0": 1}

    consumer = KafkaConsumer("p3ke.data-access.v1.dlq", bootstrap_servers=kafka_bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=5000, group_id=None)
    reasons = {}
    deadline = time.monotonic() + 30
    while len(reasons) < 4 and time.monotonic() < deadline:
        for m in consumer:
            key = m.key.decode()
            if key.startswith(tag):
                headers = {k: v.decode() for k, v in m.headers}
                reasons[key] = headers["p3ke_dlq_reason"]
                assert headers["p3ke_dlq_topic"] == "p3ke.data-access.v1"
    consumer.close()
    assert "not JSON" in reasons[f"{tag}-notjson"]
    assert "missing CloudEvents header" in reasons[f"{tag}-noheaders"]
    assert "unknown ce_type" in reasons[f"{tag}-unknowntype"]
    assert "does not match its schema" in reasons[f"{tag}-schema"]
    assert "3201010101010001" not in reasons[f"{tag}-schema"]  # no payload values in reasons
    assert stack["worker"].poll() is None  # type: ignore[attr-defined]
