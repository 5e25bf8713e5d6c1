"""What the witness remembers, in its database: the latest cosigned checkpoint per origin (moved forward by
compare-and-set), the append-only history of cosigned checkpoints, and the append-only alarms."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from p3ke_platform.tlog.note import Checkpoint
from p3ke_witness.adapters.orm import alarms, cosigned, logs
from p3ke_witness.domain.rules import AlarmKind, Known


def known(session: Session, origin: str) -> Known | None:
    row = session.execute(select(logs.c.tree_size, logs.c.root_hash, logs.c.note)
                          .where(logs.c.origin == origin)).first()
    return Known(row.tree_size, bytes(row.root_hash), row.note) if row else None


def cosigned_root_at(session: Session, origin: str, size: int) -> bytes | None:
    root = session.execute(select(cosigned.c.root_hash).where(
        cosigned.c.origin == origin, cosigned.c.tree_size == size)).scalar_one_or_none()
    return bytes(root) if root is not None else None


def cosignature_at(session: Session, origin: str, size: int) -> str | None:
    line: str | None = session.execute(select(cosigned.c.cosignature).where(
        cosigned.c.origin == origin, cosigned.c.tree_size == size)).scalar_one_or_none()
    return line


class _Lost(Exception):
    """Another request moved the state between the check and the update."""


def advance(sessions: sessionmaker[Session], prior: Known | None, checkpoint: Checkpoint, note: str, log_key: str,
            line: str, now: datetime) -> bool:
    """Move the origin's state from `prior` to `checkpoint` and record the cosignature, in one transaction.

    A compare-and-set: the update applies only while the state is still `prior` (same size and root), so of two
    concurrent requests at most one moves it, and none can move it back. False when another request won."""
    origin = checkpoint.origin
    try:
        with sessions() as session, session.begin():
            if prior is None:
                session.execute(insert(logs).values(origin=origin, tree_size=checkpoint.size,
                                                    root_hash=checkpoint.root, note=note, log_key=log_key,
                                                    cosigned_at=now))
            else:
                values: dict[str, Any] = {"cosigned_at": now}
                if checkpoint.size != prior.size:
                    values.update(tree_size=checkpoint.size, root_hash=checkpoint.root, note=note, log_key=log_key)
                moved = session.execute(update(logs).where(
                    logs.c.origin == origin, logs.c.tree_size == prior.size, logs.c.root_hash == prior.root,
                ).values(**values))
                if moved.rowcount != 1:
                    raise _Lost
            seen = session.execute(select(exists().where(
                cosigned.c.origin == origin, cosigned.c.tree_size == checkpoint.size))).scalar()
            if not seen:
                session.execute(insert(cosigned).values(origin=origin, tree_size=checkpoint.size,
                                                        root_hash=checkpoint.root, note=note, cosignature=line,
                                                        cosigned_at=now))
    except (_Lost, IntegrityError):
        return False
    return True


@dataclass(frozen=True)
class AlarmEvidence:
    origin: str
    kind: AlarmKind
    cosigned: Known
    offered: Checkpoint
    offered_note: str
    old_size: int
    proof: list[bytes]
    detail: str


def record_alarm(sessions: sessionmaker[Session], evidence: AlarmEvidence, now: datetime) -> bool:
    """Keep the alarm's evidence (once per conflicting pair of checkpoints); False when it was already kept."""
    e = evidence
    same = and_(alarms.c.origin == e.origin, alarms.c.kind == e.kind, alarms.c.cosigned_size == e.cosigned.size,
                alarms.c.cosigned_root == e.cosigned.root, alarms.c.offered_size == e.offered.size,
                alarms.c.offered_root == e.offered.root)
    with sessions() as session, session.begin():
        if session.execute(select(exists().where(same))).scalar():
            return False
        session.execute(insert(alarms).values(
            origin=e.origin, kind=e.kind, raised_at=now, cosigned_size=e.cosigned.size, cosigned_root=e.cosigned.root,
            cosigned_note=e.cosigned.note, offered_size=e.offered.size, offered_root=e.offered.root,
            offered_note=e.offered_note, old_size=e.old_size,
            proof="".join(base64.b64encode(h).decode() + "\n" for h in e.proof), detail=e.detail))
    return True


def list_alarms(session: Session, *, origin: str | None, kind: str | None, after: int, limit: int) -> list[Any]:
    query = select(alarms).where(alarms.c.id > after).order_by(alarms.c.id).limit(limit)
    if origin:
        query = query.where(alarms.c.origin == origin)
    if kind:
        query = query.where(alarms.c.kind == kind)
    return list(session.execute(query).mappings())


def list_logs(session: Session) -> list[Any]:
    counts = (select(alarms.c.origin, func.count().label("alarms"), func.max(alarms.c.raised_at).label("last_alarm"))
              .group_by(alarms.c.origin).subquery())
    history = (select(cosigned.c.origin, func.count().label("cosigned")).group_by(cosigned.c.origin).subquery())
    query = (select(logs, func.coalesce(counts.c.alarms, 0).label("alarms"), counts.c.last_alarm,
                    func.coalesce(history.c.cosigned, 0).label("cosigned"))
             .outerjoin(counts, counts.c.origin == logs.c.origin)
             .outerjoin(history, history.c.origin == logs.c.origin).order_by(logs.c.origin))
    return list(session.execute(query).mappings())


def alarm_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(alarms.c.origin, func.count()).group_by(alarms.c.origin)).all()
    return {origin: count for origin, count in rows}
