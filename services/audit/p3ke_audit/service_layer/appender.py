"""Appending entries to the tree, a batch per transaction.

The inbox calls the handler once per event inside one transaction per batch. The first call takes
the append lock and loads the tree's right edge (O(log n) rows); each event then gets its leaf
index and hash in memory; just before the transaction (or a savepoint) commits, the batch's
entries, completed subtree hashes and subject references are written whatever the batch's size
with one statement on PostgreSQL (`INSERT ... SELECT * FROM unnest(arrays)` per table, one array
per column, chained as CTEs: see `p3ke_platform.bulk_insert`) or one executemany per table on SQLite,
and a checkpoint is signed if one is due. So the
entries, their place in the tree and the inbox records commit together or not at all, and
concurrent workers append in one total order.

The state lives in `session.info` and is dropped at every commit or rollback (savepoints too); the
next event takes the lock again and reloads the right edge, so it never outlives what it describes.
The right edge is read from the stored hashes every time (never cached across transactions): a
stored hash rewritten since would then make the next checkpoint's consistency check fail, and the
log refuses to sign. So a batch costs, besides the inbox's own statements: the lock, one read of
the tree size and the latest checkpoint, one or two of the right edge, the one INSERT and, when one
is due, the checkpoint.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from p3ke_audit.adapters.keys import Signer
from p3ke_audit.adapters.orm import entries, subject_refs, tree_nodes
from p3ke_audit.adapters.tree_store import TreeStore
from p3ke_audit.config import AuditSettings
from p3ke_audit.domain.entry import FORMAT_COLUMN, FORMAT_VERSION, ORDER, canonical_leaf_input
from p3ke_audit.service_layer.checkpoints import maybe_sign
from p3ke_platform.subject_keys import LEGACY_KEY_ID
from p3ke_platform.tlog.merkle import Frontier, stored_index

_KEY = "p3ke_audit.appender"
_HOOKED = "p3ke_audit.appender_hooked"
ENTRY_COLUMNS = (*ORDER, "leaf_hash")  # every column but the key `seq`
NODE_COLUMNS = ("id", "level", "idx", "hash")
REF_COLUMNS = ("subject_ref", "leaf_index", "key_id")
_SETTABLE = frozenset(ORDER) - {"leaf_index"}
_LEAF_INDEX = ORDER.index("leaf_index")
_FORMAT = ORDER.index(FORMAT_COLUMN)
assert set(ENTRY_COLUMNS) == {c.name for c in entries.columns} - {"seq"}


class Appender:
    def __init__(self, session: Session, settings: AuditSettings, signer_factory: Callable[[], Signer]) -> None:
        self.session = session
        self.settings = settings
        self.signer_factory = signer_factory
        self.store = TreeStore(session)
        self.store.lock()
        size, self.last = self.store.head()
        self.frontier = Frontier.load(size, self.store.lookup)
        self.rows: list[tuple[Any, ...]] = []
        self.nodes: list[tuple[int, int, int, bytes]] = []
        self.refs: list[tuple[str, int, str]] = []

    def add(self, row: dict[str, Any], refs: Iterable[str] = (), key_id: str | None = None) -> int:
        """Give the entry its leaf; it is written at the next flush. Returns its leaf index.

        The entry is written in leaf format `FORMAT_VERSION` (3) unless the row names its `leaf_format`
        (None: derived as before migration 0005, for tests that replay an older log); one with no canonical
        form in its format (format 3 without origin evidence, a lone surrogate) raises EntryFormatError.
        `refs` are indexed under `key_id`, the subject hash key they were computed with (None: k1)."""
        if not row.keys() <= _SETTABLE:
            raise ValueError(f"not settable columns of an entry: {sorted(row.keys() - _SETTABLE)}")
        index = self.frontier.size
        values = [row.get(name) for name in ORDER]
        values[_LEAF_INDEX] = index
        if FORMAT_COLUMN not in row:
            values[_FORMAT] = FORMAT_VERSION
        leaf = hashlib.sha256(canonical_leaf_input(values)).digest()
        values.append(leaf)
        nodes = self.nodes
        for level, idx, h in self.frontier.append(leaf):
            nodes.append((stored_index(level, idx), level, idx, h))
        self.rows.append(tuple(values))
        self.refs.extend((ref, index, key_id or LEGACY_KEY_ID) for ref in sorted(set(refs)))
        return index

    def flush(self) -> None:
        if not self.rows:
            return
        self.store.insert_batch([(entries, ENTRY_COLUMNS, self.rows), (tree_nodes, NODE_COLUMNS, self.nodes),
                                 (subject_refs, REF_COLUMNS, self.refs)])
        self.rows, self.nodes, self.refs = [], [], []
        signed = maybe_sign(self.session, self.store, self.signer_factory, self.settings, self.frontier,
                            last=self.last)
        if signed is not None:
            self.last = signed


def appender_for(session: Session, settings: AuditSettings, signer_factory: Callable[[], Signer]) -> Appender:
    """This transaction's appender (created, with the lock taken, on first use)."""
    current = session.info.get(_KEY)
    if current is None:
        if not session.info.get(_HOOKED):
            event.listen(session, "before_commit", _flush)
            event.listen(session, "after_commit", _drop)
            event.listen(session, "after_soft_rollback", _drop)
            session.info[_HOOKED] = True
        current = session.info[_KEY] = Appender(session, settings, signer_factory)
    return current


def _flush(session: Session) -> None:
    current = session.info.get(_KEY)
    if current is not None:
        current.flush()


def _drop(session: Session, *_: object) -> None:
    session.info.pop(_KEY, None)
