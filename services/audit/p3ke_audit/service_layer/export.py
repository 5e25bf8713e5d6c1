"""Exports: a verifiable bundle (entries + inclusion proofs + checkpoints, cosigned) and CSV.

The bundle's checkpoints carry the witnesses' cosignature lines stored for them (`TreeStore.cosigned_note`),
so its recipient can check them against the witnesses' keys. A tree that lacks a stored hash a proof needs
(a deleted row or node) makes the export fail with `IncompleteTree` (a `NotFound`: the API answers 404)
naming the leaves whose hash is missing, never with a crash.
"""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from p3ke_audit.adapters.orm import checkpoints, entries
from p3ke_audit.adapters.tree_store import MissingNode, StoredCheckpoint, TreeStore
from p3ke_audit.domain.bundle import FORMAT
from p3ke_audit.domain.entry import canonical_fields
from p3ke_audit.domain.messages import M
from p3ke_audit.service_layer.proofs import NotFound
from p3ke_audit.service_layer.queries import Filters
from p3ke_platform.tabular.csv_safe import formula_safe
from p3ke_platform.tlog.merkle import consistency_proof, inclusion_ranges, range_hash, subtrees_of

CHUNK = 500
MAX_EARLIER_CHECKPOINTS = 50
MAX_CONSISTENCY_FROM = 20  # sizes a bundle carries consistency proofs from (`consistency_from`)


class IncompleteTree(NotFound):
    """The stored tree lacks a hash a proof needs: the log was damaged (`p3ke audit verify` locates it)."""


def _b64(hashes: Iterable[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


def build_bundle(session: Session, filters: Filters, *, limit: int, origin: str,
                 consistency_from: Sequence[int] = ()) -> dict[str, Any]:
    """Entries matching `filters` covered by the latest checkpoint, each with its inclusion proof, the
    checkpoints signed in the period with consistency proofs to the latest, every checkpoint with its stored
    cosignatures; and consistency proofs from each size of `consistency_from` up to the latest checkpoint's
    (sizes beyond it are left out: the verifier then reports the log as smaller than that size)."""
    store = TreeStore(session)
    head = store.last_checkpoint()
    if head is None:
        raise NotFound(M("checkpoint.none"))
    try:
        return _bundle(session, store, head, filters, limit=limit, origin=origin,
                       consistency_from=consistency_from)
    except MissingNode as exc:
        raise IncompleteTree(M("export.tree_damaged", node=str(exc))) from None


def _bundle(session: Session, store: TreeStore, head: StoredCheckpoint, filters: Filters, *, limit: int,
            origin: str, consistency_from: Sequence[int]) -> dict[str, Any]:
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

    earlier_q = select(checkpoints).where(checkpoints.c.tree_size < head.tree_size)
    if filters.since:
        earlier_q = earlier_q.where(checkpoints.c.issued_at >= filters.since)
    if filters.until:
        earlier_q = earlier_q.where(checkpoints.c.issued_at < filters.until)
    earlier = [StoredCheckpoint(int(r["tree_size"]), bytes(r["root_hash"]), r["note"], r["key_id"], r["issued_at"])
               for r in session.execute(earlier_q.order_by(checkpoints.c.tree_size.desc())
                                        .limit(MAX_EARLIER_CHECKPOINTS)).mappings()]
    bundle = {
        "format": FORMAT,
        "origin": origin,
        "exported_at": datetime.now(UTC).isoformat(),
        "query": filters.describe(),
        "tree_size": head.tree_size,
        "checkpoint": store.cosigned_note(head),
        "entries": items,
        "checkpoints": [{"note": store.cosigned_note(cp),
                         "consistency_proof": _b64(consistency_proof(cp.tree_size, head.tree_size, store.lookup))}
                        for cp in reversed(earlier)],
    }
    sizes = sorted({size for size in consistency_from if 0 < size <= head.tree_size})[:MAX_CONSISTENCY_FROM]
    if sizes:
        bundle["consistency"] = [{"tree_size": size,
                                  "consistency_proof": _b64(consistency_proof(size, head.tree_size, store.lookup))}
                                 for size in sizes]
    return bundle


CSV_COLUMNS = ("leaf_index", "occurred_at", "service", "actor_org", "actor_subject", "actor_roles", "action",
               "resource_type", "resource_id", "outcome", "program", "agreement_id", "record_count",
               "event_type", "event_id", "recorded_at")


def _cell(value: Any) -> str:
    # a spreadsheet would run a cell starting like a formula: keep it text (the shared OWASP rule)
    return formula_safe("" if value is None else str(value).strip())


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
