"""Data-subject requests (UU PDP Art. 32): intake at an office, the 3×24-hour clock, routing to party 1, the
response bundle of an access request (the person's records from the source services and their processing trail
from the log; only the bundle's SHA-256 is kept) and the answer.

The NIK reaches this module only to be keyed (`AuditContext.subject_ref`) by the caller: rows, history and the
response carry the keyed subject reference, never the NIK.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from p3ke_audit.adapters.orm import subject_requests
from p3ke_audit.domain import subject_requests as rules
from p3ke_audit.domain.messages import M
from p3ke_audit.service_layer import queries
from p3ke_audit.service_layer.case_history import Who, as_utc, history_of, record
from p3ke_platform.ids import random_id

PUBLIC_COLUMNS = ("request_id", "kind", "subject_ref", "status", "office", "intake_org", "intake_by",
                  "identity_document", "identity_checked_by", "details", "routed_to_org", "response_pdf_sha256",
                  "response_json_sha256", "answered_by_org", "answered_by", "answer_outcome", "answer_channel",
                  "answer_sent", "answer_reason")
INSTANTS = ("received_at", "due_at", "identity_checked_at", "response_at", "answered_at")


class NotFound(LookupError):
    """No request has that id."""


@dataclass(frozen=True)
class Intake:
    kind: rules.Kind
    subject_ref: str
    office: str
    identity_document: rules.IdentityDocument
    identity_checked_by: str
    identity_checked_at: datetime
    received_at: datetime
    details: str | None


def receive(session: Session, intake: Intake, *, now: datetime, who: Who, steward_org: str) -> str:
    """Record a request received at an office; its id."""
    rules.check_received(intake.received_at, now, intake.identity_checked_at)
    request_id = random_id("dsr")
    routed = rules.routed_to(intake.kind, steward_org)
    due = rules.due_at(intake.kind, intake.received_at)
    session.execute(insert(subject_requests).values(
        request_id=request_id, kind=intake.kind, subject_ref=intake.subject_ref, status="open",
        received_at=intake.received_at, due_at=due, office=intake.office, intake_org=who[0] or "",
        intake_by=who[1] or "", identity_document=intake.identity_document,
        identity_checked_by=intake.identity_checked_by, identity_checked_at=intake.identity_checked_at,
        details=intake.details, routed_to_org=routed, updated_at=now))
    record(session, "subject-request", request_id, at=now, change="received", who=who,
           detail={"kind": intake.kind, "office": intake.office, "due_at": due.isoformat(), "routed_to_org": routed,
                   "identity_check": {"document": intake.identity_document, "checked_by": intake.identity_checked_by,
                                      "checked_at": intake.identity_checked_at.isoformat()}})
    if routed:
        record(session, "subject-request", request_id, at=now, change="routed", who=who,
               detail={"to": routed, "due_at": due.isoformat()})
    return request_id


def row_of(session: Session, request_id: str, *, lock: bool = False) -> dict[str, Any]:
    query = select(subject_requests).where(subject_requests.c.request_id == request_id)
    row = session.execute(query.with_for_update() if lock else query).mappings().first()
    if row is None:
        raise NotFound(request_id)
    return dict(row)


def shown(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A request as the API shows it: its columns (no NIK is among them) and the clock."""
    out = {k: row[k] for k in PUBLIC_COLUMNS}
    out.update({k: as_utc(row[k]) if row[k] else None for k in INSTANTS})
    answered = row["status"] == "answered"
    out["overdue"] = rules.is_overdue(answered=answered, due=out["due_at"], now=now)
    out["answered_late"] = bool(answered and out["answered_at"] > out["due_at"])
    out["hours_left"] = None if answered else round((out["due_at"] - now).total_seconds() / 3600, 2)
    return out


def view(session: Session, request_id: str, now: datetime) -> dict[str, Any]:
    out = shown(row_of(session, request_id), now)
    out["history"] = history_of(session, "subject-request", request_id)
    return out


def listing(session: Session, now: datetime, *, status: str | None, kind: str | None, after: str | None,
            limit: int) -> list[dict[str, Any]]:
    query = select(subject_requests).order_by(subject_requests.c.request_id).limit(limit)
    for column, value in ((subject_requests.c.status, status), (subject_requests.c.kind, kind)):
        if value:
            query = query.where(column == value)
    if after:
        query = query.where(subject_requests.c.request_id > after)
    return [shown(dict(r), now) for r in session.execute(query).mappings()]


def trail(session: Session, subject_ref: str, limit: int) -> list[dict[str, Any]]:
    """The person's processing trail: every log entry naming them, oldest first — the query of POST
    /v1/subjects/trail (the subject index), with the BAST of each handover."""
    return queries.with_bast(session, list(queries.stream(session, queries.Filters(subject_ref=subject_ref), limit)))


def response_made(session: Session, request_id: str, *, now: datetime, who: Who, fmt: str, content: bytes,
                  entries: int, scope: str = "trail-only", complete: bool = False,
                  sources: dict[str, int | None] | None = None) -> str:
    """Record that the response bundle was produced in `fmt` (pdf or json): its SHA-256 (returned) and history,
    with its scope, whether it is complete and the records each source gave (None: not reached); never the
    records themselves."""
    digest = hashlib.sha256(content).hexdigest()
    session.execute(update(subject_requests).where(subject_requests.c.request_id == request_id).values(
        **{f"response_{fmt}_sha256": digest}, response_at=now, updated_at=now))
    record(session, "subject-request", request_id, at=now, change=f"response-{fmt}", who=who,
           detail={"sha256": digest, "entries": entries, "scope": scope, "complete": complete,
                   "sources": sources or {}})
    return digest


def answer(session: Session, request_id: str, *, now: datetime, who: Who, outcome: rules.Outcome, channel: str,
           sent: str, sent_at: datetime, reason: str | None) -> dict[str, Any]:
    """Mark the request answered with what was sent to the person (refused as `rules.check_answer` says)."""
    row = row_of(session, request_id, lock=True)
    rules.check_answer(kind=row["kind"], answered=row["status"] == "answered", routed_org=row["routed_to_org"],
                       caller_org=who[0] or "", outcome=outcome, reason=reason,
                       response_made=bool(row["response_pdf_sha256"] or row["response_json_sha256"]))
    if sent_at > now or sent_at < as_utc(row["received_at"]):
        raise rules.RequestRuleError(M("subject_request.answer_time"), "answer-time", status=422)
    session.execute(update(subject_requests).where(subject_requests.c.request_id == request_id).values(
        status="answered", answered_at=sent_at, answered_by_org=who[0], answered_by=who[1], answer_outcome=outcome,
        answer_channel=channel, answer_sent=sent, answer_reason=reason, updated_at=now))
    record(session, "subject-request", request_id, at=now, change="answered", who=who,
           detail={"outcome": outcome, "channel": channel, "sent_at": sent_at.isoformat(),
                   "late": sent_at > as_utc(row["due_at"]), "response_pdf_sha256": row["response_pdf_sha256"],
                   "response_json_sha256": row["response_json_sha256"]})
    return row_of(session, request_id)
