"""Appends keep the Merkle tree in the database: leaves and subtree hashes written with the entries,
checkpoints signed every N entries and consistent, proofs from stored hashes, a constant number of
statements per batch, one total order across concurrent workers."""

from __future__ import annotations

import dataclasses
import itertools
import threading
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from p3ke_audit.adapters.orm import checkpoints, entries, subject_refs, tree_nodes
from p3ke_audit.domain.entry import entry_leaf_hash
from p3ke_audit.service_layer import proofs
from p3ke_platform.audit_client import subject_ref
from p3ke_platform.service import Runtime
from p3ke_platform.tlog.merkle import MemoryTree, verify_consistency, verify_inclusion
from p3ke_platform.tlog.note import open_note
from tests.integration.audit.helpers import (
    SUBJECT_KEY,
    access,
    as_superuser,
    audit_runtime,
    deliver,
    make_log,
    nik,
    verify,
)


def _rebuild(runtime: Runtime) -> MemoryTree:
    with runtime.engine.connect() as conn:
        rows = conn.execute(select(entries).order_by(entries.c.leaf_index)).mappings().all()
    assert [r["leaf_index"] for r in rows] == list(range(len(rows)))
    for r in rows:
        assert bytes(r["leaf_hash"]) == entry_leaf_hash(r)
    return MemoryTree(bytes(r["leaf_hash"]) for r in rows)


def test_appends_build_the_tree_checkpoints_and_proofs(database_url: str, tmp_path: Path) -> None:
    runtime = audit_runtime(database_url, tmp_path, audit_checkpoint_every=10)
    events = make_log(runtime, 45, batch=4)
    tree = _rebuild(runtime)
    s = runtime.context.signer
    with runtime.engine.connect() as conn:
        stored_nodes = {(r.level, r.idx): bytes(r.hash) for r in conn.execute(select(tree_nodes))}
        notes = conn.execute(select(checkpoints.c.tree_size, checkpoints.c.note)
                             .order_by(checkpoints.c.tree_size)).all()
        refs = conn.execute(select(func.count()).select_from(subject_refs)).scalar()
    assert stored_nodes == {k: v for k, v in tree.nodes.items() if k[0] > 0}
    assert len(stored_nodes) == 45 - bin(45).count("1")
    assert refs == 2 * 45
    # a checkpoint at the first batch, then whenever 10 more entries arrived (batch boundaries)
    sizes = [size for size, _ in notes]
    assert sizes[0] == 4 and all(b - a >= 10 for a, b in itertools.pairwise(sizes))
    heads = [open_note(note, s.name, s.public_key) for _, note in notes]
    for head in heads:
        assert head.root == tree.root(head.size)
    for a, b in itertools.pairwise(heads):
        with runtime.sessions() as session:
            verify_consistency(a.size, b.size, a.root, b.root, proofs.consistency(session, a.size, b.size))
    latest = heads[-1]
    with runtime.sessions() as session:
        for i in range(latest.size):
            inc = proofs.inclusion(session, i)
            assert inc.tree_size == latest.size and inc.checkpoint is not None
            verify_inclusion(tree.nodes[(0, i)], i, latest.size, inc.proof, latest.root)
    # replaying everything changes nothing
    assert deliver(runtime, events, batch=45) == []
    assert _rebuild(runtime).root() == tree.root()
    # a signed checkpoint on demand covers the tail
    runtime.context.issue_checkpoint()
    with runtime.sessions() as session:
        assert proofs.latest_checkpoint(session).tree_size == 45  # type: ignore[union-attr]
    assert verify(runtime).ok


def test_refused_events_leave_the_rest_of_the_batch_in_the_tree(database_url: str, tmp_path: Path) -> None:
    runtime = audit_runtime(database_url, tmp_path, audit_checkpoint_every=3)
    good = [access(i, niks=[nik(i)]) for i in range(6)]
    forged = access(100, service="billing")
    lying = dataclasses.replace(access(101, service="targeting"), source="urn:p3ke:service:ingest")
    batch = [*good[:2], forged, *good[2:4], lying, *good[4:]]
    rejected = deliver(runtime, batch)
    assert sorted(r for _, r in rejected) == [
        "data-access from an unknown service 'billing'",
        "data-access names service 'targeting' but comes from 'urn:p3ke:service:ingest'"]
    tree = _rebuild(runtime)
    assert tree.size == 6
    report = verify(runtime)
    assert report.ok, report.summary()
    with runtime.engine.connect() as conn:
        indexes = conn.execute(select(subject_refs.c.leaf_index).where(
            subject_refs.c.subject_ref == subject_ref(SUBJECT_KEY, nik(4)))).scalars().all()
        event_ids = conn.execute(select(entries.c.event_id).where(entries.c.leaf_index.in_(indexes))).scalars().all()
    assert event_ids == [good[4].id]


def test_a_batch_costs_a_constant_number_of_statements(database_url: str, tmp_path: Path) -> None:
    runtime = audit_runtime(database_url, tmp_path, audit_checkpoint_every=100_000, audit_checkpoint_seconds=3600)
    counts: list[int] = []
    statements: list[str] = []
    event.listen(runtime.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    for round_ in range(3):
        statements.clear()
        make_log(runtime, 500, batch=500, seed=round_)
        counts.append(len(statements))
    # lock, size, right edge (<= 2), inbox check, 3 inserts + inbox insert, checkpoint check (+ BEGIN/COMMIT)
    assert counts[1] == counts[2] <= 12, (counts, statements)


@pytest.mark.postgres
def test_concurrent_workers_append_in_one_total_order(postgres_url: str, tmp_path: Path) -> None:
    database_url = postgres_url  # PostgreSQL only (SQLite has no roles; it serialises writers)
    runtime = audit_runtime(database_url, tmp_path, audit_checkpoint_every=50)
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        try:
            events = [access(1000 * seed + i) for i in range(200)]
            assert deliver(runtime, events, consumer=f"worker-{seed}", batch=20) == []
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    tree = _rebuild(runtime)
    assert tree.size == 600
    assert verify(runtime).ok


def test_no_checkpoint_is_signed_over_a_tree_that_does_not_extend_the_last(database_url: str,
                                                                           tmp_path: Path) -> None:
    runtime = audit_runtime(database_url, tmp_path, audit_checkpoint_every=4)
    make_log(runtime, 16, batch=4)
    with runtime.sessions() as session:
        before = proofs.latest_checkpoint(session)
    assert before is not None and before.tree_size == 16
    # rewrite the stored hash over leaves 0..15 (the tree's right edge), as covering an edit would need
    as_superuser(runtime, "UPDATE audit_tree_nodes SET hash = :h WHERE level = 4 AND idx = 0",
                 params={"h": b"\x07" * 32})
    make_log(runtime, 8, batch=4, seed=9)  # appends go on (nothing is lost) ...
    with runtime.sessions() as session:
        after = proofs.latest_checkpoint(session)
        assert proofs.tree_size(session) == 24
    assert after == before  # ... but the log refuses to sign a head inconsistent with what it signed
    report = verify(runtime)
    assert not report.ok and report.first_bad_leaf == 0 and report.last_bad_leaf == 15, report.summary()
