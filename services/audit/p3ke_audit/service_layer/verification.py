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

With the deployment's key ring (`keys`; the command line always passes it), every entry the walk accepts
also has its origin verified again (domain/origin.py): an entry of format 2 must carry a signature that
verifies, by the pinned key its key_id names, valid when it was recorded, whose owner may produce the
event, over an envelope and payload from which the entry's columns derive exactly. Every entry that fails
is named (leaf, seq, event id, reason) and fails the verification: a row inserted around the appender with
a correct leaf hash (and even the tree and a checkpoint updated over it) has no signature a pinned key
made. Entries of format 1 (no evidence) predate signing: before the first format 2 entry they are counted
and listed as a warning; one after it is a failure. The checks other than the signature arithmetic run
in this thread as each page is accepted; the Ed25519/ECDSA verifications run on a thread pool (the
arithmetic releases the GIL) while the walk reads and hashes the next page.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import Connection, Engine

from p3ke_audit.adapters.orm import checkpoints, entries, tree_nodes, verifications
from p3ke_audit.domain.entry import ORDER, canonical_values, entry_leaf_hash
from p3ke_audit.domain.origin import (
    OriginChecker,
    OriginError,
    OriginFailure,
    SignatureJob,
    unsigned_after_signed,
    unsigned_warning,
    verify_signature,
    verify_signatures,
)
from p3ke_platform.tlog.merkle import LEAF_PREFIX, NODE_PREFIX, Frontier, fold, perfect_subtrees, stored_count
from p3ke_platform.tlog.note import CheckpointError, open_note

if TYPE_CHECKING:
    from p3ke_platform.event_keys import KeyRing

PAGE_LEVEL = 14
PAGE = 1 << PAGE_LEVEL  # leaves per page: a full page is the perfect subtree (PAGE_LEVEL, lo >> PAGE_LEVEL)
MAX_PROBLEMS = 20
MAX_LISTED = 1000  # origin failures (and ranges of format 1 entries) listed by leaf; the counts are complete
SIGNATURE_CHUNK = 256  # signature checks per task of the thread pool
SWITCH_INTERVAL = 0.0002  # seconds: how long a thread holds the GIL while another waits, during a verification


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
    origin_checked: bool = False  # verified against a key ring (else only the tree was)
    signed_entries: int = 0  # entries of format 2 whose origin verified
    origin_failed: int = 0  # entries whose origin does not verify (all counted; `origin_failures` lists some)
    origin_failures: list[OriginFailure] = field(default_factory=list)
    unsigned_entries: int = 0  # format 1 entries from before the first signed one (a warning)
    unsigned_ranges: list[list[int]] = field(default_factory=list)  # [first, last] leaves of those
    first_signed_leaf: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems and not self.origin_failed

    @property
    def warnings(self) -> list[str]:
        return unsigned_warning(self.unsigned_entries, self.unsigned_ranges)

    def first_bad(self) -> int | None:
        """The first entry found wrong, by its tree position or its origin."""
        leaves = [leaf for leaf in (self.first_bad_leaf,
                                    self.origin_failures[0].leaf_index if self.origin_failures else None)
                  if leaf is not None]
        return min(leaves, default=None)

    def fail(self, message: str, leaf: int | None = None, last: int | None = None) -> None:
        if leaf is not None and (self.first_bad_leaf is None or leaf < self.first_bad_leaf):
            self.first_bad_leaf, self.last_bad_leaf = leaf, leaf if last is None else last
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(message)

    def summary(self) -> str:
        if self.ok:
            origins = (f" ({self.signed_entries} with their origin signature verified)" if self.origin_checked
                       else " (origins not checked)")
            warning = "".join(f"; warning: {w}" for w in self.warnings)
            return (f"ok: {self.entries_checked} entries{origins}, {self.checkpoints_checked} checkpoints verified "
                    f"(tree size {self.tree_size}) in {self.seconds:.2f}s{warning}")
        where = ""
        if self.first_bad_leaf is not None:
            where = f"; first entry that does not match: leaf {self.first_bad_leaf}"
            if self.last_bad_leaf != self.first_bad_leaf:
                where += f" (somewhere in leaves {self.first_bad_leaf}..{self.last_bad_leaf})"
        if self.origin_failed:
            leaves = ", ".join(str(f.leaf_index) for f in self.origin_failures[:10])
            where += (f"; {self.origin_failed} entr{'y' if self.origin_failed == 1 else 'ies'} without a valid "
                      f"origin signature (leaf {leaves}{' …' if self.origin_failed > 10 else ''})")
        return f"FAILED{where}: " + " | ".join(self.problems)

    def origin_fail(self, leaf: int, event_id: str | None, reason: str) -> None:
        self.origin_failed += 1
        self.origin_failures.append(OriginFailure(leaf, event_id, reason))
        if len(self.origin_failures) > 2 * MAX_LISTED:  # keep the first MAX_LISTED by leaf, in bounded memory
            self.origin_failures = sorted(self.origin_failures, key=lambda f: f.leaf_index)[:MAX_LISTED]

    def unsigned(self, leaf: int) -> None:
        self.unsigned_entries += 1
        if self.unsigned_ranges and self.unsigned_ranges[-1][1] == leaf - 1:
            self.unsigned_ranges[-1][1] = leaf
        elif len(self.unsigned_ranges) < MAX_LISTED:
            self.unsigned_ranges.append([leaf, leaf])


