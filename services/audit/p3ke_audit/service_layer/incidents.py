"""The incident register (UU PDP Art. 46): open, learn more, record the notices sent, close; the legal holds an
open incident puts on the data it names; and the status the clock gives it.

Every change is written with its history row in one transaction (the caller's session). Data subjects are named
by their keyed references only (`HMAC-SHA256(P3KE_SUBJECT_HASH_KEY, NIK)`, as the log's subject index holds them).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, insert, select, update
from sqlalchemy.orm import Session

from p3ke_audit.adapters.orm import incident_evidence, incident_notices, incidents, legal_holds
from p3ke_audit.domain import incidents as rules
from p3ke_audit.service_layer import notifications
from p3ke_audit.service_layer.case_history import SERVICE, Who, as_utc, history_of, record, to_json
from p3ke_platform.ids import random_id


class NotFound(LookupError):
    """No incident has that id."""


@dataclass(frozen=True)
class Known:
    """What is known of an incident: kinds of personal data, how many subjects and which (by keyed reference),
    and the resources concerned (each put under a legal hold while the incident is open)."""

    description: str | None = None
    data_kinds: Sequence[str] = ()
    subject_count: int | None = None
    subject_refs: Sequence[str] = ()
    resources: Sequence[tuple[str, str]] = field(default_factory=tuple)


def _hold(session: Session, incident_id: str, now: datetime, *, refs: Iterable[str] = (),
          resources: Iterable[tuple[str, str]] = ()) -> int:
    rows = [{"incident_id": incident_id, "resource_type": t, "resource_id": i, "subject_ref": None, "since": now}
            for t, i in resources]
    rows += [{"incident_id": incident_id, "resource_type": None, "resource_id": None, "subject_ref": r,
              "since": now} for r in refs]
    if rows:
        session.execute(insert(legal_holds), rows)
    return len(rows)


def open_incident(session: Session, *, now: datetime, who: Who, source: rules.Source, title: str,
                  discovered_at: datetime, known: Known, source_key: str | None = None) -> str:
    """A new incident, its history row, the legal holds on what it names and its announcement (published and
    emailed by notifications.dispatch once committed); its id."""
    rules.check_not_future(discovered_at, now, "discovered_at")
    incident_id = random_id("inc")
    refs = sorted(set(known.subject_refs))
    resources = sorted(set(known.resources))
    session.execute(insert(incidents).values(
        incident_id=incident_id, source=source, source_key=source_key, title=title[:300],
        description=known.description or "", status="open", discovered_at=discovered_at,
        due_at=rules.due_at(discovered_at), opened_at=now, opened_by_org=who[0], opened_by=who[1],
        data_kinds=to_json(sorted(set(known.data_kinds))), subject_count=known.subject_count,
        subject_refs=to_json(refs), resources=to_json([list(r) for r in resources]), updated_at=now))
    held = _hold(session, incident_id, now, refs=refs, resources=resources)
    record(session, "incident", incident_id, at=now, change="opened", who=who,
           detail={"source": source, "source_key": source_key, "discovered_at": discovered_at.isoformat(),
                   "due_at": rules.due_at(discovered_at).isoformat(), "data_kinds": sorted(set(known.data_kinds)),
                   "subject_count": known.subject_count, "subject_refs": len(refs),
                   "resources": [list(r) for r in resources], "holds": held})
    notifications.incident_opened(session, incident_id=incident_id, source=source,
                                  discovered_at=discovered_at, due_at=rules.due_at(discovered_at),
                                  data_kinds=sorted(set(known.data_kinds)), subject_count=known.subject_count,
                                  resource_count=len(resources), now=now)
    return incident_id


def _row(session: Session, incident_id: str, *, lock: bool = False) -> dict[str, Any]:
    query = select(incidents).where(incidents.c.incident_id == incident_id)
    row = session.execute(query.with_for_update() if lock else query).mappings().first()
    if row is None:
        raise NotFound(incident_id)
    return dict(row)


def learn(session: Session, incident_id: str, *, now: datetime, who: Who, known: Known) -> None:
    """Add what was learnt to an open incident (kinds, subjects and resources are added to; the count and the
    description replaced when given); new subjects and resources are held."""
    row = _row(session, incident_id, lock=True)
    rules.check_open(row["status"] == "closed")
    kinds, refs = set(json.loads(row["data_kinds"])), set(json.loads(row["subject_refs"]))
    resources = {tuple(r) for r in json.loads(row["resources"])}
    new_refs, new_resources = set(known.subject_refs) - refs, set(known.resources) - resources
    values: dict[str, Any] = {"data_kinds": to_json(sorted(kinds | set(known.data_kinds))),
                              "subject_refs": to_json(sorted(refs | new_refs)),
                              "resources": to_json([list(r) for r in sorted(resources | new_resources)]),
                              "updated_at": now}
    if known.subject_count is not None:
        values["subject_count"] = known.subject_count
    if known.description is not None:
        values["description"] = known.description
    session.execute(update(incidents).where(incidents.c.incident_id == incident_id).values(**values))
    held = _hold(session, incident_id, now, refs=sorted(new_refs), resources=sorted(new_resources))
    record(session, "incident", incident_id, at=now, change="facts", who=who,
           detail={"data_kinds_added": sorted(set(known.data_kinds) - kinds), "subject_count": known.subject_count,
                   "subject_refs_added": len(new_refs), "resources_added": [list(r) for r in sorted(new_resources)],
                   "description_changed": known.description is not None, "holds": held})


def attach_evidence(session: Session, now: datetime, *, kind: str, entry_key: str, leaf_index: int | None,
                    source: rules.Source, source_key: str, title: str, discovered_at: datetime,
                    known: Known) -> str | None:
    """Attach one piece of evidence of an automatic incident (`kind`, `entry_key`: once ever, the key of
    audit_incident_evidence) to the open incident of its `source_key`, else to a new incident (its id returned).
    A piece seen before is ignored: however often a scan runs, an alarm opens at most one incident."""
    entry_key = entry_key[:200]
    if session.scalar(select(exists().where(incident_evidence.c.kind == kind,
                                            incident_evidence.c.entry_key == entry_key))):
        return None
    current = session.scalar(select(incidents.c.incident_id).where(incidents.c.source_key == source_key,
                                                                   incidents.c.status != "closed"))
    opened = None
    if current is None:
        current = opened = open_incident(session, now=now, who=SERVICE, source=source, title=title,
                                         discovered_at=min(discovered_at, now), known=known, source_key=source_key)
    else:
        learn(session, current, now=now, who=SERVICE,
              known=Known(subject_refs=known.subject_refs, resources=known.resources))
    session.execute(insert(incident_evidence).values(kind=kind, entry_key=entry_key, incident_id=current,
                                                     leaf_index=leaf_index, added_at=now))
    if opened is None:
        record(session, "incident", current, at=now, change="evidence", who=SERVICE,
               detail={"kind": kind, "entry_key": entry_key, "leaf_index": leaf_index})
    return opened


def _sent(session: Session, incident_id: str) -> dict[str, datetime]:
    """Each recipient's first notice time."""
    rows = session.execute(select(incident_notices.c.recipient, func.min(incident_notices.c.sent_at))
                           .where(incident_notices.c.incident_id == incident_id)
                           .group_by(incident_notices.c.recipient))
    return {recipient: as_utc(at) for recipient, at in rows}


