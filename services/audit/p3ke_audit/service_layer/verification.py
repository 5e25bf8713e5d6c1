"""`p3ke audit verify`: re-derive the whole tree from the stored entries and compare.

One pass in leaf order, in pages of 2**14 leaves aligned on the tree (each full page is one perfect
subtree): each entry's leaf is recomputed from its canonical form and compared with the stored leaf
hash; every subtree hash the rebuild completes is compared with the stored node; at every
checkpoint size the rebuilt root is compared with the root the checkpoint's signature covers. The
first difference names the entry (or the smallest range of entries) that no longer matches, and the
walk stops there. Then: checkpoints whose signature does not verify, rows outside the tree, and a
log shorter than its latest checkpoint.

A page is first checked wholesale: the leaf hashes computed in one comprehension and compared as a
list, the page's subtrees hashed level by level (`hashlib`, no per-leaf frontier) and compared as a
dict with the stored nodes of the page (one range of storage positions), the roots at the page's
checkpoint sizes folded from those. Only a page where something differs is walked again leaf by
leaf (`_walk`), which is what finds and names the first difference.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import Connection, Engine

from p3ke_audit.adapters.orm import checkpoints, entries, tree_nodes, verifications
from p3ke_audit.domain.checkpoint import CheckpointError, open_note
from p3ke_audit.domain.entry import ORDER, canonical_values, entry_leaf_hash
from p3ke_audit.domain.merkle import LEAF_PREFIX, NODE_PREFIX, Frontier, fold, perfect_subtrees, stored_count

PAGE_LEVEL = 14
PAGE = 1 << PAGE_LEVEL  # leaves per page: a full page is the perfect subtree (PAGE_LEVEL, lo >> PAGE_LEVEL)
MAX_PROBLEMS = 20


@dataclass
class VerifyReport:
    tree_size: int = 0
    entries_checked: int = 0
    checkpoints_checked: int = 0
    latest_checkpoint: int | None = None
    first_bad_leaf: int | None = None
    last_bad_leaf: int | None = None  # with first_bad_leaf: the smallest range known to hold the damage
    problems: list[str] = field(default_factory=list)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, message: str, leaf: int | None = None, last: int | None = None) -> None:
        if leaf is not None and (self.first_bad_leaf is None or leaf < self.first_bad_leaf):
            self.first_bad_leaf, self.last_bad_leaf = leaf, leaf if last is None else last
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(message)

    def summary(self) -> str:
        if self.ok:
            return (f"ok: {self.entries_checked} entries, {self.checkpoints_checked} checkpoints verified "
                    f"(tree size {self.tree_size}) in {self.seconds:.2f}s")
        where = ""
        if self.first_bad_leaf is not None:
            where = f"; first entry that does not match: leaf {self.first_bad_leaf}"
            if self.last_bad_leaf != self.first_bad_leaf:
                where += f" (somewhere in leaves {self.first_bad_leaf}..{self.last_bad_leaf})"
        return f"FAILED{where}: " + " | ".join(self.problems)


def _nodes_completed_in(conn: Connection, lo: int, hi: int) -> dict[tuple[int, int], bytes]:
    """Stored nodes (level >= 1) that the rebuild completes while adding leaves lo..hi-1: one range
    of storage positions, since nodes are keyed in completion order."""
    rows = conn.execute(select(tree_nodes.c.level, tree_nodes.c.idx, tree_nodes.c.hash)
                        .where(tree_nodes.c.id >= stored_count(lo), tree_nodes.c.id < stored_count(hi)))
    return {(int(lv), int(i)): bytes(h) for lv, i, h in rows}


def verify_log(engine: Engine, name: str, public_key: Ed25519PublicKey, *,
               progress: Callable[[int], None] | None = None) -> VerifyReport:
    report = VerifyReport()
    started = time.perf_counter()
    with engine.connect() as conn:
        size_now = conn.execute(select(func.max(entries.c.leaf_index))).scalar()
        size_now = 0 if size_now is None else int(size_now) + 1

        signed: dict[int, bytes] = {}
        for row in conn.execute(select(checkpoints).order_by(checkpoints.c.tree_size)).mappings():
            size = int(row["tree_size"])
            try:
                cp = open_note(row["note"], name, public_key)
                if cp.origin != name or cp.size != size or cp.root != bytes(row["root_hash"]):
                    raise CheckpointError("its columns differ from the signed note")
            except CheckpointError as exc:
                report.fail(f"checkpoint at size {size} is not one the log signed: {exc}")
                continue
            signed[size] = cp.root
        report.latest_checkpoint = max(signed, default=None)

        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL TIME ZONE 'UTC'"))  # instants arrive in UTC: no conversion per entry
        walk = _Walk(conn, report, signed, size_now)
        while not walk.stop and walk.frontier.size < size_now:
            lo = walk.frontier.size
            hi = min(lo + PAGE, size_now)
            if not walk.page_matches(lo, hi):
                walk.walk(lo)  # names the first difference (or finds none after all and goes on)
            if progress:
                progress(report.entries_checked)
        report.tree_size = size_now

        if report.latest_checkpoint is not None and size_now < report.latest_checkpoint:
            report.fail(f"the log holds {size_now} entries but checkpoint {report.latest_checkpoint} was signed "
                        f"over {report.latest_checkpoint}: entries from leaf {size_now} on are missing (truncated?)",
                        size_now, report.latest_checkpoint - 1)
        outside = conn.execute(select(func.count(), func.min(entries.c.seq))
                               .where(entries.c.leaf_index.is_(None))).one()
        if outside[0]:
            report.fail(f"{outside[0]} row(s) are not in the tree (first seq {outside[1]}): written around the "
                        "appender")
    report.seconds = time.perf_counter() - started
    return report


_FAST_COLUMNS = (entries.c.leaf_hash, *(entries.c[name] for name in ORDER))
_LEAF = ORDER.index("leaf_index") + 1  # position in a _FAST_COLUMNS row


class _Walk:
    """The rebuild's state between pages: the frontier at the next leaf to check, and the report."""

    def __init__(self, conn: Connection, report: VerifyReport, signed: dict[int, bytes], size_now: int) -> None:
        self.conn = conn
        self.report = report
        self.signed = signed
        self.size_now = size_now
        self.frontier = Frontier()
        self.last_good_checkpoint = 0
        self.stop = False

    def page_matches(self, lo: int, hi: int) -> bool:
        """Check leaves [lo, hi) wholesale (lo is a multiple of PAGE); advance and return True if all match."""
        rows: Sequence[Any] = self.conn.execute(
            select(*_FAST_COLUMNS).where(entries.c.leaf_index >= lo, entries.c.leaf_index < hi)
            .order_by(entries.c.leaf_index)).all()
        if len(rows) != hi - lo or rows[0][_LEAF] != lo or rows[-1][_LEAF] != hi - 1:
            return False  # a gap (leaf_index is unique: first, last and count pin the rest)
        sha256 = hashlib.sha256
        leaves = [sha256(LEAF_PREFIX + canonical_values(r[1:])).digest() for r in rows]
        if leaves != [r[0] for r in rows]:
            return False
        # the page's subtrees, level by level; `lo` is aligned, so pairs never straddle the page's start
        computed: dict[tuple[int, int], bytes] = {}
        level, current = 0, leaves
        by_level = [leaves]
        while len(current) > 1:
            level += 1
            current = [sha256(NODE_PREFIX + a + b).digest()
                       for a, b in zip(current[::2], current[1::2], strict=False)]
            by_level.append(current)
            first = lo >> level
            computed.update(zip([(level, i) for i in range(first, first + len(current))], current, strict=True))
        upper = self.frontier.copy()
        if hi - lo == PAGE:  # a full page closes its perfect subtree, and maybe larger ones above it
            upper = Frontier(lo >> PAGE_LEVEL, list(self.frontier.hashes))
            for up, idx, h in upper.append(by_level[PAGE_LEVEL][0]):
                computed[(PAGE_LEVEL + up, idx)] = h
        if computed != _nodes_completed_in(self.conn, lo, hi):
            return False
        checked = []
        for size in sorted(s for s in self.signed if lo < s <= hi):
            parts = [by_level[lv][idx - (lo >> lv)] for lv, idx in perfect_subtrees(lo, size)]
            if fold([*self.frontier.hashes, *parts]) != self.signed[size]:
                return False
            checked.append(size)
        # all of it matches: count it and move the frontier to hi
        if hi - lo == PAGE:
            self.frontier = Frontier(hi, upper.hashes)
        else:
            tail = [by_level[lv][idx - (lo >> lv)] for lv, idx in perfect_subtrees(lo, hi)]
            self.frontier = Frontier(hi, [*self.frontier.hashes, *tail])
        self.report.entries_checked += hi - lo
        self.report.checkpoints_checked += len(checked)
        if checked:
            self.last_good_checkpoint = checked[-1]
        return True

    def walk(self, lo: int) -> None:
        """Leaf by leaf from `lo`, one page: stop at (and report) the first entry or node that differs."""
        report, frontier, signed = self.report, self.frontier, self.signed
        expected = lo
        result = self.conn.execute(select(entries).where(entries.c.leaf_index >= expected)
                                   .where(entries.c.leaf_index < self.size_now)
                                   .order_by(entries.c.leaf_index).limit(PAGE))
        names = list(result.keys())
        page = [dict(zip(names, values, strict=True)) for values in result]  # plain dicts: fast .get
        if not page:
            self.stop = True
            return
        hi = int(page[-1]["leaf_index"]) + 1
        nodes = _nodes_completed_in(self.conn, expected, hi)
        stop = False
        for row in page:
            index = int(row["leaf_index"])
            if index != expected:
                report.fail(f"entry at leaf {expected} is missing (deleted?); the next stored is leaf {index}",
                            expected)
                stop = True
                break
            leaf = entry_leaf_hash(row)
            stored = row["leaf_hash"]
            if stored is None or bytes(stored) != leaf:
                report.fail(f"entry at leaf {index} (seq {row['seq']}, event {row['event_id']}) does not match "
                            "its leaf hash: its content or position was changed", index)
                stop = True
                break
            for level, idx, h in frontier.append(leaf):
                if nodes.get((level, idx)) != h:
                    lo_leaf, hi_leaf = idx << level, ((idx + 1) << level) - 1
                    report.fail(f"the tree's hash over leaves {lo_leaf}..{hi_leaf} does not match the "
                                "entries: one of them was replaced and its leaf hash rewritten", lo_leaf, hi_leaf)
                    stop = True
            if not stop and frontier.size in signed:
                if frontier.root() != signed[frontier.size]:
                    report.fail(f"checkpoint at size {frontier.size} does not match the entries: an entry "
                                f"in leaves {self.last_good_checkpoint}..{frontier.size - 1} was altered",
                                self.last_good_checkpoint, frontier.size - 1)
                    stop = True
                else:
                    self.last_good_checkpoint = frontier.size
                    report.checkpoints_checked += 1
            if stop:
                break
            expected += 1
            report.entries_checked += 1
        self.stop = stop


def record(engine: Engine, report: VerifyReport) -> None:
    """Keep the result (append-only), for the integrity status compliance staff see."""
    with engine.begin() as conn:
        conn.execute(insert(verifications), [{
            "started_at": report.started_at, "finished_at": datetime.now(UTC), "tree_size": report.tree_size,
            "checkpoint_size": report.latest_checkpoint, "ok": report.ok, "first_bad_leaf": report.first_bad_leaf,
            "message": report.summary()[:4000]}])
