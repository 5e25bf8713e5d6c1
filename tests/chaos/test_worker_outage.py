"""The worker waits out a database outage instead of dead-lettering the batch it holds (found by the
database-restart chaos test: PostgreSQL down for 9 s sent every in-flight event to the DLQ with
"handler failed 5 times: OperationalError", committed their offsets, and so lost their effects).
A handler that keeps failing for a reason of its own is still isolated and dead-lettered."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from p3ke_platform.messaging import worker
from p3ke_platform.messaging.inbox import Delivered
from p3ke_platform.messaging.worker import BatchProcessor, database_unavailable


class FlakyInbox:
    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.calls = 0

    def apply_batch(self, items: list[Delivered]) -> list[tuple[Delivered, str]]:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return []


def _processor(inbox: FlakyInbox) -> tuple[BatchProcessor, list[Any]]:
    letters: list[Any] = []

    async def send(*args: Any) -> None:
        letters.append(args)

    return BatchProcessor(inbox, send, consumer="test"), letters  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    real = asyncio.sleep

    async def instant(_delay: float, *args: Any) -> None:
        await real(0)

    monkeypatch.setattr(worker.asyncio, "sleep", instant)


def _outage() -> OperationalError:
    return OperationalError("SELECT 1", {}, Exception("connection refused"))


def test_an_outage_longer_than_the_retry_budget_is_waited_out() -> None:
    inbox = FlakyInbox([_outage() for _ in range(worker.MAX_ATTEMPTS * 4)])
    processor, letters = _processor(inbox)
    item = Delivered("t", 0, 0, None, None)  # type: ignore[arg-type]
    assert asyncio.run(processor._apply([item])) == []
    assert inbox.calls == worker.MAX_ATTEMPTS * 4 + 1
    assert letters == []


def test_a_handler_failing_on_its_own_is_still_isolated() -> None:
    error = IntegrityError("INSERT", {}, Exception("duplicate key"))
    inbox = FlakyInbox([error] * (worker.MAX_ATTEMPTS + 1))
    processor, _ = _processor(inbox)
    item = Delivered("t", 0, 0, None, None)  # type: ignore[arg-type]
    [(rejected, reason)] = asyncio.run(processor._apply([item]))
    assert rejected is item and "handler failed" in reason


def test_what_counts_as_an_outage() -> None:
    assert database_unavailable(_outage())
    assert not database_unavailable(IntegrityError("INSERT", {}, Exception("duplicate key")))
    assert not database_unavailable(ValueError("a bug"))
