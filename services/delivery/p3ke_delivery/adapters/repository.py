"""Reading and numbering handovers (the writes that carry a rule live in the service layer)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from p3ke_delivery.adapters.orm import bast_counters, download_links, handovers, signatures


def get_handover(session: Session, handover_id: str) -> RowMapping | None:
    return session.execute(select(handovers).where(handovers.c.handover_id == handover_id)).mappings().first()


def list_handovers(session: Session, status: str | None = None, limit: int = 100,
                   offset: int = 0) -> list[RowMapping]:
    """Newest first, a page at a time."""
    query = (select(handovers).order_by(handovers.c.created_at.desc(), handovers.c.handover_id.desc())
             .limit(limit).offset(offset))
    if status:
        query = query.where(handovers.c.status == status)
    return list(session.execute(query).mappings())


def signatures_of(session: Session, handover_id: str) -> list[RowMapping]:
    return list(session.execute(select(signatures).where(signatures.c.handover_id == handover_id)
                                .order_by(signatures.c.received_at)).mappings())


def links_of(session: Session, handover_id: str) -> list[RowMapping]:
    return list(session.execute(select(download_links).where(download_links.c.handover_id == handover_id)
                                .order_by(download_links.c.issued_at)).mappings())


def handover_by_bast_sha256(session: Session, sha256: str) -> RowMapping | None:
    return session.execute(select(handovers.c.handover_id, handovers.c.bast_number)
                           .where(handovers.c.bast_sha256 == sha256)).mappings().first()


def next_sequence(session: Session, scope: str) -> int:
    """The next number in `scope`, atomically (the row lock serialises concurrent preparers)."""
    for _ in range(3):
        value = session.execute(update(bast_counters).where(bast_counters.c.scope == scope)
                                .values(value=bast_counters.c.value + 1)
                                .returning(bast_counters.c.value)).scalar()
        if value is not None:
            return int(value)
        try:
            with session.begin_nested():
                session.execute(insert(bast_counters).values(scope=scope, value=1))
            return 1
        except IntegrityError:  # another process created the scope first: increment theirs
            continue
    raise RuntimeError(f"could not allocate a number in scope {scope!r}")


def as_dict(row: RowMapping | None) -> dict[str, Any]:
    return dict(row) if row is not None else {}
