"""Reading what services put on Kafka topics in integration tests."""

from __future__ import annotations

import time
from typing import Any

from kafka import KafkaConsumer


def collect(bootstrap: str, topic: str, keys: set[str], want: int, timeout: float = 60) -> list[Any]:
    """The messages with these keys on the topic (read from the start), once `want` are there or after
    `timeout` seconds, whichever comes first. Each attempt reads the topic again from the start; on timeout the
    most any attempt found is returned, so an attempt cut short (a broker connection lost on a loaded machine)
    does not count as the topic holding nothing."""
    deadline = time.monotonic() + timeout
    best: list[Any] = []
    while True:
        consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                 enable_auto_commit=False, group_id=None, consumer_timeout_ms=2000)
        try:
            found = [m for m in consumer if m.key and m.key.decode() in keys]
        finally:
            consumer.close()
        best = max(best, found, key=len)
        if len(best) >= want or time.monotonic() > deadline:
            return best
        time.sleep(0.5)
