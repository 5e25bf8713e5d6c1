"""The kafka-python engine of the worker on a real broker: a batch's offsets are committed only after the batch was
processed (a worker that fails mid-batch has it delivered again), a stop lets the batch under way finish and be
committed, dead letters reach their topic; and the worker's health endpoints answer as its readiness changes."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaConnectionError
from kafka.structs import TopicPartition

from p3ke_platform.devstack.ports import free_port
from p3ke_platform.health_server import serve_health
from p3ke_platform.messaging.kafka_worker import KafkaWorker
from p3ke_platform.settings import load_settings

pytestmark = [pytest.mark.kafka]


class Recorder:
    """Stands in for the BatchProcessor (tested on its own elsewhere): records each batch, and can fail or stop."""

    def __init__(self, send_dead_letter: Any, fail_first: bool = False) -> None:
        self.send_dead_letter = send_dead_letter
        self.fail_first = fail_first
        self.batches: list[list[int]] = []
        self.log: list[tuple[str, int]] = []  # ("checked" | "settling" | "settled", the batch's first offset)
        self.on_batch: Any = None

    def close(self) -> None:
        pass

    async def check(self, messages: Sequence[Any]) -> Sequence[Any]:
        self.log.append(("checked", messages[0].offset))
        return messages

    async def settle(self, messages: Sequence[Any]) -> None:
        self.log.append(("settling", messages[0].offset))
        self.batches.append([m.offset for m in messages])
        if self.on_batch is not None:
            await self.on_batch(messages)
        self.log.append(("settled", messages[0].offset))
        if self.fail_first:
            self.fail_first = False
            raise RuntimeError("the batch failed half-way")


def _topic(bootstrap: str) -> str:
    name = f"test-worker-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(name, 1, 1), NewTopic(f"{name}.dlq", 1, 1)])
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for i in range(12):
        producer.send(name, key=b"k", value=json.dumps({"i": i}).encode())
    producer.flush()
    producer.close()
    return name


def _committed(bootstrap: str, group: str, topic: str) -> int | None:
    reader = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        return reader.committed(TopicPartition(topic, 0))
    finally:
        reader.close(autocommit=False)


def _worker(bootstrap: str, tmp_path: Path, topic: str, group: str, kind: type[KafkaWorker] = KafkaWorker,
            **recorder: Any) -> tuple[Any, Recorder]:
    """A worker of class `kind` (batches of 5) on `topic`, and the Recorder standing in for its processor."""
    settings = load_settings(env="test", data_dir=tmp_path, kafka_bootstrap=bootstrap, worker_batch=5,
                             worker_verify_processes=0)
    made: list[Recorder] = []

    def processor(send: Any) -> Any:
        made.append(Recorder(send, **recorder))
        return made[0]

    worker = kind(app_id=group, settings=settings, topics=[topic], processor=processor)
    return worker, made[0]


def test_a_batch_that_fails_is_not_committed_and_comes_again(kafka_bootstrap: str, tmp_path: Path) -> None:
    topic, group = _topic(kafka_bootstrap), f"test-{uuid.uuid4().hex[:8]}"
    worker, first = _worker(kafka_bootstrap, tmp_path, topic, group, fail_first=True)
    with pytest.raises(RuntimeError, match="half-way"):
        asyncio.run(worker.run())
    assert first.batches[0][0] == 0 and len(first.batches) == 1
    assert _committed(kafka_bootstrap, group, topic) is None  # nothing committed: the failed batch was not done

    again, second = _worker(kafka_bootstrap, tmp_path, topic, group)

    async def stop_when_all_seen(messages: Sequence[Any]) -> None:
        if messages[-1].offset == 11:
            again.stop()

    second.on_batch = stop_when_all_seen
    asyncio.run(again.run())
    seen = [o for batch in second.batches for o in batch]
    assert seen == list(range(12))  # the failed batch delivered again, then the rest, in order
    assert all(len(batch) <= 5 for batch in second.batches)  # P3KE_WORKER_BATCH
    assert _committed(kafka_bootstrap, group, topic) == 12


def test_a_stop_lets_the_batch_under_way_finish_and_be_committed(kafka_bootstrap: str, tmp_path: Path) -> None:
    topic, group = _topic(kafka_bootstrap), f"test-{uuid.uuid4().hex[:8]}"
    worker, recorder = _worker(kafka_bootstrap, tmp_path, topic, group)

    async def stop_during_the_first(messages: Sequence[Any]) -> None:
        worker.stop()
        await asyncio.sleep(0.2)  # still processing when the stop arrives
        await recorder.send_dead_letter(f"{topic}.dlq", b"k", messages[0].value, [("reason", b"test")])

    recorder.on_batch = stop_during_the_first
    asyncio.run(worker.run())
    # the first batch came full (5 of the 12 waiting), so the next one was already polled and checked while it was
    # settled: that one is settled too, and no other is polled (unless it was polled ahead before the stop arrived:
    # then it is settled as well); what is committed is exactly what was settled
    settled = [batch[0] for batch in recorder.batches]
    assert settled in ([0, 5], [0, 5, 10])
    assert _committed(kafka_bootstrap, group, topic) == sum(len(batch) for batch in recorder.batches)
    letters = KafkaConsumer(f"{topic}.dlq", bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest",
                            consumer_timeout_ms=10_000)
    try:
        letter = next(iter(letters))
    finally:
        letters.close()
    assert json.loads(letter.value) == {"i": 0} and letter.headers == [("reason", b"test")]


def test_offsets_are_committed_while_the_worker_runs(kafka_bootstrap: str, tmp_path: Path) -> None:
    """Commits are sent without waiting for their answer: each still reaches the broker while the worker keeps
    polling, not only when it stops."""
    topic, group = _topic(kafka_bootstrap), f"test-{uuid.uuid4().hex[:8]}"
    worker, recorder = _worker(kafka_bootstrap, tmp_path, topic, group)
    seen_committed: list[int | None] = []

    async def run_and_watch() -> None:
        running = asyncio.ensure_future(worker.run())
        for _ in range(200):  # up to 20 s
            await asyncio.sleep(0.1)
            if sum(len(b) for b in recorder.batches) == 12:
                committed = await asyncio.to_thread(_committed, kafka_bootstrap, group, topic)
                seen_committed.append(committed)
                if committed == 12:
                    break
        worker.stop()
        await running

    asyncio.run(run_and_watch())
    assert seen_committed and seen_committed[-1] == 12  # read while the worker was still running


def test_a_full_batch_is_settled_while_the_next_is_checked_and_committed_only_once_settled(
        kafka_bootstrap: str, tmp_path: Path) -> None:
    """A worker behind (full batches of 5 of the 12 messages waiting) checks the next batch while the previous one is
    settled; the batches are still settled one at a time and in order, and none is committed before it is settled."""
    topic, group = _topic(kafka_bootstrap), f"test-{uuid.uuid4().hex[:8]}"
    worker, recorder = _worker(kafka_bootstrap, tmp_path, topic, group)
    committed_while_settling: list[int | None] = []

    async def slow_first_then_stop(messages: Sequence[Any]) -> None:
        if messages[0].offset == 0:
            await asyncio.sleep(1.0)  # the next batch is polled and checked meanwhile
            committed_while_settling.append(await asyncio.to_thread(_committed, kafka_bootstrap, group, topic))
        if messages[-1].offset == 11:
            worker.stop()

    recorder.on_batch = slow_first_then_stop
    asyncio.run(worker.run())
    log = recorder.log
    assert [o for batch in recorder.batches for o in batch] == list(range(12))
    assert log.index(("checked", 5)) < log.index(("settled", 0))  # overlapped
    settles = [entry for entry in log if entry[0] != "checked"]
    assert settles == [("settling", 0), ("settled", 0), ("settling", 5), ("settled", 5), ("settling", 10),
                       ("settled", 10)]  # one at a time, in order
    assert committed_while_settling == [None]
    assert _committed(kafka_bootstrap, group, topic) == 12


class LogsPolls(KafkaWorker):
    """A worker that logs each batch it polls, as ("polled", its first offset), in its processor's log."""

    def _poll(self) -> list[Any]:
        batch = super()._poll()
        if batch:
            self.processor.log.append(("polled", batch[0].offset))
        return batch


