"""`p3ke audit verify`: re-derive the whole tree from the stored entries and compare.

One pass in leaf order, in pages of 2**PAGE_LEVEL leaves aligned on the tree (each full page is one perfect
subtree): each entry's leaf is recomputed from its canonical form (domain/entry.py, `canonical_values`) and
compared with the stored leaf hash; every subtree hash the rebuild completes is compared with the stored
node; at every checkpoint size the rebuilt root is compared with the root the checkpoint's signature covers.
The first difference names the entry (or the smallest range of entries) that no longer matches, and the walk
stops there. Then: checkpoints whose signature does not verify, rows outside the tree, and a log shorter than
its latest checkpoint.

**A page is first checked wholesale** (`_check_page`, a pure function of the page's rows and stored nodes):
the leaf hashes computed in one comprehension and compared as a list, the page's subtrees hashed level by
level (`hashlib`, no per-leaf frontier) and compared as a dict with the stored nodes of the page (one range
of storage positions, since nodes are stored in completion order). What needs the tree to the left of the
page (the frontier) is left to `_Walk.accept`, in leaf order: the nodes above the page level that a full page
closes, and the roots at the page's checkpoint sizes, folded from the frontier and the page's subtrees.
Only a page where something differs is walked again leaf by leaf (`_Walk.walk`), which is what finds and
names the first difference; so a report names the same first difference however the pages were checked.

**Pages are checked in parallel** on PostgreSQL (`workers` processes, default one per CPU; the canonical
serialisation and the hashing are Python and hold the GIL, so threads would not help): the processes are
forked from this one (nothing to import or configure again, the key ring inherited as is), each opens its own
connection, reads its pages (rows straight from the psycopg cursor, in binary: no per-row result
processing), checks them with `_check_page` and, with a key ring, verifies the origins of their entries
(`_page_origins`); it sends back only what the combination needs (the page's subtree hashes at its end and at
its checkpoint sizes, the stored nodes above the page level, the origin results). This process submits a few
pages ahead and combines the results strictly in leaf order; after a difference it walks that page itself and
stops, and the pages checked ahead are dropped. Elsewhere (SQLite, one worker, a log of one page, no `fork`)
the same functions run in this process, page after page.

With the deployment's key ring (`keys`; the command line always passes it), every entry the walk accepts
also has its origin verified again (domain/origin.py): an entry of format 2 or 3 must carry a signature that
verifies, by the pinned key its key_id names, valid when it was recorded, whose owner may produce the
event, over an envelope and payload from which the entry's columns derive exactly. Every entry that fails
is named (leaf, seq, event id, reason) and fails the verification: a row inserted around the appender with
a correct leaf hash (and even the tree and a checkpoint updated over it) has no signature a pinned key
made. Entries of format 1 (no evidence) predate signing: before the first signed entry they are counted
and listed as a warning; one after it is a failure. A worker process verifies its pages' signatures itself;
in this process the checks other than the signature arithmetic run as each page is accepted and the
Ed25519/ECDSA verifications run on a thread pool (the arithmetic releases the GIL) while the walk reads and
hashes the next page.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import multiprocessing.util
import os
import sys
import time
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Generator, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import bindparam, func, insert, select, text
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
from p3ke_platform.tlog.merkle import LEAF_PREFIX, NODE_PREFIX, Frontier, Subtree, fold, perfect_subtrees, stored_count
from p3ke_platform.tlog.note import CheckpointError, open_note

if TYPE_CHECKING:
    from p3ke_platform.event_keys import KeyRing

PAGE_LEVEL = 12
PAGE = 1 << PAGE_LEVEL  # leaves per page: a full page is the perfect subtree (PAGE_LEVEL, lo >> PAGE_LEVEL)
MAX_PROBLEMS = 20
MAX_LISTED = 1000  # origin failures (and ranges of format 1 entries) listed by leaf; the counts are complete
SIGNATURE_CHUNK = 256  # signature checks per task of the thread pool
SWITCH_INTERVAL = 0.0002  # seconds: how long a thread holds the GIL while another waits, during a verification
AHEAD = 2  # pages submitted ahead per worker process

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


Nodes = dict[Subtree, bytes]
_FAST_COLUMNS = (entries.c.leaf_hash, *(entries.c[name] for name in ORDER))
_LEAF = ORDER.index("leaf_index") + 1  # position in a _FAST_COLUMNS row
_EVENT = ORDER.index("event_id") + 1
_EVIDENCE = tuple(ORDER.index(name) + 1 for name in ("envelope", "signature", "key_id"))
_PAGE_ROWS = (select(*_FAST_COLUMNS)
              .where(entries.c.leaf_index >= bindparam("lo"), entries.c.leaf_index < bindparam("hi"))
              .order_by(entries.c.leaf_index))
_PAGE_NODES = (select(tree_nodes.c.level, tree_nodes.c.idx, tree_nodes.c.hash)
               .where(tree_nodes.c.id >= bindparam("lo"), tree_nodes.c.id < bindparam("hi")))
_SQL: dict[tuple[int, str], str] = {}  # (statement, dialect) -> its SQL for the driver's cursor


def _rows(conn: Connection, statement: Any, params: dict[str, int]) -> Sequence[Sequence[Any]]:
    """Every row of `statement`: on PostgreSQL straight from psycopg's cursor, in binary (no per-row result
    processing by SQLAlchemy, which costs as much as the driver's own), else through SQLAlchemy."""
    if conn.dialect.name == "postgresql":
        import psycopg

        driver = conn.connection.driver_connection
        if isinstance(driver, psycopg.Connection):
            key = (id(statement), conn.dialect.name)
            sql = _SQL.get(key) or _SQL.setdefault(key, str(statement.compile(dialect=conn.dialect)))
            with driver.cursor(binary=True) as cursor:
                return cursor.execute(sql, params).fetchall()
    return conn.execute(statement, params).all()


