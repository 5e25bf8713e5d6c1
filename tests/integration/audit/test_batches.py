"""Batch edge cases of the append path (one multi-row INSERT per table per batch) and of the paged
verifier: a batch crossing a checkpoint boundary, repeated event ids, a dead-lettered event inside a
batch, a crash between batches (and inside one), and verification over many pages."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from p3ke_audit.adapters.orm import checkpoints, entries, subject_refs, tables, tree_nodes
from p3ke_audit.adapters.tree_store import TreeStore
from p3ke_audit.domain.entry import entry_leaf_hash
from p3ke_audit.service_layer import verification
from p3ke_audit.service_layer.verification import VerifyReport
from p3ke_platform.service import Runtime
from p3ke_platform.tlog.merkle import MemoryTree
from p3ke_platform.tlog.note import open_note
from tests.integration.audit.helpers import access, as_superuser, audit_runtime, deliver, make_log, nik, verify


def _tree(runtime: Runtime) -> MemoryTree:
    with runtime.engine.connect() as conn:
        rows = conn.execute(select(entries).order_by(entries.c.leaf_index)).mappings().all()
    assert [r["leaf_index"] for r in rows] == list(range(len(rows)))
    assert all(bytes(r["leaf_hash"]) == entry_leaf_hash(r) for r in rows)
    return MemoryTree(bytes(r["leaf_hash"]) for r in rows)


def _counts(runtime: Runtime) -> tuple[int, int, int, int]:
    with runtime.engine.connect() as conn:
        return tuple(conn.execute(select(func.count()).select_from(t)).scalar_one()  # type: ignore[return-value]
                     for t in (entries, tree_nodes, subject_refs, tables.inbox))


def _verify(runtime: Runtime) -> VerifyReport:
    report = verify(runtime)
    assert report.origin_checked and report.signed_entries + report.origin_failed == report.entries_checked
    return report


def test_a_batch_across_a_checkpoint_boundary_signs_at_its_end(database_url: str, tmp_path: Path) -> None:
    runtime = audit_runtime(database_url, tmp_path, audit_checkpoint_every=10, audit_checkpoint_seconds=3600)
    make_log(runtime, 7, batch=7)  # first checkpoint at 7
    make_log(runtime, 9, batch=9, seed=2)  # 16: grew by 9 < 10, none
    make_log(runtime, 23, batch=23, seed=3)  # 39: crosses 17 and 27 in one batch, one checkpoint at its end
    tree = _tree(runtime)
    s = runtime.context.signer
    with runtime.engine.connect() as conn:
        notes = conn.execute(select(checkpoints.c.tree_size, checkpoints.c.note)
                             .order_by(checkpoints.c.tree_size)).all()
    assert [size for size, _ in notes] == [7, 39]
    for size, note in notes:
        assert open_note(note, s.name, s.public_key).root == tree.root(size)
    stored, nodes, refs, inbox = _counts(runtime)
    assert (stored, nodes, refs, inbox) == (39, 39 - bin(39).count("1"), 2 * 39, 39)
    assert _verify(runtime).ok


def test_repeated_event_ids_in_and_across_batches_are_appended_once(database_url: str, tmp_path: Path) -> None:
    runtime = audit_runtime(database_url, tmp_path, audit_checkpoint_every=4)
    events = [access(i, niks=[nik(i)]) for i in range(10)]
    assert deliver(runtime, events[:3]) == []
    batch = [events[1], events[3], events[3], events[4], events[0], events[4], *events[5:], events[9]]
    assert deliver(runtime, batch) == []
    tree = _tree(runtime)
    assert tree.size == 10
    with runtime.engine.connect() as conn:
        order = conn.execute(select(entries.c.event_id).order_by(entries.c.leaf_index)).scalars().all()
    assert order == [e.id for e in events]
    assert _counts(runtime) == (10, 10 - bin(10).count("1"), 10, 10)
    assert _verify(runtime).ok


def test_a_dead_lettered_event_mid_batch_across_a_checkpoint(database_url: str, tmp_path: Path) -> None:
    runtime = audit_runtime(database_url, tmp_path, audit_checkpoint_every=5, audit_checkpoint_seconds=3600)
    make_log(runtime, 3, batch=3)
    good = [access(10 + i, niks=[nik(10 + i), nik(7)]) for i in range(8)]
    lying = dataclasses.replace(access(50, service="targeting"), source="urn:p3ke:service:ingest")
    rejected = deliver(runtime, [*good[:4], lying, good[4], good[4], *good[5:]])
    assert [(d.event.id, "comes from" in reason) for d, reason in rejected] == [(lying.id, True)]
    tree = _tree(runtime)
    assert tree.size == 11
    with runtime.engine.connect() as conn:
        ids = conn.execute(select(entries.c.event_id).where(entries.c.leaf_index >= 3)
                           .order_by(entries.c.leaf_index)).scalars().all()
        sizes = conn.execute(select(checkpoints.c.tree_size).order_by(checkpoints.c.tree_size)).scalars().all()
        refs = conn.execute(select(func.count()).select_from(subject_refs)
                            .where(subject_refs.c.leaf_index >= 3)).scalar_one()
    assert ids == [e.id for e in good]
    assert refs == 16
    assert sizes == [3, 8]  # the isolating redo (a savepoint per event) signs once 5 more are in
    assert _counts(runtime)[3] == 11  # the refused event has no inbox row: a redelivery is refused again
    assert _verify(runtime).ok


def test_a_crash_inside_a_batch_leaves_no_trace_and_the_redelivery_appends_once(
        database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = audit_runtime(database_url, tmp_path, audit_checkpoint_every=6, audit_checkpoint_seconds=3600)
    events = [access(i, niks=[nik(i)]) for i in range(20)]
    assert deliver(runtime, events[:8]) == []
    before = _counts(runtime)

    real = TreeStore.insert_batch

    def dies_after_the_insert(self: TreeStore, parts: Any) -> None:
        real(self, parts)
        raise ConnectionResetError("the worker was killed mid-batch")

    monkeypatch.setattr(TreeStore, "insert_batch", dies_after_the_insert)
    with pytest.raises(ConnectionResetError):
        deliver(runtime, events[8:14])
    monkeypatch.undo()
    assert _counts(runtime) == before  # entries, nodes, refs and inbox rows roll back together
    runtime.engine.dispose()  # a new process: nothing carried over but the database
    restarted = audit_runtime(runtime.settings.database_url, tmp_path, audit_checkpoint_every=6,
                              audit_checkpoint_seconds=3600)
    assert deliver(restarted, events[4:14]) == []  # Kafka redelivers from the last committed offset
    assert deliver(restarted, events[14:]) == []
    assert _tree(restarted).size == 20
    assert _counts(restarted) == (20, 20 - bin(20).count("1"), 20, 20)
    assert _verify(restarted).ok


def test_paged_verification_matches_the_leaf_by_leaf_walk(database_url: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of 4 leaves: full pages, subtrees above the page level, checkpoints inside and at the end
    of pages, a partial last page; then tampering at random places is reported exactly as the
    leaf-by-leaf walk (one page holding the whole log) reports it."""
    runtime = audit_runtime(database_url, tmp_path, audit_checkpoint_every=3, audit_checkpoint_seconds=3600)
    make_log(runtime, 37, batch=5)
    runtime.context.issue_checkpoint()  # at 37, in the partial last page

    def both() -> tuple[VerifyReport, VerifyReport]:
        paged = _verify(runtime)
        with monkeypatch.context() as m:
            m.setattr(verification, "PAGE_LEVEL", 10)
            m.setattr(verification, "PAGE", 1 << 10)
            whole = _verify(runtime)
        return paged, whole

    monkeypatch.setattr(verification, "PAGE_LEVEL", 2)
    monkeypatch.setattr(verification, "PAGE", 4)
    paged, whole = both()
    assert paged.ok and whole.ok, (paged.summary(), whole.summary())
    assert (paged.entries_checked, paged.checkpoints_checked) == (whole.entries_checked, whole.checkpoints_checked)
    assert (paged.entries_checked, paged.checkpoints_checked) == (37, 8)  # 5, 10, ... 35 and 37

    rng = random.Random(7)
    k = rng.randrange(9, 37)
    as_superuser(runtime, "UPDATE audit_entries SET record_count = record_count + 1 WHERE leaf_index = :k",
                 params={"k": k})
    paged, whole = both()
    assert not paged.ok and paged.first_bad_leaf == k
    assert (paged.problems, paged.first_bad_leaf, paged.last_bad_leaf, paged.entries_checked,
            paged.checkpoints_checked) == (whole.problems, whole.first_bad_leaf, whole.last_bad_leaf,
                                           whole.entries_checked, whole.checkpoints_checked)

    # a stronger attacker before it: an entry edited with its leaf hash recomputed (only the nodes differ)
    j = rng.randrange(0, k)
    with runtime.engine.connect() as conn:
        row = dict(conn.execute(select(entries).where(entries.c.leaf_index == j)).mappings().one())
    row["resource_id"] = "forged"
    as_superuser(runtime, "UPDATE audit_entries SET resource_id = 'forged', leaf_hash = :h WHERE leaf_index = :j",
                 params={"h": entry_leaf_hash(row), "j": j})
    paged, whole = both()
    assert not paged.ok and paged.first_bad_leaf is not None and paged.first_bad_leaf <= j <= paged.last_bad_leaf
    assert (paged.problems, paged.first_bad_leaf, paged.last_bad_leaf, paged.entries_checked,
            paged.checkpoints_checked) == (whole.problems, whole.first_bad_leaf, whole.last_bad_leaf,
                                           whole.entries_checked, whole.checkpoints_checked)
