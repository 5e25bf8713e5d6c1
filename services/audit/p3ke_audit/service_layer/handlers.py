"""Append every consumed event to the log: data-access entries, and domain events for context.

Each event becomes one entry, placed in the Merkle tree by the transaction's Appender (see
appender.py). The worker verified the event's signature against the deployment's pinned keys before
this handler runs; the entry keeps that evidence (leaf format 3, see domain/entry.py and domain/origin.py), so
`p3ke audit verify` can verify every entry's origin again. An event without a verified signature (a
consumer that skipped the check) is refused, never written unsigned. A `data-access` event that names an
unknown service, or whose CloudEvents source claims another service than its payload, is refused too
(the worker's origin check also refuses one signed by another service's key). Refusals are dead-lettered
with the reason and counted in `p3ke_audit_rejected_total`, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter

from p3ke_audit.domain.entry import FORMAT_COLUMN, FORMAT_VERSION, EntryFormatError
from p3ke_audit.domain.origin import OriginError, event_columns, evidence
from p3ke_audit.service_layer import obligations
from p3ke_audit.service_layer.appender import appender_for
from p3ke_audit.service_layer.context import AuditContext
from p3ke_platform.messaging.inbox import Handler, RejectEvent
from p3ke_platform.unit_of_work import UnitOfWork
from p3ke_schemas import EVENTS, CloudEvent, DataAccess
from p3ke_schemas.topics import ALL_SERVICES, spec_for_type

REJECTED = Counter("p3ke_audit_rejected_total", "events refused by the audit log (sent to the DLQ)", ["reason"])
SOURCE_PREFIX = "urn:p3ke:service:"


def _check(event: CloudEvent, data: DataAccess) -> None:
    if data.service not in ALL_SERVICES:
        REJECTED.labels("unknown-service").inc()
        raise RejectEvent(f"data-access from an unknown service {data.service[:50]!r}")
    if event.source.startswith(SOURCE_PREFIX) and event.source[len(SOURCE_PREFIX):] != data.service:
        REJECTED.labels("forged-service").inc()
        raise RejectEvent(f"data-access names service {data.service!r} but comes from {event.source[:80]!r}")


def entry_row(event: CloudEvent) -> tuple[dict[str, Any], list[str]]:
    """The stored columns of an event's entry (leaf format 3: with its origin evidence), and the data subjects
    it names. RejectEvent for an event the log must not record."""
    if event.signature is None:
        REJECTED.labels("unsigned").inc()
        raise RejectEvent("the event's signature was not verified: the audit log records signed events only")
    data = event.data
    if isinstance(data, DataAccess):
        _check(event, data)
    try:
        proof = evidence(event.signature)
    except OriginError as exc:
        REJECTED.labels("evidence").inc()
        raise RejectEvent(f"the event's signature cannot be kept as evidence: {exc}") from None
    row = event_columns(event)
    row["recorded_at"] = datetime.now(UTC)
    row.update(proof)  # envelope, payload (the data exactly as signed), signature, key_id
    row[FORMAT_COLUMN] = FORMAT_VERSION
    refs = list(data.subject_refs) if isinstance(data, DataAccess) else []
    return row, refs


def append_entry(ctx: AuditContext, uow: UnitOfWork, event: CloudEvent) -> None:
    row, refs = entry_row(event)  # validation first: a refused event leaves the batch untouched
    try:
        key_id = event.data.subject_key_id if isinstance(event.data, DataAccess) else None
        appender_for(uow.session, ctx.settings, lambda: ctx.signer).add(row, refs, key_id)
    except EntryFormatError as exc:  # e.g. a lone surrogate: no RFC 8785 form, so no leaf (nothing was added)
        REJECTED.labels("no-canonical-form").inc()
        raise RejectEvent(f"the entry has no canonical form: {exc}") from None


def append_and_track(track: Callable[[AuditContext, UnitOfWork, CloudEvent], None]) -> Handler:
    """A handler that appends the event's entry, then tracks the obligation the event starts or fulfils (in a
    savepoint of its own: a tracking failure is logged, never a refusal of the entry; service_layer/obligations.py)."""

    def handler(ctx: AuditContext, uow: UnitOfWork, event: CloudEvent) -> None:
        append_entry(ctx, uow, event)
        track(ctx, uow, event)

    handler.__name__ = f"append_entry_and_{track.__name__}"
    return handler


HANDLERS: dict[str, Handler] = {spec.type: append_entry for spec in EVENTS}
# obligations (PKS Art. 4(2)/5(1)): a signed BAST starts the data balikan, the first feedback batch fulfils it
HANDLERS[spec_for_type("handover-signed").type] = append_and_track(obligations.on_handover_signed)
HANDLERS[spec_for_type("feedback-received").type] = append_and_track(obligations.on_feedback_received)
# UU PDP Art. 43-44, PKS Art. 8(3): a disposal certificate due starts party 2's obligation, certified fulfils it
HANDLERS[spec_for_type("disposal-status-changed").type] = append_and_track(obligations.on_disposal_status_changed)