def test_the_batch_after_a_full_one_is_polled_ahead_and_settled_before_a_stop(
        kafka_bootstrap: str, tmp_path: Path) -> None:
    """A worker behind polls the batch after the one it checks while an earlier one is settled. A stop that arrives
    then still lets the batch polled ahead be checked, settled and committed: nothing polled is left unsettled, and
    no offset is committed before its batch is settled."""
    topic, group = _topic(kafka_bootstrap), f"test-{uuid.uuid4().hex[:8]}"
    worker, recorder = _worker(kafka_bootstrap, tmp_path, topic, group, LogsPolls)
    committed_while_settling: list[int | None] = []

    async def slow_first_then_stop(messages: Sequence[Any]) -> None:
        if messages[0].offset == 0:
            await asyncio.sleep(1.0)  # batches 5.. and 10.. are polled meanwhile
            committed_while_settling.append(await asyncio.to_thread(_committed, kafka_bootstrap, group, topic))
            worker.stop()

    recorder.on_batch = slow_first_then_stop
    asyncio.run(worker.run())
    log = recorder.log
    assert log.index(("polled", 10)) < log.index(("settled", 0))  # polled ahead, while the first batch settled
    assert [batch[0] for batch in recorder.batches] == [0, 5, 10]  # the stop came after: all three settled
    assert [e for e in log if e[0] != "checked" and e[0] != "polled"] == [
        ("settling", 0), ("settled", 0), ("settling", 5), ("settled", 5), ("settling", 10), ("settled", 10)]
    assert committed_while_settling == [None]
    assert _committed(kafka_bootstrap, group, topic) == 12


