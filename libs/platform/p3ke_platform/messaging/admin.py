"""Create the contract's topics (and their DLQs) when missing: partitions and retention per EventSpec."""

from __future__ import annotations

import contextlib

from p3ke_platform.settings import Settings
from p3ke_schemas import EVENTS


def ensure_topics(settings: Settings, replication: int = 1) -> list[str]:
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(**settings.kafka_client_options(), request_timeout_ms=20_000)
    try:
        existing = set(admin.list_topics())
        wanted = []
        for spec in EVENTS:
            retention = str(spec.retention_days * 86_400_000)
            for name, partitions in ((spec.topic, spec.partitions), (spec.dlq, 1)):
                if name not in existing:
                    wanted.append(NewTopic(name, partitions, replication,
                                           topic_configs={"retention.ms": retention,
                                                          # the broker stamps receipt; producers cannot set it
                                                          "message.timestamp.type": "LogAppendTime"}))
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process created them first
                admin.create_topics(wanted, timeout_ms=20_000)
        return [t.name for t in wanted]
    finally:
        admin.close()
