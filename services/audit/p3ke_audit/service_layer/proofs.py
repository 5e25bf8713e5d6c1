"""Proofs and checkpoints read from the database: O(log n) stored hashes per proof."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from p3ke_audit.adapters.orm import checkpoints, entries
from p3ke_audit.adapters.tree_store import StoredCheckpoint, TreeStore
from p3ke_audit.domain.entry import canonical_fields
from p3ke_audit.domain.messages import Explained, M
from p3ke_platform.tlog.merkle import ProofError, consistency_proof, inclusion_proof, root_at


class NotFound(Explained, LookupError):
    """No such entry or checkpoint (yet); its catalogue message says what to ask instead."""


class BadRange(Explained, ProofError):
    """A proof asked for sizes or leaves outside the log; its catalogue message gives the range."""


@dataclass(frozen=True)
class Inclusion:
    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    proof: list[bytes]
    root: bytes
    checkpoint: StoredCheckpoint | None  # the signed head of `tree_size`, when there is one
    entry: dict[str, Any]  # the canonical fields the leaf commits to


def tree_size(session: Session) -> int:
    return TreeStore(session).size()


def latest_checkpoint(session: Session) -> StoredCheckpoint | None:
    return TreeStore(session).last_checkpoint()


def list_checkpoints(session: Session, after: int, limit: int) -> list[StoredCheckpoint]:
    rows = session.execute(select(checkpoints.c.tree_size).where(checkpoints.c.tree_size > after)
                           .order_by(checkpoints.c.tree_size).limit(limit)).scalars().all()
    store = TreeStore(session)
    return [cp for size in rows if (cp := store.checkpoint_at(int(size))) is not None]


def _head(session: Session, size: int | None) -> tuple[int, StoredCheckpoint | None]:
    store = TreeStore(session)
    if size is None:
        last = store.last_checkpoint()
        if last is None:
            raise NotFound(M("checkpoint.none"))
        return last.tree_size, last
    current = store.size()
    if not 0 < size <= current:
        raise BadRange(M("proof.tree_size", size=size, current=current))
    return size, store.checkpoint_at(size)


def inclusion(session: Session, leaf_index: int, size: int | None = None) -> Inclusion:
    """Proof of entry `leaf_index` in the tree of `size` (default: the latest checkpoint's)."""
    row = session.execute(select(entries).where(entries.c.leaf_index == leaf_index)).mappings().first()
    if row is None:
        raise NotFound(M("entry.not_found", leaf=leaf_index))
    size, head = _head(session, size)
    if leaf_index >= size:
        raise NotFound(M("proof.not_yet_checkpointed", leaf=leaf_index, size=size))
    store = TreeStore(session)
    proof = inclusion_proof(leaf_index, size, store.lookup)
    root = head.root_hash if head else root_at(size, store.lookup)
    return Inclusion(leaf_index, size, bytes(row["leaf_hash"]), proof, root, head, canonical_fields(row))


def inclusions(session: Session, leaf_indexes: list[int], size: int) -> dict[int, list[bytes]]:
    store = TreeStore(session)
    return {i: inclusion_proof(i, size, store.lookup) for i in leaf_indexes}


def consistency(session: Session, first: int, second: int) -> list[bytes]:
    current = TreeStore(session).size()
    if not 0 < first <= second <= current:
        raise BadRange(M("proof.consistency_range", first=first, second=second, current=current))
    return consistency_proof(first, second, TreeStore(session).lookup)
