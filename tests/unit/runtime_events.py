"""Shared by the services' tests: events applied to a runtime through its real inbox, as the worker does,
and the events it emitted, read from its outbox."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from p3ke_platform.messaging.inbox import Delivered
from p3ke_platform.service import Runtime
from p3ke_schemas import CloudEvent


def apply(runtime: Runtime, *payloads: Any, event_ids: list[str] | None = None) -> list[tuple[Delivered, str]]:
    """Apply events through the real inbox, as the worker does; returns the dead-lettered ones."""
    items = []
    for i, payload in enumerate(payloads):
        event = CloudEvent.of(payload, source="test")
        if event_ids:
            event = CloudEvent(type=event.type, source=event.source, data=event.data, id=event_ids[i])
        items.append(Delivered(event.spec.topic, 0, i, event))
    return runtime.inbox("test").apply_batch(items)


def emitted(runtime: Runtime, event_type: str) -> list[dict[str, Any]]:
    """The data of every `event_type` event in the runtime's outbox, in the order written."""
    outbox = runtime.spec.tables.outbox
    with runtime.engine.connect() as conn:
        rows = conn.execute(select(outbox.c.value).where(outbox.c.event_type == event_type)
                            .order_by(outbox.c.seq)).scalars().all()
    return [json.loads(v) for v in rows]