def _stored_nodes(conn: Connection, lo: int, hi: int) -> Nodes:
    """Stored nodes (level >= 1) that the rebuild completes while adding leaves lo..hi-1: one range
    of storage positions, since nodes are keyed in completion order."""
    rows = _rows(conn, _PAGE_NODES, {"lo": stored_count(lo), "hi": stored_count(hi)})
    return {(level, idx): h for level, idx, h in rows}


def _in_utc(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL TIME ZONE 'UTC'"))  # instants arrive in UTC: no conversion per entry


@dataclass
class _PageOrigins:
    """The origin checks of a page's entries (all but the format 1 rule, which depends on the pages before)."""

    unsigned: list[tuple[int, str]] = field(default_factory=list)  # format 1 entries (leaf, event id), in order
    first_signed: int | None = None  # the page's first entry with origin evidence
    failures: list[tuple[int, str | None, str]] = field(default_factory=list)  # (leaf, event id, reason)
    signed: int = 0  # entries whose signature verified (counted where the signatures are checked)


@dataclass
class _Page:
    """A page whose entries and inner nodes match: what the combination with the tree to its left needs."""

    lo: int
    hi: int
    tail: list[bytes]  # the hashes of perfect_subtrees(lo, hi): a full page's root alone
    at_checkpoints: dict[int, list[bytes]]  # checkpoint size in (lo, hi] -> hashes of perfect_subtrees(lo, size)
    upper: Nodes  # the stored nodes above the page level in the page's range of storage positions
    rows: Sequence[Sequence[Any]] = ()  # checked in this process: its rows, for the origin checks
    origins: _PageOrigins | None = None  # checked by a worker process: its origin checks


def _check_page(rows: Sequence[Sequence[Any]], stored: Nodes, lo: int, hi: int, sizes: Sequence[int],
                page_level: int) -> _Page | None:
    """Check leaves [lo, hi) (`lo` a multiple of 2**page_level) wholesale against their rows (as
    _FAST_COLUMNS) and the stored nodes completed in the page; None if anything differs."""
    if len(rows) != hi - lo or rows[0][_LEAF] != lo or rows[-1][_LEAF] != hi - 1:
        return None  # a gap (leaf_index is unique: first, last and count pin the rest)
    sha256 = hashlib.sha256
    leaves = [sha256(LEAF_PREFIX + canonical_values(r[1:])).digest() for r in rows]
    if leaves != [r[0] for r in rows]:
        return None
    # the page's subtrees, level by level; `lo` is aligned, so pairs never straddle the page's start
    computed: Nodes = {}
    level, current = 0, leaves
    by_level = [leaves]
    while len(current) > 1:
        level += 1
        current = [sha256(NODE_PREFIX + a + b).digest() for a, b in zip(current[::2], current[1::2], strict=False)]
        by_level.append(current)
        first = lo >> level
        computed.update(zip([(level, i) for i in range(first, first + len(current))], current, strict=True))
    if computed != {k: h for k, h in stored.items() if k[0] <= page_level}:
        return None

    def hashes(size: int) -> list[bytes]:
        return [by_level[lv][idx - (lo >> lv)] for lv, idx in perfect_subtrees(lo, size)]

    return _Page(lo, hi, hashes(hi), {size: hashes(size) for size in sizes},
                 {k: h for k, h in stored.items() if k[0] > page_level}, rows)


def _read_page(conn: Connection, lo: int, hi: int, sizes: Sequence[int], page_level: int) -> _Page | None:
    return _check_page(_rows(conn, _PAGE_ROWS, {"lo": lo, "hi": hi}), _stored_nodes(conn, lo, hi), lo, hi, sizes,
                       page_level)


def _classify(checker: OriginChecker, rows: Iterable[Sequence[Any]]
              ) -> tuple[_PageOrigins, list[SignatureJob], list[tuple[int, str]]]:
    """The origin checks of `rows` (as _FAST_COLUMNS) but the signature arithmetic of the usual case: what
    they found, and the signature checks left to run with their (leaf, event id)."""
    found = _PageOrigins()
    jobs: list[SignatureJob] = []
    ids: list[tuple[int, str]] = []
    e, s, k = _EVIDENCE
    for row in rows:
        leaf = row[_LEAF]
        if row[e] is None and row[s] is None and row[k] is None:  # format 1: no evidence
            found.unsigned.append((leaf, row[_EVENT]))
            continue
        if found.first_signed is None:
            found.first_signed = leaf
        try:
            job, problem = checker.prepare(row)
        except OriginError as exc:
            found.failures.append((leaf, row[_EVENT], str(exc)))
            continue
        if problem is not None:  # rare: its own signature first, the root cause if it does not verify
            found.failures.append((leaf, row[_EVENT], problem if verify_signature(job)
                                   else OriginChecker.BAD_SIGNATURE))
            continue
        jobs.append(job)
        ids.append((leaf, row[_EVENT]))
    return found, jobs, ids


def _page_origins(checker: OriginChecker, rows: Sequence[Sequence[Any]]) -> _PageOrigins:
    """Every origin check of a page's rows, the signatures verified here (in a worker process)."""
    found, jobs, ids = _classify(checker, rows)
    bad = set(verify_signatures(jobs))
    found.failures += [(leaf, event_id, OriginChecker.BAD_SIGNATURE)
                       for i, (leaf, event_id) in enumerate(ids) if i in bad]
    found.signed = len(jobs) - len(bad)
    return found


# A worker process's state, set by `_worker_start` in the forked process (never in the verifying process).
_WORKER: dict[str, Any] = {}


def _worker_start(engine: Engine, keys: KeyRing | None, page_level: int) -> None:
    engine.dispose(close=False)  # the parent's pooled connections stay the parent's (SQLAlchemy, after a fork)
    conn = engine.connect()
    multiprocessing.util.Finalize(None, _worker_stop, (conn, engine), exitpriority=10)  # as the process ends
    _in_utc(conn)
    _WORKER.update(conn=conn, page_level=page_level,
                   checker=OriginChecker(keys, offset=1) if keys is not None else None)


def _worker_stop(conn: Connection, engine: Engine) -> None:
    conn.close()
    engine.dispose()  # a clean goodbye to the server, not a dropped connection


def _worker_page(lo: int, hi: int, sizes: Sequence[int]) -> _Page | None:
    page = _read_page(_WORKER["conn"], lo, hi, sizes, _WORKER["page_level"])
    if page is not None:
        if _WORKER["checker"] is not None:
            page.origins = _page_origins(_WORKER["checker"], page.rows)
        page.rows = ()  # the verifying process needs none of them
    return page


Checked = Generator[tuple[int, int, _Page | None], None, None]  # each page (lo, hi) in order, and its wholesale check


def _pages_here(conn: Connection, pages: Iterable[tuple[int, int]], sizes: Callable[[int, int], list[int]],
                page_level: int) -> Checked:
    for lo, hi in pages:
        yield lo, hi, _read_page(conn, lo, hi, sizes(lo, hi), page_level)


def _pages_in_processes(engine: Engine, keys: KeyRing | None, processes: int, pages: Iterable[tuple[int, int]],
                        sizes: Callable[[int, int], list[int]], page_level: int) -> Checked:
    """The pages checked by `processes` forked worker processes, a few ahead, the results in page order."""
    pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork"),
                               initializer=_worker_start, initargs=(engine, keys, page_level))
    todo = iter(pages)
    ahead: deque[tuple[int, int, Future[_Page | None]]] = deque()

    def submit(n: int) -> None:
        for lo, hi in islice(todo, n):
            ahead.append((lo, hi, pool.submit(_worker_page, lo, hi, sizes(lo, hi))))

    try:
        submit(AHEAD * processes)
        while ahead:
            lo, hi, future = ahead.popleft()
            result = future.result()
            submit(1)
            yield lo, hi, result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _processes(conn: Connection, workers: int, pages: int) -> int:
    """How many worker processes check pages: 1 (this process) but on PostgreSQL with `fork`."""
    if conn.dialect.name != "postgresql" or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(workers, pages))


