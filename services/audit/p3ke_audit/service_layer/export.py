"""Exports: a verifiable bundle (entries + inclusion proofs + checkpoints) and CSV."""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from p3ke_audit.adapters.orm import checkpoints, entries
from p3ke_audit.adapters.tree_store import TreeStore
from p3ke_audit.domain.bundle import FORMAT
from p3ke_audit.domain.entry import canonical_fields
from p3ke_audit.service_layer.proofs import NotFound
from p3ke_audit.service_layer.queries import Filters
from p3ke_platform.tlog.merkle import consistency_proof, inclusion_ranges, range_hash, subtrees_of

CHUNK = 500
MAX_EARLIER_CHECKPOINTS = 50


def _b64(hashes: Iterable[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


def build_bundle(session: Session, filters: Filters, *, limit: int, origin: str) -> dict[str, Any]:
    """Entries matching `filters` covered by the latest checkpoint, each with its inclusion proof,
    and the checkpoints signed in the period with consistency proofs to the latest."""
    store = TreeStore(session)
    head = store.last_checkpoint()
    if head is None:
        raise NotFound("no checkpoint has been signed yet")
    query = (select(entries).where(entries.c.leaf_index < head.tree_size, *filters.where())
             .order_by(entries.c.leaf_index).limit(limit))
    rows = [dict(r) for r in session.execute(query).mappings()]
    items: list[dict[str, Any]] = []
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        paths = {r["leaf_index"]: inclusion_ranges(r["leaf_index"], head.tree_size) for r in chunk}
        stored = store.lookup(subtrees_of(rng for ranges in paths.values() for rng in ranges))
        for r in chunk:
            proof = [range_hash(lo, hi, stored) for lo, hi in paths[r["leaf_index"]]]
            items.append({"entry": canonical_fields(r), "inclusion_proof": _b64(proof)})

    earlier_q = select(checkpoints.c.tree_size, checkpoints.c.note).where(checkpoints.c.tree_size < head.tree_size)
    if filters.since:
        earlier_q = earlier_q.where(checkpoints.c.issued_at >= filters.since)
    if filters.until:
        earlier_q = earlier_q.where(checkpoints.c.issued_at < filters.until)
    earlier = session.execute(earlier_q.order_by(checkpoints.c.tree_size.desc())
                              .limit(MAX_EARLIER_CHECKPOINTS)).all()
    return {
        "format": FORMAT,
        "origin": origin,
        "exported_at": datetime.now(UTC).isoformat(),
        "query": filters.describe(),
        "tree_size": head.tree_size,
        "checkpoint": head.note,
        "entries": items,
        "checkpoints": [{"note": note, "consistency_proof": _b64(consistency_proof(int(size), head.tree_size,
                                                                                  store.lookup))}
                        for size, note in reversed(earlier)],
    }


CSV_COLUMNS = ("leaf_index", "occurred_at", "service", "actor_org", "actor_subject", "actor_roles", "action",
               "resource_type", "resource_id", "outcome", "program", "agreement_id", "record_count",
               "event_type", "event_id", "recorded_at")


def _cell(value: Any) -> str:
    text = "" if value is None else str(value).strip()
    # a spreadsheet would run a cell starting like a formula: keep it text
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def csv_lines(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        fields = canonical_fields(row)
        writer.writerow([_cell(fields[c]) for c in CSV_COLUMNS])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
