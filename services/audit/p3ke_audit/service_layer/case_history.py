"""The append-only history of the compliance desk's cases (incidents and data-subject requests): one row per
change, written in the transaction that makes the change. The table refuses UPDATE and DELETE (migration 0007)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from p3ke_audit.adapters.orm import case_history

CaseType = Literal["incident", "subject-request", "calendar-feed"]
Who = tuple[str | None, str | None]
"""(org, subject) of the person who made a change; (None, None): the service itself (a scan, the clock)."""
SERVICE: Who = (None, None)


def as_utc(value: datetime) -> datetime:
    """An instant read back from the database (SQLite keeps no zone: its instants are UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def record(session: Session, case_type: CaseType, case_id: str, *, at: datetime, change: str, who: Who,
           detail: dict[str, Any]) -> None:
    session.execute(insert(case_history).values(case_type=case_type, case_id=case_id, at=at, change=change,
                                                actor_org=who[0], actor=who[1], detail=to_json(detail)))


def history_of(session: Session, case_type: CaseType, case_id: str) -> list[dict[str, Any]]:
    rows = session.execute(select(case_history).where(case_history.c.case_type == case_type,
                                                      case_history.c.case_id == case_id)
                           .order_by(case_history.c.id)).mappings()
    return [{"at": as_utc(r["at"]), "change": r["change"], "actor_org": r["actor_org"], "actor": r["actor"],
             "detail": json.loads(r["detail"])} for r in rows]
