"""The obligations' tables: one row per obligation, and its append-only history.

Every write that changes an obligation is conditional on what the writer read (`WHERE status = :old`, `WHERE
fulfilled_on IS NULL`), so two processes sweeping at once record each change once; the history row is written
in the same transaction only when the change happened.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from p3ke_audit.adapters.orm import force_majeure, liaison_officers, obligation_history, obligations
from p3ke_audit.domain.obligations import BOTH, NewObligation, Reminder

Row = Mapping[str, Any]


def _insert(session: Session, table: Any) -> Any:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def add_history(session: Session, obligation_id: str, *, at: datetime, change: str, status: str, note: str,
                actor: str | None = None) -> None:
    session.execute(obligation_history.insert().values(obligation_id=obligation_id, at=at, change=change,
                                                       status=status, note=note, actor=actor))


def create(session: Session, ob: NewObligation, *, status: str, now: datetime, actor: str | None = None) -> bool:
    """Store `ob` unless it exists (True: created, with its history's first row)."""
    stmt = _insert(session, obligations).values(
        id=ob.id, kind=ob.kind, article=ob.article, party=ob.party, agreement_id=ob.agreement_id,
        source_type=ob.source_type, source_id=ob.source_id, title=ob.title, start_date=ob.start, due_date=ob.due,
        due_rule=ob.due_rule, reminders=json.dumps([r.as_dict() for r in ob.reminders]) if ob.reminders else None,
        status=status, created_at=now).on_conflict_do_nothing()
    created = bool(session.execute(stmt.returning(obligations.c.id)).all())
    if created:
        add_history(session, ob.id, at=now, change="created", status=status, actor=actor,
                    note=f"dibuat; jatuh tempo {ob.due.isoformat()} / created, due {ob.due.isoformat()}")
    return created


def get(session: Session, obligation_id: str) -> Row | None:
    return session.execute(select(obligations).where(obligations.c.id == obligation_id)).mappings().first()


def history(session: Session, obligation_id: str) -> list[Row]:
    h = obligation_history
    return list(session.execute(select(h).where(h.c.obligation_id == obligation_id).order_by(h.c.id)).mappings())


def reminders_of(row: Row) -> tuple[Reminder, ...]:
    if not row["reminders"]:
        return ()
    return tuple(Reminder(r["days_before_end"], date.fromisoformat(r["on"])) for r in json.loads(row["reminders"]))


def listing(session: Session, *, today: date, due_soon_days: int, status: str | None = None,
            party: str | None = None, kind: str | None = None, source: tuple[str, str] | None = None,
            limit: int = 1000) -> list[Row]:
    """Obligations by due date (then id); `status` as status_on would give it today, `party` an org (its own and
    both parties' obligations) or 'both'."""
    o = obligations
    where = []
    soon = today + timedelta(days=due_soon_days)
    if status == "fulfilled":
        where.append(o.c.fulfilled_on.is_not(None))
    elif status == "overdue":
        where += [o.c.fulfilled_on.is_(None), o.c.due_date < today]
    elif status == "due-soon":
        where += [o.c.fulfilled_on.is_(None), o.c.due_date >= today, o.c.due_date <= soon]
    elif status == "open":
        where += [o.c.fulfilled_on.is_(None), o.c.due_date > soon]
    elif status == "unfulfilled":
        where.append(o.c.fulfilled_on.is_(None))
    if party is not None:
        where.append(o.c.party == BOTH if party == BOTH else o.c.party.in_((party, BOTH)))
    if kind is not None:
        where.append(o.c.kind == kind)
    if source is not None:
        where += [o.c.source_type == source[0], o.c.source_id == source[1]]
    stmt = select(o).where(*where).order_by(o.c.due_date, o.c.id).limit(limit)
    return list(session.execute(stmt).mappings())


def set_status(session: Session, row: Row, new: str, *, now: datetime, note: str) -> bool:
    """Record `row`'s status change to `new` (False: another process recorded a change first)."""
    done = session.execute(update(obligations).where(obligations.c.id == row["id"],
                                                     obligations.c.status == row["status"]).values(status=new))
    if done.rowcount != 1:
        return False
    add_history(session, row["id"], at=now, change="status", status=new, note=note)
    return True


def set_reminded(session: Session, row: Row, reminder: Reminder, *, now: datetime, status: str) -> bool:
    """Record that `reminder` appeared (once, even with two sweeping processes)."""
    o = obligations
    old = row["reminded_days"]
    same = o.c.reminded_days.is_(None) if old is None else o.c.reminded_days == old
    done = session.execute(update(o).where(o.c.id == row["id"], same).values(reminded_days=reminder.days_before_end))
    if done.rowcount != 1:
        return False
    add_history(session, row["id"], at=now, change=reminder.code, status=status,
                note=f"pengingat: {reminder.days_before_end} hari sebelum perjanjian berakhir; pemberitahuan tertulis "
                     f"jatuh tempo {row['due_date'].isoformat()} / reminder: {reminder.days_before_end} days before "
                     f"the agreement ends")
    return True


def set_due(session: Session, row: Row, ob: NewObligation, *, now: datetime, status: str) -> bool:
    """Move `row`'s start and due date to `ob`'s (a handover's BAST arrived after its feedback, a term ended
    early)."""
    if (row["start_date"], row["due_date"]) == (ob.start, ob.due):
        return False
    session.execute(update(obligations).where(obligations.c.id == row["id"]).values(
        start_date=ob.start, due_date=ob.due, due_rule=ob.due_rule, title=ob.title))
    add_history(session, row["id"], at=now, change="due-changed", status=status,
                note=f"jatuh tempo {row['due_date'].isoformat()} -> {ob.due.isoformat()}: {ob.due_rule}")
    return True


def fulfil(session: Session, obligation_id: str, *, on: date, evidence_kind: str, reference: str,
           sha256: str | None, actor: str | None, now: datetime, note: str) -> bool:
    """Record the evidence that fulfils an obligation (False: it was fulfilled already)."""
    o = obligations
    done = session.execute(update(o).where(o.c.id == obligation_id, o.c.fulfilled_on.is_(None)).values(
        fulfilled_on=on, fulfilled_at=now, evidence_kind=evidence_kind, evidence_ref=reference,
        evidence_sha256=sha256, fulfilled_by=actor, status="fulfilled"))
    if done.rowcount != 1:
        return False
    add_history(session, obligation_id, at=now, change="fulfilled", status="fulfilled", actor=actor, note=note)
    return True


# -- liaison officers (Art. 13) and force majeure (Art. 12): append-only --------------------------------------

def add_officer(session: Session, values: dict[str, Any]) -> int:
    stmt = liaison_officers.insert().values(**values).returning(liaison_officers.c.id)
    return int(session.execute(stmt).scalar_one())


def officers(session: Session, org: str | None = None) -> list[Row]:
    lo = liaison_officers
    stmt = select(lo).order_by(lo.c.org, lo.c.effective_from, lo.c.id)
    if org is not None:
        stmt = stmt.where(lo.c.org == org)
    return list(session.execute(stmt).mappings())


def current_officers(rows: Sequence[Row], today: date) -> dict[str, Row]:
    """The officer in effect on `today` per org: the latest row (by effective day, then record) in effect."""
    current: dict[str, Row] = {}
    for row in rows:  # ordered by org, effective_from, id
        if row["effective_from"] <= today:
            current[row["org"]] = row
    return current


def add_force_majeure(session: Session, values: dict[str, Any]) -> None:
    session.execute(force_majeure.insert().values(**values))


def get_force_majeure(session: Session, fm_id: str) -> Row | None:
    return session.execute(select(force_majeure).where(force_majeure.c.id == fm_id)).mappings().first()
