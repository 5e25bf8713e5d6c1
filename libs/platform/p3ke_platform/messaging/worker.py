"""What a worker does with a batch of Kafka messages, whichever client read them: check each message's signature
and origin, parse its CloudEvent, apply the batch through the inbox, and dead-letter what cannot be parsed or
applied. The engine that reads the batches (kafka_worker: kafka-python, the default; faust_worker: faust) commits
their offsets only after `process` returns."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from p3ke_platform.logging import describe_error, get_logger
from p3ke_platform.messaging.dlq import dlq_for, dlq_headers
from p3ke_platform.messaging.inbox import Delivered, Inbox
from p3ke_platform.messaging.origin import REFUSED, OriginCheck, OriginRefused
from p3ke_platform.messaging.signature_pool import SignaturePool
from p3ke_schemas import CloudEvent, EnvelopeError, from_kafka

log = get_logger(__name__)

MAX_ATTEMPTS = 5


def database_unavailable(exc: BaseException) -> bool:
    """The database, not the event, is the problem (connection refused or lost, server restarting,
    lock or serialization timeouts): wait for it. An event is never dead-lettered for an outage."""
    from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError

    if isinstance(exc, OperationalError | InterfaceError | DisconnectionError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def received_at(msg: Any) -> datetime:
    """When the broker received the message: its LogAppendTime (the contract's topics are created with it, so a
    producer cannot set it), else the time this consumer read it."""
    if getattr(msg, "timestamp_type", None) == 1 and getattr(msg, "timestamp", None):
        stamp = float(msg.timestamp)
        return datetime.fromtimestamp(stamp / 1000 if stamp > 1e11 else stamp, UTC)
    return datetime.now(UTC)


@dataclass
class CheckedBatch:
    """A batch after its checks, before any effect."""

    parsed: list[Delivered] = field(default_factory=list)  # to apply
    refused: list[tuple[Delivered, str]] = field(default_factory=list)  # origin not proven: recorded as refusals
    letters: list[tuple[Any, str, bool]] = field(default_factory=list)  # (message, reason, answer its sender)


class BatchProcessor:
    """Turns a batch of Kafka messages into inbox applications and dead letters.

    A message is any object with the transport's fields: topic, partition, offset, key, value, headers, timestamp
    and timestamp_type (kafka-python's ConsumerRecord, faust's Message).

    With an origin check, an event whose signature, key, producer, principal or claimed time is not proven is
    dead-lettered with the reason and recorded in the audit log as a refusal, and never reaches a handler.
    """

    def __init__(self, inbox: Inbox, send_dead_letter: Any, consumer: str, origin: OriginCheck | None = None,
                 signatures: SignaturePool | None = None) -> None:
        self.inbox = inbox
        self.send_dead_letter = send_dead_letter  # async (topic, key, value, headers) -> None
        self.consumer = consumer
        self.origin = origin
        self.signatures = signatures  # checks a batch's signatures on several CPUs (else each in verify)

    async def process(self, messages: Sequence[Any]) -> None:
        """Check a batch, then act on it: `settle(await check(messages))`."""
        await self.settle(await self.check(messages))

    async def check(self, messages: Sequence[Any]) -> CheckedBatch:
        """Each message's signature, envelope and origin, with no effect yet: what to apply, what to refuse and what
        to dead-letter. An engine may check the next batch while the previous one is settled."""
        batch = CheckedBatch()
        signatures = None
        if self.origin is not None and self.signatures is not None:  # the helpers check while the envelopes parse
            signatures = self.signatures.start([(msg.headers, msg.value or b"") for msg in messages])
        envelopes: list[CloudEvent | EnvelopeError] = []
        for msg in messages:
            try:
                envelopes.append(from_kafka(msg.key, msg.value, msg.headers))
            except EnvelopeError as exc:
                envelopes.append(exc)
        checked: list[Any] = await signatures if signatures is not None else [None] * len(messages)
        for msg, ce, signature in zip(messages, envelopes, checked, strict=True):
            received = received_at(msg)
            if isinstance(ce, EnvelopeError):
                answer = self.origin is None or self.origin.signed_by_a_producer(
                    msg.topic, msg.value, msg.headers, received)
                batch.letters.append((msg, str(ce), answer))
                continue
            if self.origin is not None:
                try:
                    ce = self.origin.verify(msg.key, msg.value, msg.headers, ce, received, signature)
                except OriginRefused as exc:
                    REFUSED.labels(self.consumer, ce.type, exc.kind).inc()
                    reason = f"origin not proven ({exc.kind}): {exc.reason}"
                    batch.letters.append((msg, reason, False))
                    batch.refused.append((Delivered(msg.topic, msg.partition, msg.offset, ce, msg), reason))
                    continue
            batch.parsed.append(Delivered(msg.topic, msg.partition, msg.offset, ce, msg))
        return batch

    async def settle(self, batch: CheckedBatch) -> None:
        """Act on a checked batch, in order: its dead letters, its refusals recorded, the rest applied in one inbox
        transaction (and what a handler rejects dead-lettered)."""
        for msg, reason, answer in batch.letters:
            await self._dead_letter(msg, reason, answer=answer)
        if batch.refused:
            await self._record_refusals(batch.refused)
        if not batch.parsed:
            return
        rejected = await self._apply(batch.parsed)
        for item, reason in rejected:
            await self._dead_letter(item.message, reason, answer=True)

    def close(self) -> None:
        """Stop the signature helpers (a worker's processes end with it anyway; this ends them now)."""
        if self.signatures is not None:
            self.signatures.close()

    async def _apply(self, items: list[Delivered]) -> list[tuple[Delivered, str]]:
        delay = 0.2
        attempt = 0
        while True:
            try:
                return await asyncio.to_thread(self.inbox.apply_batch, items)
            except Exception as exc:
                outage = database_unavailable(exc)
                attempt += 0 if outage else 1
                log.warning("database unavailable; waiting to apply the batch" if outage
                            else "batch apply failed; retrying", attempt=attempt, error=describe_error(exc))
                if attempt >= MAX_ATTEMPTS:
                    break
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        # The batch keeps failing: apply events one by one so a single poison event is isolated.
        rejected: list[tuple[Delivered, str]] = []
        for item in items:
            rejected += await self._apply_alone(item)
        return rejected

    async def _apply_alone(self, item: Delivered) -> list[tuple[Delivered, str]]:
        delay = 0.2
        while True:
            try:
                return await asyncio.to_thread(self.inbox.apply_batch, [item])
            except Exception as exc:
                if not database_unavailable(exc):
                    return [(item, f"handler failed {MAX_ATTEMPTS} times: {describe_error(exc, 960)}")]
                log.warning("database unavailable; waiting to apply the event", error=describe_error(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _record_refusals(self, refused: list[tuple[Delivered, str]]) -> None:
        delay = 0.2
        while True:
            try:
                await asyncio.to_thread(self.inbox.refuse, refused)
                return
            except Exception as exc:
                if not database_unavailable(exc):
                    raise
                log.warning("database unavailable; waiting to record refusals", error=describe_error(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _dead_letter(self, msg: Any, reason: str, answer: bool = False) -> None:
        headers = dlq_headers(msg.headers, reason=reason, topic=msg.topic, partition=msg.partition,
                              offset=msg.offset, consumer=self.consumer)
        await self.send_dead_letter(dlq_for(msg.topic), msg.key, msg.value, headers)
        log.warning("dead-lettered a message", topic=msg.topic, partition=msg.partition,
                    offset=msg.offset, reason=reason[:300])
        if answer:  # a message of unproven origin is answered to no one
            try:
                await asyncio.to_thread(self.inbox.answer, msg.topic, msg.partition, msg.offset, msg.value, reason)
            except Exception as exc:  # the dead letter is kept; a failed answer is logged, not retried forever
                log.error("could not answer a dead-lettered message", topic=msg.topic, error=describe_error(exc))
