"""The Merkle tree in the database: the append lock, the tree size, stored subtree hashes.

Leaves (level 0) are `audit_entries.leaf_hash`; complete perfect subtrees of level >= 1 are rows of
`audit_tree_nodes`. Every read here is an index lookup of O(log n) rows, whatever the log's size.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, literal, select, text, true
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from p3ke_audit.adapters.orm import checkpoints, cosignatures, entries, tree_nodes
from p3ke_platform.bulk_insert import Part, insert_rows
from p3ke_platform.tlog.merkle import Subtree, stored_index
from p3ke_platform.tlog.note import add_signatures

# built once: expanding IN parameters, so a lookup costs no statement construction
_LEAVES = select(entries.c.leaf_index, entries.c.leaf_hash).where(
    entries.c.leaf_index.in_(bindparam("leaves", expanding=True)))
_NODES = select(tree_nodes.c.level, tree_nodes.c.idx, tree_nodes.c.hash).where(
    tree_nodes.c.id.in_(bindparam("ids", expanding=True)))

# pg_advisory_xact_lock key shared by every process appending to this database: "p3keaudt"
APPEND_LOCK_KEY = 0x70336B6561756474


class MissingNode(LookupError):
    """A subtree hash the tree should hold is not stored (a deleted row or node)."""


@dataclass(frozen=True)
class StoredCheckpoint:
    tree_size: int
    root_hash: bytes
    note: str
    key_id: str
    issued_at: datetime


class TreeStore:
    def __init__(self, db: Session | Connection) -> None:
        self.db = db

    @property
    def dialect(self) -> str:
        bind = self.db.get_bind() if isinstance(self.db, Session) else self.db
        return bind.dialect.name

    def lock(self) -> None:
        """Serialise appends until this transaction ends, so leaf indexes form one total order.

        PostgreSQL: a transaction-level advisory lock (released by commit or rollback). SQLite: the
        write lock every transaction already takes at BEGIN IMMEDIATE (see p3ke_platform.db).
        """
        if self.dialect == "postgresql":
            self.db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": APPEND_LOCK_KEY})

    def size(self) -> int:
        top = self.db.execute(select(func.max(entries.c.leaf_index))).scalar()
        return 0 if top is None else int(top) + 1

    def lookup(self, subtrees: Iterable[Subtree]) -> dict[Subtree, bytes]:
        wanted = set(subtrees)
        leaves = [idx for level, idx in wanted if level == 0]
        inner = [(level, idx) for level, idx in wanted if level > 0]
        found: dict[Subtree, bytes] = {}
        if leaves:
            rows = self.db.execute(_LEAVES, {"leaves": leaves})
            found.update({(0, int(i)): bytes(h) for i, h in rows if h is not None})
        if inner:
            rows = self.db.execute(_NODES, {"ids": [stored_index(level, idx) for level, idx in inner]})
            found.update({(int(lv), int(i)): bytes(h) for lv, i, h in rows})
        missing = wanted - found.keys()
        if missing:
            level, idx = min(missing, key=lambda s: s[1] << s[0])
            raise MissingNode(f"the tree lacks the hash of leaves [{idx << level}, {(idx + 1) << level})")
        return found

    def insert_batch(self, parts: Sequence[Part]) -> None:
        """Insert rows into several tables, (table, columns, rows as tuples in `columns` order) each, with one
        statement whatever their number (`p3ke_platform.bulk_insert`)."""
        insert_rows(self.db, parts)

    def head(self) -> tuple[int, StoredCheckpoint | None]:
        """The tree size and the latest checkpoint, in one statement."""
        row = self.db.execute(_HEAD).one()
        top = row[0]
        return (0 if top is None else int(top) + 1), (_checkpoint(row[1:]) if row[1] is not None else None)

    def last_checkpoint(self) -> StoredCheckpoint | None:
        row = self.db.execute(select(checkpoints).order_by(checkpoints.c.tree_size.desc()).limit(1)).first()
        return _checkpoint(row) if row else None

    def checkpoint_at(self, size: int) -> StoredCheckpoint | None:
        row = self.db.execute(select(checkpoints).where(checkpoints.c.tree_size == size)).first()
        return _checkpoint(row) if row else None

    def cosignature_lines(self, size: int) -> list[str]:
        """The witnesses' cosignature lines stored for the checkpoint of `size` (unverified: as received)."""
        rows = self.db.execute(select(cosignatures.c.line).where(cosignatures.c.tree_size == size)
                               .order_by(cosignatures.c.witness, cosignatures.c.key_id))
        return [line for (line,) in rows]

    def cosigned_note(self, checkpoint: StoredCheckpoint) -> str:
        """The checkpoint's note with every stored cosignature line after the log's own signature."""
        lines = self.cosignature_lines(checkpoint.tree_size)
        return add_signatures(checkpoint.note, lines) if lines else checkpoint.note


_LAST = select(checkpoints.c.tree_size, checkpoints.c.root_hash, checkpoints.c.note, checkpoints.c.key_id,
               checkpoints.c.issued_at).order_by(checkpoints.c.tree_size.desc()).limit(1).subquery()
_ONE = select(literal(1).label("one")).subquery()
_HEAD = select(select(func.max(entries.c.leaf_index)).scalar_subquery(), *_LAST.c).select_from(
    _ONE.outerjoin(_LAST, true()))


def _checkpoint(row: Any) -> StoredCheckpoint:
    if hasattr(row, "_mapping"):
        m = row._mapping
        return StoredCheckpoint(int(m["tree_size"]), bytes(m["root_hash"]), m["note"], m["key_id"], m["issued_at"])
    size, root, note, key_id, issued_at = row
    return StoredCheckpoint(int(size), bytes(root), note, key_id, issued_at)
