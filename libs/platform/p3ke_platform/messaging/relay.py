"""The outbox relay: publish committed events in order, then mark them sent.

A crash between publishing and marking repeats events, never loses one; consumers' inboxes absorb
the repeats. On PostgreSQL, rows are claimed with FOR UPDATE SKIP LOCKED so relays can run in
parallel; on SQLite one relay per database is expected (a second one only causes repeats), and the
relay reads the outbox in a plain read transaction (`READ_ONLY`): only marking rows sent takes the
database's write lock, so an idle relay never takes it and a busy one takes it once per batch.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter, Gauge
from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.engine import Connection, Engine

from p3ke_platform.db import READ_ONLY, is_sqlite
from p3ke_platform.logging import describe_error, get_logger

PUBLISHED = Counter("p3ke_outbox_published_total", "events published from the outbox", ["service"])
FAILED = Counter("p3ke_outbox_publish_failures_total", "failed publish attempts", ["service"])
PENDING = Gauge("p3ke_outbox_pending", "events committed but not yet published", ["service"])

log = get_logger(__name__)


class OutboxRelay:
    def __init__(self, engine: Engine, outbox: Table, producer_factory: Callable[[], Any], *,
                 service: str, batch: int = 500, idle_ms: int = 20,
                 before_mark: Callable[[list[int]], None] | None = None) -> None:
        self.engine = engine
        self.outbox = outbox
        self.producer_factory = producer_factory
        self.service = service
        self.batch = batch
        self.idle = idle_ms / 1000
        self.before_mark = before_mark  # a test hook: crash here to prove repeats are absorbed
        self._producer: Any = None
        self._lock_rows = not is_sqlite(str(engine.url))
        # built once, so a turn of the loop costs no statement construction
        o = outbox
        unsent = select(o.c.seq, o.c.topic, o.c.key, o.c.headers, o.c.value).where(
            o.c.sent_at.is_(None)).order_by(o.c.seq).limit(batch)
        self._unsent = unsent.with_for_update(skip_locked=True) if self._lock_rows else unsent
        self._mark_sent = update(o).where(o.c.seq.in_(bindparam("seqs", expanding=True))).values(
            sent_at=bindparam("now"))
        self._mark_failed = update(o).where(o.c.seq == bindparam("failed")).values(
            attempts=o.c.attempts + 1, last_error=bindparam("error"))

    @property
    def producer(self) -> Any:
        if self._producer is None:
            self._producer = self.producer_factory()
        return self._producer

    def run_once(self) -> int:
        """Publish one batch; return how many events were published."""
        if self._lock_rows:  # PostgreSQL: the rows stay claimed until they are marked
            with self.engine.begin() as conn:
                rows = conn.execute(self._unsent).all()
                if rows:
                    sent, errors = self._publish(rows)
                    self._mark(conn, sent, errors)
        else:  # SQLite: read without the write lock, and hold no lock while talking to Kafka
            with self.engine.connect() as conn, conn.execution_options(**READ_ONLY).begin():
                rows = conn.execute(self._unsent).all()
            if rows:
                sent, errors = self._publish(rows)
                with self.engine.begin() as conn:
                    self._mark(conn, sent, errors)
        if not rows:
            return 0
        PUBLISHED.labels(self.service).inc(len(sent))
        if errors:
            FAILED.labels(self.service).inc(len(errors))
            log.warning("outbox publish failed", failed=len(errors), first_error=errors[0][1])
            time.sleep(min(5.0, self.idle * 50))
        return len(sent)

    def _mark(self, conn: Connection, sent: list[int], errors: list[tuple[int, str]]) -> None:
        """Mark the published rows sent and count a failed attempt on the others."""
        if self.before_mark is not None:
            self.before_mark(sent)
        now = datetime.now(UTC)
        for chunk in _chunks(sent, 500):
            conn.execute(self._mark_sent, {"seqs": chunk, "now": now})
        if errors:
            conn.execute(self._mark_failed, [{"failed": seq, "error": error} for seq, error in errors])

    def _publish(self, rows: list[Any]) -> tuple[list[int], list[tuple[int, str]]]:
        futures = [
            (row.seq, self.producer.send(
                row.topic, key=row.key.encode(), value=row.value,
                headers=[(name, value.encode()) for name, value in json.loads(row.headers)]))
            for row in rows
        ]
        self.producer.flush()
        sent: list[int] = []
        errors: list[tuple[int, str]] = []
        for seq, future in futures:
            try:
                future.get(timeout=30)
                sent.append(seq)
            except Exception as exc:
                errors.append((seq, describe_error(exc, 500)))
        return sent, errors

    def pending(self) -> int:
        with self.engine.connect() as conn, conn.execution_options(**READ_ONLY).begin():
            count = conn.execute(select(func.count()).select_from(self.outbox).where(
                self.outbox.c.sent_at.is_(None))).scalar_one()
        PENDING.labels(self.service).set(count)
        return int(count)

    def run(self, stop: threading.Event) -> None:
        log.info("outbox relay started", service=self.service)
        while not stop.is_set():
            try:
                if self.run_once() == 0:
                    stop.wait(self.idle)
            except Exception as exc:
                log.error("outbox relay error; retrying", error=describe_error(exc, 500))
                stop.wait(1.0)
        if self._producer is not None:
            self._producer.flush(timeout=10)
            self._producer.close(timeout=10)
        log.info("outbox relay stopped", service=self.service)

    def start_thread(self) -> tuple[threading.Thread, threading.Event]:
        stop = threading.Event()
        thread = threading.Thread(target=self.run, args=(stop,), name=f"relay-{self.service}", daemon=True)
        thread.start()
        return thread, stop


def _chunks(items: list[int], size: int) -> list[list[int]]:
    return [items[i:i + size] for i in range(0, len(items), size)]
