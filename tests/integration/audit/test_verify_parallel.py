"""Pages checked by worker processes (PostgreSQL, `workers` > 1) give the report the verifying process gives
checking them itself (`workers=1`): the same entries and checkpoints counted, the same first difference named
after tampering (every scenario of test_tamper, and a node above the page level, which only the combination in
leaf order can check), the same origin results (signed, forged, format 1 before and after signing).

Pages of 4 leaves (PAGE_LEVEL 2), so a log of 40 entries is 10 pages over 2 processes; the processes are real
(forked), each with its own connection, which the test sees in the database.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from p3ke_audit.adapters.orm import checkpoints, tree_nodes
from p3ke_audit.service_layer import verification
from p3ke_audit.service_layer.verification import VerifyReport
from p3ke_platform.service import Runtime
from tests.integration.audit.helpers import as_superuser, audit_runtime, make_log, verify
from tests.integration.audit.test_origin_verify import _append, _forgeries, _legacy_rows, insert_directly
from tests.integration.audit.test_tamper import SCENARIOS, SEED, SIZE

pytestmark = pytest.mark.postgres


def _fields(report: VerifyReport) -> dict[str, object]:
    return {name: getattr(report, name) for name in (
        "ok", "tree_size", "entries_checked", "checkpoints_checked", "latest_checkpoint", "first_bad_leaf",
        "last_bad_leaf", "problems", "signed_entries", "origin_failed", "origin_failures", "unsigned_entries",
        "unsigned_ranges", "first_signed_leaf")}


def _record_workers(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each worker process writes its pid into a scratch table once started (the fork inherits the patch)."""
    with runtime.engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS verify_workers (pid integer NOT NULL)"))
    start = verification._worker_start

    def recording(engine, keys, page_level):  # type: ignore[no-untyped-def]
        # first: a walk that stops early closes the pool, which may end a worker before its start finished
        engine.dispose(close=False)  # never the parent's pooled connections (as _worker_start does)
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO verify_workers (pid) VALUES (:pid)"), {"pid": os.getpid()})
        start(engine, keys, page_level)

    monkeypatch.setattr(verification, "_worker_start", recording)


def _workers_seen(runtime: Runtime) -> set[int]:
    with runtime.engine.begin() as conn:
        pids = set(conn.execute(text("SELECT pid FROM verify_workers")).scalars())
        conn.execute(text("DELETE FROM verify_workers"))
    return pids


def _both(runtime: Runtime, monkeypatch: pytest.MonkeyPatch, *, stops_early: bool = False,
          **kw: object) -> tuple[VerifyReport, VerifyReport]:
    """(checked by 2 worker processes, checked in this process); the processes really ran, unless the walk
    `stops_early` (a truncated tail is found before any page is handed out, and the pool may close before a worker
    has started: then only none of the work ran in this process)."""
    monkeypatch.setattr(verification, "PAGE_LEVEL", 2)
    _record_workers(runtime, monkeypatch)
    in_processes = verify(runtime, workers=2, **kw)
    workers = _workers_seen(runtime)
    assert os.getpid() not in workers and len(workers) <= 2, workers
    assert stops_early or len(workers) == 2, workers
    here = verify(runtime, workers=1, **kw)
    assert _workers_seen(runtime) == set()
    return in_processes, here


def test_an_intact_log_with_every_kind_of_origin_is_reported_alike(postgres_url: str, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = audit_runtime(postgres_url, tmp_path, audit_checkpoint_every=3, audit_checkpoint_seconds=3600)
    _append(runtime, _legacy_rows(6, 500))  # format 1, before signing: a warning (two pages of 4)
    make_log(runtime, 14, batch=5)  # signed
    forgeries = _forgeries()
    forged = insert_directly(runtime, [row for _, row, _ in forgeries])  # around the appender: origin failures
    make_log(runtime, 9, batch=4, seed=2)
    runtime.context.issue_checkpoint()  # at 34, inside the last (partial) page

    with runtime.engine.connect() as conn:
        signed = conn.execute(select(func.count()).select_from(checkpoints)).scalar_one()
    assert signed >= 5

    for keys in ({}, {"keys": None}):  # every origin too, then the tree alone
        in_processes, here = _both(runtime, monkeypatch, **keys)
        assert _fields(in_processes) == _fields(here)
        assert in_processes.entries_checked == 34 and in_processes.first_bad_leaf is None
        assert in_processes.checkpoints_checked == signed
    in_processes, _ = _both(runtime, monkeypatch)
    assert not in_processes.ok and in_processes.origin_failed == len(forgeries)
    assert [f.leaf_index for f in in_processes.origin_failures] == forged == list(range(20, 25))
    assert (in_processes.unsigned_entries, in_processes.unsigned_ranges) == (6, [[0, 5]])
    assert in_processes.signed_entries == 34 - 6 - len(forgeries)


@pytest.mark.parametrize("scenario", [*SCENARIOS, "node_above_the_page_level"])
def test_tampering_is_named_alike(scenario: str, postgres_url: str, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = audit_runtime(postgres_url, tmp_path, audit_checkpoint_every=8, audit_checkpoint_seconds=3600)
    make_log(runtime, SIZE, batch=5)
    rng = random.Random(f"{SEED}-{scenario}")
    if scenario == "node_above_the_page_level":  # leaves 8..15: a level-3 node, closed by the page 12..15
        with runtime.engine.connect() as conn:
            node = conn.execute(select(tree_nodes.c.id).where(tree_nodes.c.level == 3, tree_nodes.c.idx == 1)
                                ).scalar_one()
        as_superuser(runtime, "UPDATE audit_tree_nodes SET hash = :h WHERE id = :i",
                     params={"h": rng.randbytes(32), "i": node})
        tampered: tuple[int, int, bool] | None = (8, 15, True)
    else:
        tampered = SCENARIOS[scenario](runtime, rng)

    in_processes, here = _both(runtime, monkeypatch, stops_early=scenario == "truncate_tail")
    assert _fields(in_processes) == _fields(here), f"P3KE_TEST_SEED={SEED}"
    assert not in_processes.ok
    if tampered is not None:
        lo, hi, exact = tampered
        if exact:
            assert in_processes.first_bad_leaf == lo, (f"P3KE_TEST_SEED={SEED}", in_processes.summary())
        else:
            assert in_processes.first_bad_leaf is not None and in_processes.first_bad_leaf <= hi, \
                (f"P3KE_TEST_SEED={SEED}", in_processes.summary())
    if scenario == "node_above_the_page_level":
        assert (in_processes.first_bad_leaf, in_processes.last_bad_leaf) == (8, 15)
        assert in_processes.entries_checked == 15  # the walk of page 12..15 stops at its last leaf