def add_notice(session: Session, incident_id: str, *, now: datetime, who: Who, recipient: rules.Recipient,
               sent_at: datetime, channel: str, reference: str, summary: str, addressee: str | None) -> None:
    """Record a notice sent; an overdue incident whose notices are now complete is open again (the late notices
    stay visible: `notices_late`)."""
    row = _row(session, incident_id, lock=True)
    rules.check_open(row["status"] == "closed")
    rules.check_not_future(sent_at, now, "sent_at")
    session.execute(insert(incident_notices).values(
        incident_id=incident_id, recipient=recipient, sent_at=sent_at, channel=channel, reference=reference,
        addressee=addressee, summary=summary, recorded_at=now, recorded_by_org=who[0] or "", recorded_by=who[1] or ""))
    due = as_utc(row["due_at"])
    record(session, "incident", incident_id, at=now, change="notice", who=who,
           detail={"recipient": recipient, "sent_at": sent_at.isoformat(), "channel": channel,
                   "reference": reference, "late": sent_at > due})
    if row["status"] == "notices-overdue" and not rules.missing_notices(_sent(session, incident_id)):
        session.execute(update(incidents).where(incidents.c.incident_id == incident_id)
                        .values(status="open", updated_at=now))
        record(session, "incident", incident_id, at=now, change="notices-complete", who=who,
               detail={"late": rules.late_notices(_sent(session, incident_id), due)})


def close(session: Session, incident_id: str, *, now: datetime, who: Who, summary: str,
          breach_confirmed: bool) -> int:
    """Close the incident (refused while a required notice is missing) and release its holds; the holds released."""
    row = _row(session, incident_id, lock=True)
    rules.check_closure(closed=row["status"] == "closed", sent=_sent(session, incident_id),
                        breach_confirmed=breach_confirmed, summary=summary)
    session.execute(update(incidents).where(incidents.c.incident_id == incident_id).values(
        status="closed", closed_at=now, closed_by_org=who[0], closed_by=who[1], closure_summary=summary,
        breach_confirmed=breach_confirmed, updated_at=now))
    released = session.execute(update(legal_holds).where(legal_holds.c.incident_id == incident_id,
                                                         legal_holds.c.released_at.is_(None))
                               .values(released_at=now)).rowcount
    record(session, "incident", incident_id, at=now, change="closed", who=who,
           detail={"breach_confirmed": breach_confirmed, "holds_released": released,
                   "within_deadline": now <= as_utc(row["due_at"])})
    return int(released or 0)


