"""Append every consumed event to the log: data-access entries, and domain events for context.

Each event becomes one entry, placed in the Merkle tree by the transaction's Appender (see
appender.py). A `data-access` event that names an unknown service, or whose CloudEvents source
claims another service than its payload, is refused (dead-lettered with the reason, counted in
`p3ke_audit_rejected_total`), never dropped silently.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter

from p3ke_audit.service_layer.appender import appender_for
from p3ke_audit.service_layer.context import AuditContext
from p3ke_platform.messaging.inbox import RejectEvent
from p3ke_platform.unit_of_work import UnitOfWork
from p3ke_schemas import EVENTS, Actor, CloudEvent, DataAccess
from p3ke_schemas.topics import ALL_SERVICES

REJECTED = Counter("p3ke_audit_rejected_total", "events refused by the audit log (sent to the DLQ)", ["reason"])
SOURCE_PREFIX = "urn:p3ke:service:"
# json.dumps(..., sort_keys=True, separators=(",", ":"), ensure_ascii=False), built once
_PAYLOAD = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _roles(actor: Actor | None) -> str | None:
    return f" {' '.join(sorted(actor.roles))} " if actor is not None and actor.roles else None


def _actor(data: Any) -> Actor | None:
    for name in ("actor", "published_by", "requested_by", "submitted_by"):
        value = getattr(data, name, None)
        if isinstance(value, Actor):
            return value
    return None


def _check(event: CloudEvent, data: DataAccess) -> None:
    if data.service not in ALL_SERVICES:
        REJECTED.labels("unknown-service").inc()
        raise RejectEvent(f"data-access from an unknown service {data.service[:50]!r}")
    if event.source.startswith(SOURCE_PREFIX) and event.source[len(SOURCE_PREFIX):] != data.service:
        REJECTED.labels("forged-service").inc()
        raise RejectEvent(f"data-access names service {data.service!r} but comes from {event.source[:80]!r}")


def entry_row(event: CloudEvent) -> tuple[dict[str, Any], list[str]]:
    """The stored columns of an event's entry, and the data subjects it names."""
    data = event.data
    actor = _actor(data)
    row: dict[str, Any] = {
        "event_id": event.id,
        "event_type": event.type,
        "source": event.source,
        "occurred_at": _utc(event.time),
        "recorded_at": datetime.now(UTC),
        "payload": _PAYLOAD.encode(data.model_dump(mode="json")),
        "resource_id": event.key,
        "resource_type": event.spec.name,
        "record_count": 0,
        "actor_org": actor.org if actor else None,
        "actor_subject": actor.subject if actor else None,
        "actor_roles": _roles(actor),
        "program": str(getattr(data, "program", None) or "") or None,
        "agreement_id": getattr(data, "agreement_id", None),
    }
    refs: list[str] = []
    if isinstance(data, DataAccess):
        _check(event, data)
        row.update(service=data.service, action=data.action, resource_type=data.resource_type,
                   resource_id=data.resource_id, outcome=data.outcome, record_count=data.record_count,
                   occurred_at=_utc(data.occurred_at))
        refs = list(data.subject_refs)
    return row, refs


def append_entry(ctx: AuditContext, uow: UnitOfWork, event: CloudEvent) -> None:
    row, refs = entry_row(event)  # validation first: a refused event leaves the batch untouched
    appender_for(uow.session, ctx.settings, lambda: ctx.signer).add(row, refs)


HANDLERS = {spec.type: append_entry for spec in EVENTS}
