"""Write an event into the outbox in the caller's transaction: it is published iff the change commits."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from p3ke_schemas import CloudEvent, EventSigner, to_kafka


def enqueue(session: Session, outbox: Table, event: CloudEvent, signer: EventSigner | None = None) -> None:
    """Queue `event`, signed by `signer` (the service's key): the stored headers carry `ce_signature`."""
    key, value, headers = to_kafka(event, signer)
    # parameters passed separately: the statement is compiled once and cached, not per event
    session.execute(insert(outbox), [{
        "event_id": event.id,
        "event_type": event.type,
        "topic": event.spec.topic,
        "key": key.decode(),
        "headers": json.dumps([[name, raw.decode()] for name, raw in headers]),
        "value": value,
        "created_at": datetime.now(UTC),
        "attempts": 0,
    }])
