"""The worker's default engine (P3KE_WORKER_ENGINE=kafka-python): a batch poll loop on kafka-python.

Each turn polls up to P3KE_WORKER_BATCH messages (waiting up to P3KE_WORKER_BATCH_MS more to fill a batch that came
short), has the BatchProcessor check them (signatures, origin, parsing: no effect) and settle them (dead letters,
refusals, one inbox transaction), and only then commits the batch's offsets, without waiting for the broker's answer
(the next poll starts at once; a stop waits for the last commit's answer). When a batch comes full (the worker is
behind), it is settled while the next one is polled and checked, and the one after that is polled while the next is
checked: the checks are CPU work (the signatures on the helpers), the settling mostly waits for the database, and
kafka-python decodes the polled records in Python on the consumer's thread, so the three overlap; batches are still
checked and settled one at a time, in order, and a stop processes a batch already polled before it leaves. So an
offset is never committed before its effect: a worker that dies or is cut off from its group mid-batch has the batch
delivered again, and the inbox absorbs what was already applied. A failed commit (the broker restarting, a rebalance
that moved the partitions) is logged and not retried: the next commit covers it, or the batch is delivered again to
whoever owns its partitions now. Polling ahead, measured with `bench audit` at 3*10^4 entries (2 interleaved pairs):
5,537-5,651 entries/s against 4,891-4,972 without, at the same worker CPU (5.4-5.5 s).

Why not faust's agents (still available: P3KE_WORKER_ENGINE=faust): faust hands a worker one event at a time
(its fetcher thread, the conductor, the stream, an ack per event) before batching them again. Measured with the
audit benchmark at 3·10^4 entries (`BENCH_WORKER_ENGINE=faust|kafka-python BENCH_AUDIT_ENTRIES=30000 python -m
bench audit`, interleaved runs), this loop appends 3,385-3,549 entries/s with 6.9-7.1 s of worker CPU against
faust's 2,523-2,637/s with 10.9-11.8 s.

All the consumer's calls run on one thread of their own (kafka-python's consumer is not thread-safe); the
BatchProcessor runs on the event loop and applies batches in a worker thread. SIGTERM or SIGINT lets the batch
under way finish and be committed, then the consumer leaves its group at once (its partitions move without
waiting for the session to time out).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from functools import partial
from typing import Any, TypeVar

from p3ke_platform.logging import describe_error, get_logger
from p3ke_platform.messaging.worker import BatchProcessor
from p3ke_platform.settings import Settings

log = get_logger(__name__)
T = TypeVar("T")

POLL_MS = 500  # an idle poll's longest wait: how soon a stop request is noticed


class KafkaWorker:
    def __init__(self, *, app_id: str, settings: Settings, topics: Sequence[str],
                 processor: Callable[[Any], BatchProcessor]) -> None:
        """`processor(send_dead_letter)` builds the BatchProcessor around this worker's dead-letter producer."""
        self.app_id = app_id
        self.settings = settings
        self.topics = list(topics)
        self.processor = processor(self.send_dead_letter)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=f"{app_id}-consumer")
        self._consumer: Any = None
        self._producer: Any = None
        self._stop = asyncio.Event()

    # -- the consumer, on its own thread --------------------------------------------------------------------------
    def _connect(self) -> None:
        from kafka import KafkaConsumer

        session = self.settings.worker_session_timeout_s
        self._consumer = KafkaConsumer(
            **self.settings.kafka_client_options(), client_id=self.app_id, group_id=self.app_id,
            enable_auto_commit=False, auto_offset_reset="earliest", allow_auto_create_topics=False,
            max_poll_records=self.settings.worker_batch,
            session_timeout_ms=int(session * 1000), heartbeat_interval_ms=int(min(3.0, session / 3) * 1000),
            request_timeout_ms=int(session * 3000),
            # Full fetch requests, not KIP-227 incremental fetch sessions: with sessions, about one paced run in two
            # of `bench events` had a poll wait out fetch_max_wait_ms (500 ms) while records were already on the
            # broker (seen in the worker: the oldest record returned had been appended 8 ms before the poll began);
            # without them, none in 5 instrumented runs, and no such tail in 42 runs since. A full request names at
            # most a few partitions per service.
            enable_incremental_fetch_sessions=False)
        self._consumer.subscribe(self.topics)

    def _poll(self) -> list[Any]:
        """The next batch, each partition's messages in order."""
        want = self.settings.worker_batch
        records = [r for rs in self._consumer.poll(timeout_ms=POLL_MS, max_records=want).values() for r in rs]
        if records and len(records) < want:
            more = self._consumer.poll(timeout_ms=self.settings.worker_batch_ms, max_records=want - len(records))
            records += [r for rs in more.values() for r in rs]
        return records

    def _commit(self, offsets: dict[Any, Any] | None = None) -> None:
        """Commit without waiting for the broker's answer: the next poll starts at once (a synchronous commit held
        every turn of the loop for 9-12 ms on a local broker). With nothing polled left unsettled, the consumer's
        positions (so every partition read, whatever batch it was in); else `offsets`, the settled batch's. A failed
        commit is reported by `_committed` and not retried: the next commit of positions covers it."""
        self._consumer.commit_async(offsets=offsets, callback=self._committed)

    def _commit_last(self) -> None:
        """At a stop: commit what was processed and wait for the answer, so that nothing done is delivered again."""
        from kafka.errors import KafkaError

        try:
            self._consumer.commit()
        except KafkaError as exc:
            self._committed(None, exc)

    @staticmethod
    def _committed(offsets: Any, answer: Any) -> None:
        """A commit's outcome (kafka-python's callback): a failure is logged, not retried."""
        if isinstance(answer, BaseException):
            log.warning("offset commit failed; the batch may be delivered again (the inbox absorbs it)",
                        error=describe_error(answer))

    def _close(self) -> None:
        if self._consumer is not None:
            self._consumer.close(autocommit=False)
        if self._producer is not None:
            self._producer.close(timeout=10)

    async def _on_consumer(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, call)

    # -- dead letters --------------------------------------------------------------------------------------------
    async def send_dead_letter(self, topic: str, key: bytes | None, value: bytes | None,
                               headers: list[tuple[str, bytes]]) -> None:
        """Publish a dead letter and wait for the broker's acknowledgement; while the broker is unreachable, wait
        for it (the batch is not committed before its dead letters are)."""
        from kafka.errors import KafkaError

        delay = 0.5
        while True:
            try:
                await asyncio.to_thread(self._send, topic, key, value, headers)
                return
            except KafkaError as exc:
                log.warning("broker unavailable; waiting to dead-letter a message", topic=topic,
                            error=describe_error(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _send(self, topic: str, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]) -> None:
        if self._producer is None:
            from kafka import KafkaProducer

            self._producer = KafkaProducer(**self.settings.kafka_client_options(), client_id=f"{self.app_id}-dlq",
                                           acks="all")
        self._producer.send(topic, key=key, value=value, headers=headers).get(timeout=30)

    # -- the loop ------------------------------------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Poll, check, settle and commit until stopped. A full batch (the worker is behind) is settled while the next
        one is polled and checked, and the one after it is polled while the next is checked; the batches are still
        checked and settled one after the other, in order, and each one's offsets are committed only once it is
        settled."""
        await self._on_consumer(self._connect)
        log.info("worker consuming", group=self.app_id, topics=self.topics)
        settling: asyncio.Task[None] | None = None  # a full batch's settling, under way
        settling_offsets: dict[Any, Any] = {}
        polling: asyncio.Future[list[Any]] | None = None  # the batch after a full one, polled ahead
        try:
            while not self._stop.is_set() or polling is not None:  # a batch polled ahead is processed before a stop
                batch = await (polling if polling is not None else self._on_consumer(self._poll))
                polling = None
                full = len(batch) >= self.settings.worker_batch
                if full and not self._stop.is_set():
                    polling = asyncio.ensure_future(self._on_consumer(self._poll))
                checked = await self.processor.check(batch) if batch else None
                if settling is not None:
                    await settling
                    settling = None
                    # the batch just checked (and any polled ahead) is not settled yet: commit only what is
                    unsettled = checked is not None or polling is not None
                    await self._on_consumer(partial(self._commit, settling_offsets if unsettled else None))
                if checked is None:
                    continue
                if full:
                    settling, settling_offsets = asyncio.create_task(self.processor.settle(checked)), _next(batch)
                else:
                    await self.processor.settle(checked)
                    await self._on_consumer(self._commit)
            if settling is not None:
                await settling
                settling = None
            await self._on_consumer(self._commit_last)
        finally:
            for task in (settling, polling):  # the loop failed mid-batch: let what is under way end (uncommitted)
                if task is not None:
                    with suppress(Exception):
                        await task
            await self._on_consumer(self._close)
            self._thread.shutdown(wait=False)
            self.processor.close()
            log.info("worker stopped", group=self.app_id)


def _next(batch: Sequence[Any]) -> dict[Any, Any]:
    """The offsets to commit once `batch` is settled: per partition, the one after its last message."""
    from kafka.structs import OffsetAndMetadata, TopicPartition

    last: dict[Any, Any] = {}
    for msg in batch:
        tp = TopicPartition(msg.topic, msg.partition)
        if tp not in last or msg.offset > last[tp].offset:
            last[tp] = msg
    return {tp: OffsetAndMetadata(msg.offset + 1, "", getattr(msg, "leader_epoch", -1))
            for tp, msg in last.items()}


def run_kafka_worker(worker: KafkaWorker) -> int:
    """Run `worker` in this process until SIGTERM or SIGINT."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stop)
        await worker.run()

    asyncio.run(main())
    return 0
