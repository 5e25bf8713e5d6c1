"""Outbox, relay and inbox against a real database: the same tests on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from p3ke_audit.adapters.orm import entries
from p3ke_platform.messaging.inbox import Delivered, RejectEvent
from p3ke_platform.migrations import upgrade
from p3ke_platform.service import Runtime, ServiceSpec, installed_service
from p3ke_platform.settings import load_settings
from p3ke_platform.unit_of_work import UnitOfWork
from p3ke_schemas import Actor, CloudEvent, DataAccess
from tests.integration.audit.helpers import signed

ACTOR = Actor(org="kemnaker", subject="officer-1", roles=["program-officer"])


def _spec(name: str) -> ServiceSpec:
    return installed_service(name)


def _runtime(name: str, url: str, tmp_path: Any) -> Runtime:
    runtime = Runtime(_spec(name), load_settings(service=name, database_url=url, data_dir=tmp_path, env="test"))
    upgrade(runtime.spec, runtime.settings)
    return runtime


def _access(resource_id: str) -> CloudEvent:
    """A data-access event as the audit worker hands it on: signed by targeting, its signature verified."""
    return signed(CloudEvent.of(DataAccess(
        access_id=str(uuid.uuid4()), service="targeting", actor=ACTOR, action="read", resource_type="extract",
        resource_id=resource_id, outcome="allowed", occurred_at=datetime.now(UTC)), source="test"), "targeting")


@pytest.mark.parametrize("service", ["ingest", "targeting", "delivery", "feedback", "audit"])
def test_migrations_match_the_models(service: str, database_url: str, tmp_path: Any) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    runtime = _runtime(service, database_url, tmp_path)
    with runtime.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), runtime.spec.metadata)
    assert diff == []


def test_outbox_row_exists_only_if_the_change_commits(database_url: str, tmp_path: Any) -> None:
    runtime = _runtime("ingest", database_url, tmp_path)
    outbox = runtime.spec.tables.outbox
    with pytest.raises(RuntimeError), runtime.unit_of_work() as uow:
        uow.record_access(actor=ACTOR, action="read", resource_type="t", resource_id="rolled-back")
        raise RuntimeError("the state change failed")
    with runtime.unit_of_work() as uow:
        uow.record_access(actor=ACTOR, action="read", resource_type="t", resource_id="kept")
    with runtime.engine.connect() as conn:
        keys = conn.execute(select(outbox.c.key)).scalars().all()
    assert keys == ["kept"]


class FakeFuture:
    def __init__(self, error: Exception | None) -> None:
        self.error = error

    def get(self, timeout: float) -> None:
        if self.error:
            raise self.error


class FakeProducer:
    """Records what would be sent; fails the keys it is told to (a unit-level stand-in for Kafka)."""

    def __init__(self, fail_keys: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.sent: list[tuple[str, bytes]] = []
        self.fail_keys = fail_keys

    def send(self, topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> FakeFuture:
        if key.decode() in self.fail_keys:
            return FakeFuture(RuntimeError("broker said no"))
        self.sent.append((topic, key))
        return FakeFuture(None)

    def flush(self, timeout: float | None = None) -> None:
        pass


def test_relay_publishes_in_order_marks_sent_and_retries_failures(database_url: str, tmp_path: Any) -> None:
    runtime = _runtime("ingest", database_url, tmp_path)
    for i in range(7):
        with runtime.unit_of_work() as uow:
            uow.record_access(actor=ACTOR, action="read", resource_type="t", resource_id=f"r{i}")
    producer = FakeProducer(fail_keys={"r3"})
    relay = runtime.relay()
    relay._producer = producer
    relay.idle = 0.001
    assert relay.run_once() == 6
    assert [k.decode() for _, k in producer.sent] == ["r0", "r1", "r2", "r4", "r5", "r6"]
    assert relay.pending() == 1
    outbox = runtime.spec.tables.outbox
    with runtime.engine.connect() as conn:
        row = conn.execute(select(outbox.c.attempts, outbox.c.last_error).where(outbox.c.key == "r3")).one()
    assert row.attempts == 1 and "broker said no" in row.last_error
    producer.fail_keys = set()
    assert relay.run_once() == 1
    assert relay.pending() == 0 and relay.run_once() == 0


def test_a_sqlite_relay_reads_the_outbox_without_the_write_lock(tmp_path: Any) -> None:
    """While another process holds SQLite's write lock (a long transaction of an API), the relay still reads the
    outbox and an idle relay returns at once: only marking rows sent waits for the lock."""
    import sqlite3
    import threading
    import time

    url = f"sqlite:///{tmp_path / 'service.db'}"
    runtime = _runtime("ingest", url, tmp_path)
    relay = runtime.relay()
    relay._producer = FakeProducer(fail_keys=set())
    writer = sqlite3.connect(tmp_path / "service.db", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        assert relay.run_once() == 0
        assert time.monotonic() - started < 2  # not the 30 s busy timeout
    finally:
        writer.execute("ROLLBACK")
    with runtime.unit_of_work() as uow:
        uow.record_access(actor=ACTOR, action="read", resource_type="t", resource_id="r0")
    writer.execute("BEGIN IMMEDIATE")
    published: list[int] = []
    worker = threading.Thread(target=lambda: published.append(relay.run_once()))
    worker.start()
    deadline = time.monotonic() + 10
    while not relay._producer.sent and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [k.decode() for _, k in relay._producer.sent] == ["r0"]  # read and published under the lock
    assert worker.is_alive()  # marking it sent waits for the writer
    writer.execute("COMMIT")
    worker.join(10)
    assert published == [1] and relay.pending() == 0
    writer.close()


def test_inbox_applies_each_event_once_and_isolates_rejects(database_url: str, tmp_path: Any) -> None:
    runtime = _runtime("audit", database_url, tmp_path)
    events = [_access(f"res-{i}") for i in range(5)]
    batch = [Delivered("p3ke.data-access.v1", 0, i, e) for i, e in enumerate(events)]
    inbox = runtime.inbox("test-consumer")
    assert inbox.apply_batch(batch + batch[:2]) == []  # repeats inside one batch
    assert inbox.apply_batch(batch) == []  # and in a later batch
    with runtime.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(entries)).scalar() == 5

    def reject_odd(_ctx: Any, uow: UnitOfWork, event: CloudEvent) -> None:
        uow.session.execute(entries.insert().values(
            event_id=event.id, event_type=event.type, source="x", occurred_at=event.time,
            recorded_at=event.time, payload="{}", record_count=0))
        if event.key.endswith(("1", "3")):
            raise RejectEvent(f"{event.key} breaks a rule")

    picky = runtime.inbox("picky")
    picky.handlers = {"p3ke.data-access.v1": reject_odd}
    fresh = [Delivered("p3ke.data-access.v1", 0, i, _access(f"new-{i}")) for i in range(4)]
    rejected = picky.apply_batch(fresh)
    assert sorted(reason for _, reason in rejected) == ["new-1 breaks a rule", "new-3 breaks a rule"]
    with runtime.engine.connect() as conn:  # the rejected events' partial effects were rolled back
        assert conn.execute(select(func.count()).select_from(entries)).scalar() == 7
        inbox_rows = conn.execute(select(func.count()).select_from(runtime.spec.tables.inbox).where(
            runtime.spec.tables.inbox.c.consumer == "picky")).scalar()
    assert inbox_rows == 2


def test_an_access_to_many_subjects_is_split_under_the_message_limit(database_url: str, tmp_path: Any) -> None:
    from p3ke_platform.unit_of_work import MAX_SUBJECTS_PER_EVENT

    runtime = _runtime("ingest", database_url, tmp_path)
    niks = [f"32010112019{i:05d}" for i in range(MAX_SUBJECTS_PER_EVENT * 2 + 7)]
    with runtime.unit_of_work() as uow:
        uow.record_access(actor=ACTOR, action="select", resource_type="extract", resource_id="ex-big",
                          record_count=len(niks), subject_niks=niks)
    outbox = runtime.spec.tables.outbox
    with runtime.engine.connect() as conn:
        values = conn.execute(select(outbox.c.value).where(outbox.c.key == "ex-big")).scalars().all()
    events = [DataAccess.model_validate_json(v) for v in values]
    assert [len(e.subject_refs) for e in events] == [MAX_SUBJECTS_PER_EVENT, MAX_SUBJECTS_PER_EVENT, 7]
    assert sum(e.record_count for e in events) == len(niks)
    assert max(len(v) for v in values) < 1_000_000
    assert all("3201011201" not in v.decode() for v in values)  # keyed hashes only, never the NIK