def _nodes_completed_in(conn: Connection, lo: int, hi: int) -> dict[tuple[int, int], bytes]:
    """Stored nodes (level >= 1) that the rebuild completes while adding leaves lo..hi-1: one range
    of storage positions, since nodes are keyed in completion order."""
    rows = conn.execute(select(tree_nodes.c.level, tree_nodes.c.idx, tree_nodes.c.hash)
                        .where(tree_nodes.c.id >= stored_count(lo), tree_nodes.c.id < stored_count(hi)))
    return {(int(lv), int(i)): bytes(h) for lv, i, h in rows}


def verify_log(engine: Engine, name: str, public_key: Ed25519PublicKey, *, keys: KeyRing | None = None,
               progress: Callable[[int], None] | None = None, workers: int | None = None) -> VerifyReport:
    """Verify the log: the tree against the checkpoints signed with `public_key`, and with `keys` (the
    deployment's event key ring) every entry's origin; `workers` threads verify signatures (default: one
    per CPU)."""
    report = VerifyReport(origin_checked=keys is not None)
    started = time.perf_counter()
    pool = None
    switch = sys.getswitchinterval()
    if keys is not None:
        pool = ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 1),
                                  thread_name_prefix="p3ke-audit-verify")
        # A pool thread back from a signature (the GIL released) waits for the walk's thread to yield the GIL,
        # by default up to 5 ms: 30 times a signature's cost. Yield sooner while verifying.
        sys.setswitchinterval(min(switch, SWITCH_INTERVAL))
    try:
        _verify(engine, name, public_key, report, keys, pool, progress)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
            sys.setswitchinterval(switch)
    report.seconds = time.perf_counter() - started
    return report


def _verify(engine: Engine, name: str, public_key: Ed25519PublicKey, report: VerifyReport, keys: KeyRing | None,
            pool: ThreadPoolExecutor | None, progress: Callable[[int], None] | None) -> None:
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
        origins = _Origins(keys, report, pool) if keys is not None and pool is not None else None
        walk = _Walk(conn, report, signed, size_now, origins)
        while not walk.stop and walk.frontier.size < size_now:
            lo = walk.frontier.size
            hi = min(lo + PAGE, size_now)
            if not walk.page_matches(lo, hi):
                walk.walk(lo)  # names the first difference (or finds none after all and goes on)
            if origins is not None:
                origins.collect(keep=1)  # the previous page's signatures; this page's run meanwhile
            if progress:
                progress(report.entries_checked)
        report.tree_size = size_now
        if origins is not None:
            origins.collect(keep=0)
            origins.name_failures(conn)

        if report.latest_checkpoint is not None and size_now < report.latest_checkpoint:
            report.fail(f"the log holds {size_now} entries but checkpoint {report.latest_checkpoint} was signed "
                        f"over {report.latest_checkpoint}: entries from leaf {size_now} on are missing (truncated?)",
                        size_now, report.latest_checkpoint - 1)
        outside = conn.execute(select(func.count(), func.min(entries.c.seq))
                               .where(entries.c.leaf_index.is_(None))).one()
        if outside[0]:
            report.fail(f"{outside[0]} row(s) are not in the tree (first seq {outside[1]}): written around the "
                        "appender")


_FAST_COLUMNS = (entries.c.leaf_hash, *(entries.c[name] for name in ORDER))
_LEAF = ORDER.index("leaf_index") + 1  # position in a _FAST_COLUMNS row
_EVENT = ORDER.index("event_id") + 1
_EVIDENCE = tuple(ORDER.index(name) + 1 for name in ("envelope", "signature", "key_id"))


