"""Appending entries to the tree, a batch per transaction.

The inbox calls the handler once per event inside one transaction per batch. The first call takes
the append lock and loads the tree's right edge (O(log n) rows); each event then gets its leaf
index and hash in memory; just before the transaction (or a savepoint) commits, the batch's
entries, completed subtree hashes and subject references are written with one multi-row INSERT
each, and a checkpoint is signed if one is due. So the entries, their place in the tree and the
inbox records commit together or not at all, and concurrent workers append in one total order.

The state lives in `session.info` and is dropped at every commit or rollback (savepoints too); the
next event takes the lock again and reloads the right edge, so it never outlives what it describes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.orm import Session

from p3ke_audit.adapters.keys import Signer, signer
from p3ke_audit.adapters.orm import entries, subject_refs, tree_nodes
from p3ke_audit.adapters.tree_store import TreeStore
from p3ke_audit.config import AuditSettings
from p3ke_audit.domain.entry import entry_leaf_hash
from p3ke_audit.domain.merkle import Frontier, stored_index
from p3ke_audit.service_layer.checkpoints import maybe_sign

_KEY = "p3ke_audit.appender"
_HOOKED = "p3ke_audit.appender_hooked"
INSERT_ENTRIES = insert(entries)
INSERT_NODES = insert(tree_nodes)
INSERT_REFS = insert(subject_refs)
ROW_TEMPLATE: dict[str, Any] = {c.name: None for c in entries.columns if c.name != "seq"}


class Appender:
    def __init__(self, session: Session, settings: AuditSettings,
                 signer_factory: Callable[[], Signer] | None = None) -> None:
        self.session = session
        self.settings = settings
        self.signer_factory = signer_factory or (lambda: signer(settings))
        self.store = TreeStore(session)
        self.store.lock()
        self.frontier = Frontier.load(self.store.size(), self.store.lookup)
        self.rows: list[dict[str, Any]] = []
        self.nodes: list[dict[str, Any]] = []
        self.refs: list[dict[str, Any]] = []

    def add(self, row: dict[str, Any], refs: Iterable[str] = ()) -> int:
        """Give the entry its leaf; it is written at the next flush. Returns its leaf index."""
        full = {**ROW_TEMPLATE, **row}
        index = full["leaf_index"] = self.frontier.size
        full["leaf_hash"] = leaf = entry_leaf_hash(full)
        for level, idx, h in self.frontier.append(leaf):
            self.nodes.append({"id": stored_index(level, idx), "level": level, "idx": idx, "hash": h})
        self.rows.append(full)
        self.refs.extend({"subject_ref": ref, "leaf_index": index} for ref in sorted(set(refs)))
        return index

    def flush(self) -> None:
        if not self.rows:
            return
        self.session.execute(INSERT_ENTRIES, self.rows)
        if self.nodes:
            self.session.execute(INSERT_NODES, self.nodes)
        if self.refs:
            self.session.execute(INSERT_REFS, self.refs)
        self.rows, self.nodes, self.refs = [], [], []
        maybe_sign(self.session, self.store, self.signer_factory, self.settings, self.frontier)


def appender_for(session: Session, settings: AuditSettings) -> Appender:
    """This transaction's appender (created, with the lock taken, on first use)."""
    current = session.info.get(_KEY)
    if current is None:
        if not session.info.get(_HOOKED):
            event.listen(session, "before_commit", _flush)
            event.listen(session, "after_commit", _drop)
            event.listen(session, "after_soft_rollback", _drop)
            session.info[_HOOKED] = True
        current = session.info[_KEY] = Appender(session, settings)
    return current


def _flush(session: Session) -> None:
    current = session.info.get(_KEY)
    if current is not None:
        current.flush()


def _drop(session: Session, *_: object) -> None:
    session.info.pop(_KEY, None)
