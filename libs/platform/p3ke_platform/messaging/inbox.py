"""Apply consumed events exactly once in effect.

Each event's effect and its inbox row are written in one transaction; the Kafka offset is committed
only after that (the worker acks after apply_batch returns). A repeated event finds its inbox row and
changes nothing. A handler raising RejectEvent sends that one event to the dead-letter topic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter
from sqlalchemy import String, any_, bindparam, insert, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, sessionmaker

from p3ke_platform.messaging.tables import MessagingTables
from p3ke_platform.unit_of_work import UnitOfWork
from p3ke_schemas import CloudEvent

APPLIED = Counter("p3ke_inbox_applied_total", "events applied", ["consumer", "type"])
DUPLICATES = Counter("p3ke_inbox_duplicates_total", "repeated events absorbed by the inbox", ["consumer"])


class RejectEvent(Exception):
    """The event is well-formed but cannot be applied (a business rule); it goes to the DLQ."""


Handler = Callable[[Any, UnitOfWork, CloudEvent], None]
"""`handler(ctx, uow, event)`: the service's context, this batch's transaction, the event."""


@dataclass(frozen=True)
class Delivered:
    topic: str
    partition: int
    offset: int
    event: CloudEvent
    message: Any = None  # the transport's message, kept for dead-lettering


class Inbox:
    def __init__(self, sessions: sessionmaker[Session], tables: MessagingTables, consumer: str,
                 handlers: Mapping[str, Handler], uow_factory: Callable[[Session], UnitOfWork],
                 context: Callable[[], Any] = lambda: None) -> None:
        self.sessions = sessions
        self.tables = tables
        self.consumer = consumer
        self.handlers = handlers
        self.uow_factory = uow_factory
        self.context = context

    def apply_batch(self, items: Sequence[Delivered]) -> list[tuple[Delivered, str]]:
        """Apply new events in one transaction; return the rejected ones with their reasons.

        The fast path applies the whole batch without savepoints; only a batch holding a rejected
        event is redone with one savepoint per event, so a rejection undoes just that event.
        """
        try:
            return self._apply(items, isolate=False)
        except _Isolate:
            return self._apply(items, isolate=True)

    def _seen(self, session: Session, ids: list[str]) -> set[str]:
        """The ids of `ids` applied before. On PostgreSQL one array parameter (`= ANY(:ids)`) keeps the
        statement the same for every batch, so it is prepared once instead of parsed per batch."""
        inbox = self.tables.inbox
        if session.get_bind().dialect.name == "postgresql":
            match = inbox.c.event_id == any_(bindparam("ids", ids, type_=ARRAY(String)))
        else:
            match = inbox.c.event_id.in_(ids)
        return set(session.scalars(select(inbox.c.event_id).where(inbox.c.consumer == self.consumer, match)))

    def _apply(self, items: Sequence[Delivered], *, isolate: bool) -> list[tuple[Delivered, str]]:
        inbox = self.tables.inbox
        rejected: list[tuple[Delivered, str]] = []
        applied: list[dict[str, Any]] = []
        with self.sessions() as session:
            seen = self._seen(session, list({d.event.id for d in items}))
            uow = self.uow_factory(session)
            ctx = self.context()
            applied_at = datetime.now(UTC)
            for item in items:
                event = item.event
                if event.id in seen:
                    DUPLICATES.labels(self.consumer).inc()
                    continue
                handler = self.handlers.get(event.type)
                if handler is None:
                    rejected.append((item, f"{self.consumer} has no handler for {event.type}"))
                    continue
                try:
                    if isolate:
                        with session.begin_nested():
                            handler(ctx, uow, event)
                    else:
                        handler(ctx, uow, event)
                except RejectEvent as exc:
                    if not isolate:
                        session.rollback()
                        raise _Isolate from exc
                    rejected.append((item, str(exc)))
                    continue
                seen.add(event.id)
                applied.append({"consumer": self.consumer, "event_id": event.id, "event_type": event.type,
                                "topic": item.topic, "partition": item.partition, "offset": item.offset,
                                "applied_at": applied_at})
            if applied:
                session.execute(insert(inbox), applied)
            session.commit()
        for row in applied:
            APPLIED.labels(self.consumer, row["event_type"]).inc()
        return rejected


class _Isolate(Exception):
    """A batch held a rejected event: redo it with a savepoint per event."""
