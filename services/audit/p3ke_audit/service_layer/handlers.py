"""Append every consumed event to the log: data-access entries, and domain events for context."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import insert

from p3ke_audit.adapters.orm import entries
from p3ke_platform.unit_of_work import UnitOfWork
from p3ke_schemas import EVENTS, CloudEvent, DataAccess

# every row carries every column, so one compiled statement serves all events
EMPTY = {c.name: None for c in entries.columns if c.name != "seq"}


def append_entry(uow: UnitOfWork, event: CloudEvent) -> None:
    data = event.data
    row: dict[str, object] = {
        "event_id": event.id,
        "event_type": event.type,
        "source": event.source,
        "occurred_at": event.time,
        "recorded_at": datetime.now(UTC),
        "payload": json.dumps(data.model_dump(mode="json"), sort_keys=True, separators=(",", ":")),
        "resource_id": event.key,
        "resource_type": event.spec.name,
        "record_count": 0,
    }
    if isinstance(data, DataAccess):
        row.update(service=data.service, actor_org=data.actor.org, actor_subject=data.actor.subject,
                   action=data.action, resource_type=data.resource_type, resource_id=data.resource_id,
                   outcome=data.outcome, record_count=data.record_count, occurred_at=data.occurred_at)
    uow.session.execute(insert(entries), [{**EMPTY, **row}])


HANDLERS = {spec.type: append_entry for spec in EVENTS}