def verify_log(engine: Engine, name: str, public_key: Ed25519PublicKey, *, keys: KeyRing | None = None,
               progress: Callable[[int], None] | None = None, workers: int | None = None) -> VerifyReport:
    """Verify the log: the tree against the checkpoints signed with `public_key`, and with `keys` (the
    deployment's event key ring) every entry's origin. `workers` (default: one per CPU) processes check pages
    on PostgreSQL, and as many threads verify the signatures of the pages this process walks."""
    report = VerifyReport(origin_checked=keys is not None)
    started = time.perf_counter()
    workers = workers or os.cpu_count() or 1
    pool = None
    switch = sys.getswitchinterval()
    if keys is not None:
        pool = ThreadPoolExecutor(max_workers=min(8, workers), thread_name_prefix="p3ke-audit-verify")
        # A pool thread back from a signature (the GIL released) waits for the walk's thread to yield the GIL,
        # by default up to 5 ms: 30 times a signature's cost. Yield sooner while verifying.
        sys.setswitchinterval(min(switch, SWITCH_INTERVAL))
    try:
        _verify(engine, name, public_key, report, keys, pool, progress, workers)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
            sys.setswitchinterval(switch)
    report.seconds = time.perf_counter() - started
    return report


def _verify(engine: Engine, name: str, public_key: Ed25519PublicKey, report: VerifyReport, keys: KeyRing | None,
            pool: ThreadPoolExecutor | None, progress: Callable[[int], None] | None, workers: int) -> None:
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

        _in_utc(conn)
        page_level = PAGE_LEVEL
        origins = _Origins(keys, report, pool) if keys is not None and pool is not None else None
        walk = _Walk(conn, report, signed, size_now, page_level, origins)
        sizes = sorted(signed)

        def sizes_in(lo: int, hi: int) -> list[int]:  # the checkpoint sizes in (lo, hi]
            return sizes[bisect_right(sizes, lo):bisect_right(sizes, hi)]

        step = 1 << page_level
        pages = ((lo, min(lo + step, size_now)) for lo in range(0, size_now, step))
        processes = _processes(conn, workers, -(-size_now // step))
        checked = (_pages_in_processes(engine, keys, processes, pages, sizes_in, page_level) if processes > 1
                   else _pages_here(conn, pages, sizes_in, page_level))
        try:
            for lo, _, page in checked:
                if page is None or not walk.accept(page):
                    walk.walk(lo)  # names the first difference (or finds none after all and goes on)
                elif origins is not None:
                    if page.origins is not None:
                        origins.merge(page.origins)
                    else:
                        origins.check(page.rows)
                if origins is not None:
                    origins.collect(keep=1)  # the previous page's signatures; this page's run meanwhile
                if progress:
                    progress(report.entries_checked)
                if walk.stop:
                    break
        finally:
            checked.close()  # the pages checked ahead are dropped
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


class _Origins:
    """Origin checks of the entries the walk accepts, in leaf order; signatures verified on the pool."""

    def __init__(self, keys: KeyRing, report: VerifyReport, pool: ThreadPoolExecutor) -> None:
        self.checker = OriginChecker(keys, offset=1)  # rows as _FAST_COLUMNS: the leaf hash first
        self.report = report
        self.pool = pool
        self.batches: deque[tuple[int, list[Future[list[int]]], list[list[tuple[int, str]]]]] = deque()
        self.page = 0

    def check(self, rows: Iterable[Sequence[Any]]) -> None:
        """Check rows here, their signatures on the pool (counted by `collect`)."""
        found, jobs, ids = _classify(self.checker, rows)
        self.merge(found)
        futures = [self.pool.submit(verify_signatures, jobs[i:i + SIGNATURE_CHUNK])
                   for i in range(0, len(jobs), SIGNATURE_CHUNK)]
        if futures:
            self.batches.append((self.page, futures, [ids[i:i + SIGNATURE_CHUNK]
                                                      for i in range(0, len(ids), SIGNATURE_CHUNK)]))

    def merge(self, found: _PageOrigins) -> None:
        """Count a page's origin checks; its format 1 entries are a warning before the first signed entry of
        the log, a failure after it."""
        report = self.report
        if report.first_signed_leaf is None:
            report.first_signed_leaf = found.first_signed
        first = report.first_signed_leaf
        for leaf, event_id in found.unsigned:
            if first is None or leaf < first:
                report.unsigned(leaf)
            else:
                report.origin_fail(leaf, event_id, unsigned_after_signed(first))
        for leaf, event_id, reason in found.failures:
            report.origin_fail(leaf, event_id, reason)
        report.signed_entries += found.signed

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
                 page_level: int, origins: _Origins | None = None) -> None:
        self.conn = conn
        self.origins = origins
        self.report = report
        self.signed = signed
        self.size_now = size_now
        self.page_level = page_level
        self.frontier = Frontier()
        self.last_good_checkpoint = 0
        self.stop = False

    def accept(self, page: _Page) -> bool:
        """Combine a page `_check_page` accepted with the tree to its left: the nodes its end closes above the
        page level, and the roots at its checkpoint sizes. Advance and return True if all of it matches."""
        lo, hi, level = page.lo, page.hi, self.page_level
        hashes = self.frontier.hashes
        if lo != self.frontier.size:
            return False
        if hi - lo == 1 << level:  # a full page closes its perfect subtree, and maybe larger ones above it
            upper = Frontier(lo >> level, list(hashes))
            closed = {(level + up, idx): h for up, idx, h in upper.append(page.tail[0])}
            edge = upper.hashes
        else:
            closed, edge = {}, [*hashes, *page.tail]
        if closed != page.upper:
            return False
        for size in sorted(page.at_checkpoints):
            if fold([*hashes, *page.at_checkpoints[size]]) != self.signed[size]:
                return False
        self.frontier = Frontier(hi, edge)
        self.report.entries_checked += hi - lo
        self.report.checkpoints_checked += len(page.at_checkpoints)
        if page.at_checkpoints:
            self.last_good_checkpoint = max(page.at_checkpoints)
        return True

    def walk(self, lo: int) -> None:
        """Leaf by leaf from `lo`, one page: stop at (and report) the first entry or node that differs."""
        report, frontier, signed = self.report, self.frontier, self.signed
        expected = lo
        result = self.conn.execute(select(entries).where(entries.c.leaf_index >= expected)
                                   .where(entries.c.leaf_index < self.size_now)
                                   .order_by(entries.c.leaf_index).limit(1 << self.page_level))
        names = list(result.keys())
        page = [dict(zip(names, values, strict=True)) for values in result]  # plain dicts: fast .get
        if not page:
            self.stop = True
            return
        hi = int(page[-1]["leaf_index"]) + 1
        nodes = _stored_nodes(self.conn, expected, hi)
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
