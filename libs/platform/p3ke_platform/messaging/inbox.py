"""Apply consumed events exactly once in effect.

Each event's effect and its inbox row are written in one transaction; the Kafka offset is committed
only after that (the worker acks after apply_batch returns). A repeated event finds its inbox row and
changes nothing. A handler raising RejectEvent sends that one event to the dead-letter topic.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter
from sqlalchemy import String, any_, bindparam, insert, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, sessionmaker

from p3ke_platform.bulk_insert import insert_rows
from p3ke_platform.logging import correlation
from p3ke_platform.messaging.tables import MessagingTables
from p3ke_platform.unit_of_work import UnitOfWork
from p3ke_schemas import Actor, CloudEvent, acting_principal

APPLIED = Counter("p3ke_inbox_applied_total", "events applied", ["consumer", "type"])
INBOX_COLUMNS = ("consumer", "event_id", "event_type", "topic", "partition", "offset", "applied_at")
DUPLICATES = Counter("p3ke_inbox_duplicates_total", "repeated events absorbed by the inbox", ["consumer"])


class RejectEvent(Exception):
    """The event is well-formed but cannot be applied (a business rule); it goes to the DLQ."""


Handler = Callable[[Any, UnitOfWork, CloudEvent], None]
"""`handler(ctx, uow, event)`: the service's context, this batch's transaction, the event."""

DeadLetterAnswer = Callable[[Any, UnitOfWork, bytes | None, str], None]
"""`answer(ctx, uow, value, reason)`: tell the sender why its message was dead-lettered (the raw value: it may
not parse), in its own transaction."""


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
                 context: Callable[[], Any] = lambda: None,
                 answers: Mapping[str, DeadLetterAnswer] | None = None) -> None:
        self.sessions = sessions
        self.answers = answers or {}
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
        applied: list[tuple[Any, ...]] = []  # the inbox's rows, in INBOX_COLUMNS order
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
                    # what the handler emits carries the consumed event's correlation id (else its id)
                    with correlation(event.correlationid or event.id):
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
                applied.append((self.consumer, event.id, event.type, item.topic, item.partition, item.offset,
                                applied_at))
            insert_rows(session, [(inbox, INBOX_COLUMNS, applied)])
            session.commit()
        for row in applied:
            APPLIED.labels(self.consumer, row[2]).inc()
        return rejected


    def refuse(self, refused: Sequence[tuple[Delivered, str]]) -> None:
        """Record events refused before applying them (their origin is not proven) as refused accesses.

        The actor is the one the event *claims* (it is unproven, which the reason says), else the claimed
        producer's service account. Recorded once per message (a replay records nothing again), under a marker
        of its topic position, never its ce_id: a forged copy must not shadow the real event.
        """
        with self.sessions() as session, session.begin():
            fresh = self._mark(session, "refused", [(d.topic, d.partition, d.offset) for d, _ in refused])
            uow = self.uow_factory(session)
            for item, reason in refused:
                if (item.topic, item.partition, item.offset) not in fresh:
                    continue
                event, data = item.event, item.event.data
                actor = acting_principal(data) or Actor(
                    org="kemenkopmk", subject=f"unverified {event.source}"[:200], service_account=True)
                uow.record_access(actor=actor, action="refusal", outcome="denied", reason=reason[:2000],
                                  resource_type=event.spec.name, resource_id=event.key,
                                  agreement_id=getattr(data, "agreement_id", None),
                                  program=str(getattr(data, "program", "") or "") or None)

    def answer(self, topic: str, partition: int, offset: int, value: bytes | None, reason: str) -> None:
        """Run the service's answer to a message it dead-lettered on `topic`, if it has one: once per message."""
        answer = self.answers.get(topic)
        if answer is None:
            return
        with self.sessions() as session, session.begin():
            if self._mark(session, "answered", [(topic, partition, offset)]):
                answer(self.context(), self.uow_factory(session), value, reason)

    def _mark(self, session: Session, what: str, positions: Sequence[Position]) -> set[Position]:
        """Insert a marker row per message position (`what` plus topic, partition, offset) in the inbox; return
        the positions not marked before."""
        ids = {_marker(what, p): p for p in positions}
        seen = self._seen(session, list(ids))
        fresh = {p for marker, p in ids.items() if marker not in seen}
        if fresh:
            now = datetime.now(UTC)
            session.execute(insert(self.tables.inbox), [
                {"consumer": self.consumer, "event_id": _marker(what, p), "event_type": what, "topic": p[0],
                 "partition": p[1], "offset": p[2], "applied_at": now} for p in fresh])
        return fresh


Position = tuple[str, int, int]  # topic, partition, offset


def _marker(what: str, position: Position) -> str:
    return f"{what}:" + hashlib.sha256("|".join(map(str, position)).encode()).hexdigest()[:40]


class _Isolate(Exception):
    """A batch held a rejected event: redo it with a savepoint per event."""