class _Origins:
    """Origin checks of the entries the walk accepts, in leaf order; signatures verified on the pool."""

    def __init__(self, keys: KeyRing, report: VerifyReport, pool: ThreadPoolExecutor) -> None:
        self.checker = OriginChecker(keys, offset=1)  # rows as _FAST_COLUMNS: the leaf hash first
        self.report = report
        self.pool = pool
        self.batches: deque[tuple[int, list[Future[list[int]]], list[list[tuple[int, str]]]]] = deque()
        self.page = 0

    def check(self, rows: Iterable[Sequence[Any]]) -> None:
        report, prepare = self.report, self.checker.prepare
        e, s, k = _EVIDENCE
        futures: list[Future[list[int]]] = []
        refs: list[list[tuple[int, str]]] = []
        jobs: list[SignatureJob] = []
        ids: list[tuple[int, str]] = []
        for row in rows:
            leaf = row[_LEAF]
            if row[e] is None and row[s] is None and row[k] is None:  # format 1: no evidence
                if report.first_signed_leaf is None:
                    report.unsigned(leaf)
                else:
                    report.origin_fail(leaf, row[_EVENT], unsigned_after_signed(report.first_signed_leaf))
                continue
            if report.first_signed_leaf is None:
                report.first_signed_leaf = leaf
            try:
                job, problem = prepare(row)
            except OriginError as exc:
                report.origin_fail(leaf, row[_EVENT], str(exc))
                continue
            if problem is not None:  # rare: its own signature first, the root cause if it does not verify
                report.origin_fail(leaf, row[_EVENT], problem if verify_signature(job) else OriginChecker.BAD_SIGNATURE)
                continue
            jobs.append(job)
            ids.append((leaf, row[_EVENT]))
            if len(jobs) == SIGNATURE_CHUNK:
                futures.append(self.pool.submit(verify_signatures, jobs))
                refs.append(ids)
                jobs, ids = [], []
        if jobs:
            futures.append(self.pool.submit(verify_signatures, jobs))
            refs.append(ids)
        if futures:
            self.batches.append((self.page, futures, refs))

    def collect(self, keep: int) -> None:
        """Wait for the signature checks of all but the last `keep` pages, and count them."""
        self.page += 1
        while self.batches and self.batches[0][0] < self.page - keep:
            _, futures, refs = self.batches.popleft()
            for future, ids in zip(futures, refs, strict=True):
                bad = set(future.result())
                for i, (leaf, event_id) in enumerate(ids):
                    if i in bad:
                        self.report.origin_fail(leaf, event_id, OriginChecker.BAD_SIGNATURE)
                    else:
                        self.report.signed_entries += 1

    def name_failures(self, conn: Connection) -> None:
        """Sort the failures by leaf, keep the first MAX_LISTED with their seq, and add them to the problems."""
        report = self.report
        failures = sorted(report.origin_failures, key=lambda f: f.leaf_index)[:MAX_LISTED]
        seqs: dict[int, int] = {}
        if failures:
            rows = conn.execute(select(entries.c.leaf_index, entries.c.seq)
                                .where(entries.c.leaf_index.in_([f.leaf_index for f in failures])))
            seqs = {int(leaf): int(seq) for leaf, seq in rows}
        report.origin_failures = [OriginFailure(f.leaf_index, f.event_id, f.reason, seqs.get(f.leaf_index))
                                  for f in failures]
        for failure in report.origin_failures:
            report.fail(failure.describe())


class _Walk:
    """The rebuild's state between pages: the frontier at the next leaf to check, and the report."""

    def __init__(self, conn: Connection, report: VerifyReport, signed: dict[int, bytes], size_now: int,
                 origins: _Origins | None = None) -> None:
        self.conn = conn
        self.origins = origins
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
        if self.origins is not None:
            self.origins.check(rows)
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
        accepted: list[tuple[Any, ...]] = []  # for the origin checks, as _FAST_COLUMNS rows
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
            if self.origins is not None:
                accepted.append((stored, *(row[name] for name in ORDER)))
        if self.origins is not None:
            self.origins.check(accepted)
        self.stop = stop


def record(engine: Engine, report: VerifyReport) -> None:
    """Keep the result (append-only), for the integrity status compliance staff see."""
    with engine.begin() as conn:
        conn.execute(insert(verifications), [{
            "started_at": report.started_at, "finished_at": datetime.now(UTC), "tree_size": report.tree_size,
            "checkpoint_size": report.latest_checkpoint, "ok": report.ok, "first_bad_leaf": report.first_bad(),
            "message": report.summary()[:4000]}])
