"""Write an event into the outbox in the caller's transaction: it is published iff the change commits.

Events are signed when emitted and their rows kept in `session.info`; just before the transaction (or a savepoint)
commits they are written with one executemany, so a unit of work that emits many events pays one statement, not
one per event. A rollback drops the rows queued in the transaction it undoes (a savepoint's rollback only the rows
queued inside that savepoint), with what they described. Code that reads the outbox inside the emitting transaction
calls `flush_outbox` first.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, event, insert
from sqlalchemy.orm import Session

from p3ke_schemas import CloudEvent, EventSigner, to_kafka

_PENDING = "p3ke.outbox.pending"  # [(the innermost transaction when queued, outbox table, row)], not yet written
_HOOKED = "p3ke.outbox.hooked"


def enqueue(session: Session, outbox: Table, event_: CloudEvent, signer: EventSigner | None = None) -> None:
    """Queue `event_`, signed by `signer` (the service's key): the stored headers carry `ce_signature`."""
    key, value, headers = to_kafka(event_, signer)
    row = {
        "event_id": event_.id,
        "event_type": event_.type,
        "topic": event_.spec.topic,
        "key": key.decode(),
        "headers": json.dumps([[name, raw.decode()] for name, raw in headers]),
        "value": value,
        "created_at": datetime.now(UTC),
        "attempts": 0,
    }
    if not session.info.get(_HOOKED):
        event.listen(session, "before_commit", flush_outbox)
        event.listen(session, "after_soft_rollback", _drop)
        session.info[_HOOKED] = True
    transaction = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_PENDING, []).append((transaction, outbox, row))


def flush_outbox(session: Session) -> None:
    """Write the queued events (one executemany per outbox table; the statement is compiled once and cached)."""
    pending: list[tuple[Any, Table, dict[str, Any]]] = session.info.pop(_PENDING, None) or []
    by_table: dict[Table, list[dict[str, Any]]] = {}
    for _, outbox, row in pending:
        by_table.setdefault(outbox, []).append(row)
    for outbox, rows in by_table.items():
        session.execute(insert(outbox), rows)


def _drop(session: Session, previous_transaction: Any) -> None:
    """A rollback: forget the rows queued in the transaction (or savepoint) it undid."""
    pending = session.info.get(_PENDING)
    if pending:
        session.info[_PENDING] = [item for item in pending if item[0] is not previous_transaction]
