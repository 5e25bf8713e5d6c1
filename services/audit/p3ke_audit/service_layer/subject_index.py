"""The log's subject index across rotations of the subject hash key.

A lookup by NIK searches for the person's reference under every key of the ring (`lookup_refs`) and for every
older reference mapped to one of them (`Filters.where` in queries.py reads `audit_subject_ref_map`). The map is
filled from (old reference, new reference) pairs computed from NIKs elsewhere (`p3ke subject-keys pairs`): the
log never sees a NIK, and the entries and their index rows stay as they were recorded.

A pair is kept only when its old reference is in the index (as recorded, or as the new side of an earlier pair):
references of people the log never named are not collected. Mapping key `b` to `c` after `a` to `b` also maps
each `a` reference straight to its `c` reference, so one step of the map always reaches every older version.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from p3ke_audit.adapters.orm import subject_ref_map, subject_refs
from p3ke_platform.subject_keys import KeyRing

BATCH = 5_000


def lookup_refs(ring: KeyRing, nik: str) -> tuple[str, ...]:
    """The person's reference under every key of the ring: what the index is searched for."""
    return tuple(sorted(set(ring.refs(nik).values())))


@dataclass(frozen=True)
class MapResult:
    pairs_read: int
    mapped: int  # new rows of the map (including the chained ones)
    already: int  # pairs the map held already


def map_refs(session: Session, pairs: Iterable[tuple[str, str]], *, old_key_id: str, new_key_id: str,
             at: datetime) -> MapResult:
    """Add the pairs whose old reference the index knows, with the chain to older versions; idempotent."""
    read = mapped = already = 0
    batch: list[tuple[str, str]] = []
    for pair in pairs:
        read += 1
        batch.append(pair)
        if len(batch) >= BATCH:
            m, a = _map_batch(session, batch, old_key_id, new_key_id, at)
            mapped, already, batch = mapped + m, already + a, []
    if batch:
        m, a = _map_batch(session, batch, old_key_id, new_key_id, at)
        mapped, already = mapped + m, already + a
    return MapResult(pairs_read=read, mapped=mapped, already=already)


def _map_batch(session: Session, batch: list[tuple[str, str]], old_key_id: str, new_key_id: str,
               at: datetime) -> tuple[int, int]:
    new_of = dict(batch)
    olds = list(new_of)
    indexed = set(session.execute(select(subject_refs.c.subject_ref).distinct()
                                  .where(subject_refs.c.subject_ref.in_(olds))).scalars())
    # earlier pairs ending at an old reference of this batch: (older, its key) -> chained to the new reference
    earlier = session.execute(select(subject_ref_map.c.old_ref, subject_ref_map.c.old_key_id, subject_ref_map.c.new_ref)
                              .where(subject_ref_map.c.new_ref.in_(olds))).all()
    known = indexed | {e.new_ref for e in earlier}
    wanted: dict[tuple[str, str], str] = {(old, new_of[old]): old_key_id for old in olds if old in known}
    for e in earlier:
        wanted[(e.old_ref, new_of[e.new_ref])] = e.old_key_id
    if not wanted:
        return 0, 0
    present = set(session.execute(select(subject_ref_map.c.old_ref, subject_ref_map.c.new_ref)
                                  .where(subject_ref_map.c.old_ref.in_({o for o, _ in wanted}))).tuples())
    rows = [{"old_ref": o, "new_ref": n, "old_key_id": k, "new_key_id": new_key_id, "mapped_at": at}
            for (o, n), k in wanted.items() if (o, n) not in present]
    if rows:
        session.execute(insert(subject_ref_map), rows)
    return len(rows), len(wanted) - len(rows)


@dataclass(frozen=True)
class KeyCoverage:
    key_id: str
    refs: int  # distinct references indexed under the key
    unmapped: int  # of them, those no pair maps to a key still in the ring
    in_ring: bool


def coverage(session: Session, ring: KeyRing) -> list[KeyCoverage]:
    """Per key id the index names: its references, and how many only that key can find. A key may leave the ring
    when its `unmapped` is 0 (or the entries naming them are past their retention period)."""
    ids = ring.ids
    mapped = select(subject_ref_map.c.old_ref).where(subject_ref_map.c.new_key_id.in_(ids))
    rows = session.execute(
        select(subject_refs.c.key_id, func.count(subject_refs.c.subject_ref.distinct()),
               func.count(subject_refs.c.subject_ref.distinct()).filter(subject_refs.c.subject_ref.not_in(mapped)))
        .group_by(subject_refs.c.key_id).order_by(subject_refs.c.key_id)).all()
    return [KeyCoverage(key_id=k, refs=int(n), unmapped=int(u), in_ring=k in ids) for k, n, u in rows]
