"""Dead letters: the original key, value and headers, plus `p3ke_dlq_*` headers saying why."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter

from p3ke_platform.logging import redact_text
from p3ke_schemas import dlq_topic

DEAD_LETTERS = Counter("p3ke_dead_letters_total", "messages sent to a dead-letter topic", ["topic"])


def dlq_headers(original: Any, *, reason: str, topic: str, partition: int, offset: int,
                consumer: str) -> list[tuple[str, bytes]]:
    items = original.items() if isinstance(original, dict) else (original or [])
    headers = [(str(k.decode() if isinstance(k, bytes) else k), bytes(v or b"")) for k, v in items
               if not str(k).startswith("p3ke_dlq_")]
    extra = {
        "p3ke_dlq_reason": redact_text(reason)[:2000],
        "p3ke_dlq_topic": topic,
        "p3ke_dlq_partition": str(partition),
        "p3ke_dlq_offset": str(offset),
        "p3ke_dlq_consumer": consumer,
        "p3ke_dlq_failed_at": datetime.now(UTC).isoformat(),
    }
    DEAD_LETTERS.labels(topic).inc()
    return headers + [(k, v.encode()) for k, v in extra.items()]


def dlq_for(topic: str) -> str:
    return dlq_topic(topic)