def mark_overdue(session: Session, now: datetime) -> list[str]:
    """Open incidents whose 72 hours have passed with a required notice missing become `notices-overdue` (with
    a history row, once); their ids."""
    due = session.execute(select(incidents.c.incident_id).where(incidents.c.status == "open",
                                                                incidents.c.due_at <= now)).scalars().all()
    marked = []
    for incident_id in due:
        missing = rules.missing_notices(_sent(session, incident_id))
        if missing and session.execute(update(incidents).where(incidents.c.incident_id == incident_id,
                                                               incidents.c.status == "open")
                                       .values(status="notices-overdue", updated_at=now)).rowcount:
            record(session, "incident", incident_id, at=now, change="notices-overdue", who=SERVICE,
                   detail={"missing": missing})
            marked.append(incident_id)
    return marked


def summary_of(session: Session, row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """An incident as the API shows it in a list: the clock, the notices missing or late, the holds."""
    sent = _sent(session, row["incident_id"])
    due, closed = as_utc(row["due_at"]), row["status"] == "closed"
    missing = rules.missing_notices(sent, row["breach_confirmed"] is not False)
    holds = session.scalar(select(func.count()).select_from(legal_holds).where(
        legal_holds.c.incident_id == row["incident_id"], legal_holds.c.released_at.is_(None)))
    return {**{k: row[k] for k in ("incident_id", "source", "source_key", "title", "description", "subject_count",
                                   "breach_confirmed", "closure_summary", "opened_by_org", "opened_by",
                                   "closed_by_org", "closed_by")},
            "status": rules.status_at(closed=closed, due=due, missing=missing, now=now),
            "discovered_at": as_utc(row["discovered_at"]), "due_at": due, "opened_at": as_utc(row["opened_at"]),
            "closed_at": as_utc(row["closed_at"]) if row["closed_at"] else None,
            "hours_left": None if closed else round((due - now).total_seconds() / 3600, 2),
            "data_kinds": json.loads(row["data_kinds"]), "subject_refs": json.loads(row["subject_refs"]),
            "resources": [{"resource_type": t, "resource_id": i} for t, i in json.loads(row["resources"])],
            "notices_missing": [] if closed else missing, "notices_late": rules.late_notices(sent, due),
            "active_holds": int(holds or 0)}


def view(session: Session, incident_id: str, now: datetime) -> dict[str, Any]:
    """One incident with its notices, evidence and history."""
    out = summary_of(session, _row(session, incident_id), now)
    notices = session.execute(select(incident_notices).where(incident_notices.c.incident_id == incident_id)
                              .order_by(incident_notices.c.id)).mappings()
    out["notices"] = [{**{k: n[k] for k in ("recipient", "channel", "reference", "addressee", "summary",
                                            "recorded_by_org", "recorded_by")},
                       "sent_at": as_utc(n["sent_at"]), "recorded_at": as_utc(n["recorded_at"])} for n in notices]
    evidence = session.execute(select(incident_evidence).where(incident_evidence.c.incident_id == incident_id)
                               .order_by(incident_evidence.c.added_at, incident_evidence.c.entry_key)).mappings()
    out["evidence"] = [{"kind": e["kind"], "entry_key": e["entry_key"], "leaf_index": e["leaf_index"],
                        "added_at": as_utc(e["added_at"])} for e in evidence]
    out["history"] = history_of(session, "incident", incident_id)
    return out


def listing(session: Session, now: datetime, *, status: str | None, after: str | None,
            limit: int) -> list[dict[str, Any]]:
    """Incidents by id (keyset pages), optionally of one status (as of `now`, after `mark_overdue`)."""
    query = select(incidents).order_by(incidents.c.incident_id).limit(limit)
    if after:
        query = query.where(incidents.c.incident_id > after)
    if status:
        query = query.where(incidents.c.status == status)
    return [summary_of(session, dict(r), now) for r in session.execute(query).mappings()]


def holds(session: Session, *, active: bool, resource_type: str | None, resource_id: str | None,
          subject_ref: str | None, after: int, limit: int) -> list[dict[str, Any]]:
    """Legal holds (keyset pages by id): what an open incident keeps from disposal."""
    c = legal_holds.c
    query = select(legal_holds).where(c.id > after).order_by(c.id).limit(limit)
    if active:
        query = query.where(c.released_at.is_(None))
    for column, value in ((c.resource_type, resource_type), (c.resource_id, resource_id),
                          (c.subject_ref, subject_ref)):
        if value:
            query = query.where(column == value)
    return [{**dict(r), "since": as_utc(r["since"]),
             "released_at": as_utc(r["released_at"]) if r["released_at"] else None}
            for r in session.execute(query).mappings()]