class LosesTheFirstCommit(KafkaWorker):
    """A worker whose first offset commit is lost on the way (as when the broker restarts under it): the commit's
    callback gets the failure, and nothing reaches the broker."""

    lost = False

    def _commit(self, offsets: dict[Any, Any] | None = None) -> None:
        if not self.lost:
            self.lost = True
            self._committed(offsets, KafkaConnectionError("the broker went away (test)"))
            return
        super()._commit(offsets)


def test_a_lost_commit_is_covered_by_the_next_one_for_a_partition_the_next_batch_did_not_read(
        kafka_bootstrap: str, tmp_path: Path) -> None:
    """The first batch reads partitions 0 and 1 and its commit is lost; the second batch reads only partition 0. Its
    commit must cover partition 1 too (the consumer's positions, not only the batch's own offsets), while the worker
    runs: else partition 1's group lag stays above zero until some later message there, however long that takes."""
    topic, group = f"test-worker-{uuid.uuid4().hex[:8]}", f"test-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.create_topics([NewTopic(topic, 2, 1)])
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    for partition in (0, 1):
        for i in range(2):
            producer.send(topic, key=b"k", value=json.dumps({"i": i}).encode(), partition=partition)
    producer.flush()
    worker, recorder = _worker(kafka_bootstrap, tmp_path, topic, group, LosesTheFirstCommit)
    p0, p1 = TopicPartition(topic, 0), TopicPartition(topic, 1)

    async def only_partition_0_after_the_first(messages: Sequence[Any]) -> None:
        if len(recorder.batches) == 1:
            assert {m.partition for m in messages} == {0, 1}  # the first batch read both partitions
            for i in range(2, 4):
                producer.send(topic, key=b"k", value=json.dumps({"i": i}).encode(), partition=0)
            await asyncio.to_thread(producer.flush)

    recorder.on_batch = only_partition_0_after_the_first
    seen: dict[TopicPartition, int | None] = {}

    async def run_and_watch() -> None:
        running = asyncio.ensure_future(worker.run())
        try:
            for _ in range(200):  # up to 20 s, while the worker runs (a stop commits everything anyway)
                await asyncio.sleep(0.1)
                if sum(len(b) for b in recorder.batches) == 6:
                    seen.update(await asyncio.to_thread(_committed_all, kafka_bootstrap, group, [p0, p1]))
                    if seen[p0] == 4:
                        break
        finally:
            worker.stop()
            await running

    try:
        asyncio.run(run_and_watch())
    finally:
        producer.close()
    assert worker.lost and len(recorder.batches) >= 2
    assert {m for b in recorder.batches[1:] for m in b} <= {2, 3}  # the later batches read partition 0 only
    assert seen == {p0: 4, p1: 2}


def _committed_all(bootstrap: str, group: str, partitions: list[TopicPartition]) -> dict[TopicPartition, int | None]:
    reader = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        return {tp: reader.committed(tp) for tp in partitions}
    finally:
        reader.close(autocommit=False)


def test_health_endpoints_answer_readiness_as_it_changes() -> None:
    problems: list[str] = ["database: unreachable"]
    port = free_port()
    stop = serve_health("127.0.0.1", port, lambda: list(problems))
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            assert answer.status == 200 and json.load(answer) == {"status": "ok"}
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5)
        assert refused.value.code == 503
        assert json.load(refused.value) == {"status": "not ready", "problems": ["database: unreachable"]}
        problems.clear()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as answer:
            assert answer.status == 200 and json.load(answer)["status"] == "ready"
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5)
        assert missing.value.code == 404
    finally:
        stop()
