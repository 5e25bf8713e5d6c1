"""The Kafka producer: idempotent, acks=all, so an acknowledged event is on every in-sync replica."""

from __future__ import annotations

from typing import Any

from p3ke_platform.settings import Settings


def make_producer(settings: Settings, **overrides: Any) -> Any:
    from kafka import KafkaProducer

    options: dict[str, Any] = {
        **settings.kafka_client_options(),
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 2,
        "batch_size": 256 * 1024,
        "max_in_flight_requests_per_connection": 5,
        "retries": 2_147_483_647,
        "request_timeout_ms": 30_000,
        "client_id": f"p3ke-{settings.service or 'client'}",
    }
    options.update(overrides)
    return KafkaProducer(**options)
