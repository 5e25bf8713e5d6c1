"""The snapshot's working copy in DuckDB's storage: what it holds, that selections and plans read from it give what
they give from the Parquet snapshot, and that only the current version's copy is kept."""

from __future__ import annotations

import os
import stat
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
from cryptography.hazmat.primitives import hashes, hmac
from sqlalchemy import select

from p3ke_platform.service import Runtime
from p3ke_schemas import ExtractCriteria, ExtractRequested
from p3ke_targeting.adapters import duckdb_selection, working_copy
from p3ke_targeting.adapters.orm import extracts
from p3ke_targeting.domain.selection import resolve
from p3ke_targeting.service_layer import planning, working_copies
from tests.unit.targeting.helpers import (
    FIELDS,
    apply,
    dataset_event,
    emitted,
    extract_path,
    make_runtime,
    niks_of,
    one_prepared,
    request,
    sha256_of,
)

SECRET = {"perturbation_key": "working-copy-test-order-secret-0123456789"}
CRITERIA = {"region_codes": ["32", "5301"], "deciles": [1, 2, 3], "age_min": 18, "age_max": 60,
            "reference_date": "2026-03-02"}


def _on(runtime: Runtime, day: date) -> None:
    runtime.context.clock = lambda: datetime(day.year, day.month, day.day, 3, tzinfo=UTC)


def _copy_of(runtime: Runtime, snapshot: Path, key_id: str = "k1") -> Path:
    return working_copy.path_for(runtime.context.settings.data_dir, sha256_of(snapshot), key_id)


def test_the_copy_holds_the_snapshots_rows_in_its_order_and_only_the_owner_may_read_it(runtime: Runtime,
                                                                                        snapshot: Path) -> None:
    copy = working_copies.refresh(runtime.context)
    assert copy == _copy_of(runtime, snapshot) and copy.is_file()
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert [p.name for p in working_copy.kept(runtime.context.settings.data_dir)] == [copy.name]  # no leftovers
    original = pq.read_table(snapshot)
    con = duckdb.connect()
    con.execute(f"ATTACH '{copy}' AS c (READ_ONLY)")
    copied = con.sql(f"SELECT * FROM c.{working_copy.TABLE}").to_arrow_table()
    assert copied.column_names == [*original.column_names, duckdb_selection.STORED_REF]
    assert copied.num_rows == original.num_rows == 20_000
    for name in ("nik", "kode_kemendagri", "desil_kesejahteraan", "persentil", "tanggal_lahir", "nama"):
        assert copied.column(name).to_pylist() == original.column(name).to_pylist(), name
    # the subject references under the current key, as the audit log names the persons (another HMAC: cryptography)
    key = runtime.context.settings.subject_key_ring.current.secret.encode()
    niks = copied.column("nik").to_pylist()
    refs = copied.column(duckdb_selection.STORED_REF).to_pylist()
    for i in range(0, 20_000, 997):
        mac = hmac.HMAC(key, hashes.SHA256())
        mac.update(niks[i].strip().encode())
        assert refs[i] == mac.finalize().hex()
    assert sum(r is None for r in refs) == sum(n is None for n in niks)


def audited_refs(runtime: Runtime) -> list[str]:
    """Every subject reference the runtime's `select` data-access events name."""
    return [r for e in emitted(runtime, "p3ke.data-access.v1") if e["action"] == "select" for r in e["subject_refs"]]


def _select(runtime: Runtime, con: duckdb.DuckDBPyConnection, snapshot: Path, source: duckdb_selection.Rows,
            table: str) -> list[tuple[object, ...]]:
    ctx = runtime.context
    selection = resolve(ExtractCriteria.model_validate(CRITERIA), "padat_karya", ctx.rules, ctx.region_codes,
                        default_reference=date(2026, 3, 2))
    duckdb_selection.select_into(con, table=table, snapshot=snapshot, selection=selection, fields=FIELDS,
                                 quota=500, order_seed="seed:", ledgers=[], ledger_rows=0, source=source)
    return con.execute(f"SELECT * EXCLUDE (__ref), __ref IS NULL FROM {table} "
                       f"ORDER BY {duckdb_selection.order_by(selection)}").fetchall()


def test_a_selection_from_the_copy_is_the_selection_from_the_parquet_snapshot(runtime: Runtime,
                                                                            snapshot: Path) -> None:
    copy = working_copies.refresh(runtime.context)
    con = duckdb.connect()
    con.execute(f"ATTACH '{copy}' AS wc_0123456789ab (READ_ONLY)")
    table = duckdb_selection.selection_table
    copy_rows = working_copy.source("wc_0123456789ab", runtime.context.settings.subject_hash_key)
    from_parquet = _select(runtime, con, snapshot, duckdb_selection.PARQUET, table())
    from_copy = _select(runtime, con, snapshot, copy_rows, table())
    assert len(from_parquet) == 500
    # the same rows in the same order; the references stored in the copy only (computed later from the snapshot)
    assert [r[:-1] for r in from_copy] == [r[:-1] for r in from_parquet]
    assert {r[-1] for r in from_copy} == {False} and {r[-1] for r in from_parquet} == {True}


def _accepted(runtime: Runtime, req: ExtractRequested, persons: int) -> dict[str, Any]:
    """extract-prepared of `req`, which must be accepted with that many persons."""
    assert apply(runtime, req) == []
    event = one_prepared(runtime, req.request_id)
    assert event["status"] == "accepted" and event["record_count"] == persons
    return event


def test_an_extract_and_a_plan_are_the_same_with_or_without_the_copy(tmp_path: Path, snapshot: Path) -> None:
    runtimes = {}
    for name in ("parquet", "copy"):
        rt = runtimes[name] = make_runtime(tmp_path / name, **SECRET)
        _on(rt, date(2026, 3, 2))
        assert apply(rt, dataset_event(snapshot)) == []
    assert working_copies.refresh(runtimes["copy"].context) is not None
    req = request(quota=400, criteria=CRITERIA)
    files = {}
    for name, rt in runtimes.items():
        event = _accepted(rt, req, 400)
        with rt.sessions() as session:
            ledger = session.execute(select(extracts.c.ledger_uri)).scalar_one()
        files[name] = sha256_of(extract_path(event)), sha256_of(Path(ledger)), audited_refs(rt)
    # the same persons, in the same order, the same provenance; the same ledger and audited references (read from
    # the copy on one side, computed from the NIKs on the other)
    assert files["copy"] == files["parquet"] and len(files["copy"][2]) == 400
    # the copy was read: it is attached in the process that made the extract; the other never had one
    assert runtimes["copy"].context.working_copies._aliases and not runtimes["parquet"].context.working_copies._aliases

    # a second extract leaves out the first one's 400 persons: compared with the ledger by the references stored in
    # the copy on one side, by references computed from the NIKs on the other
    again = request(quota=300, criteria=CRITERIA)
    second = {}
    for name, rt in runtimes.items():
        event = _accepted(rt, again, 300)
        second[name] = sha256_of(extract_path(event)), set(niks_of(event))
    assert second["copy"] == second["parquet"]
    first_niks = set(niks_of(one_prepared(runtimes["copy"], req.request_id)))
    assert len(first_niks) == 400 and not first_niks & second["copy"][1]

    plans = {}
    for name, rt in runtimes.items():
        with rt.sessions() as session:
            plans[name] = planning.plan(rt.context, session, program="padat_karya",
                                        criteria=ExtractCriteria.model_validate(CRITERIA), dataset_version_id=None,
                                        group_by="district", today=date(2026, 3, 2), protected=False)
    assert plans["copy"].cells == plans["parquet"].cells and plans["copy"].excludes_earlier_recipients
    with runtimes["copy"].sessions() as session:  # the 700 earlier recipients are what the plan left out
        everyone = planning.plan(runtimes["copy"].context, session, program="padat_karya",
                                 criteria=ExtractCriteria.model_validate({**CRITERIA,
                                                                          "exclude_already_delivered": False}),
                                 dataset_version_id=None, group_by="district", today=date(2026, 3, 2),
                                 protected=False)
    assert everyone.matched - plans["copy"].matched == 700
    for rt in runtimes.values():
        rt.engine.dispose()


def test_only_the_current_versions_copy_is_kept(runtime: Runtime, snapshot: Path, tmp_path: Path) -> None:
    ctx = runtime.context
    first = working_copies.refresh(ctx)
    assert first is not None
    # a new version becomes current: its copy is built, the old one deleted
    second_snapshot = tmp_path / "dv-2.parquet"
    pq.write_table(pq.read_table(snapshot).slice(0, 5_000), second_snapshot)
    assert apply(runtime, dataset_event(second_snapshot, version="dv-2")) == []
    second = working_copies.refresh(ctx)
    assert second == _copy_of(runtime, second_snapshot) and second.is_file() and not first.exists()
    # a stale leftover of a build that stopped is deleted; a young one (a build running elsewhere) is not
    stale, young = second.parent / ".x.duckdb.dead.tmp", second.parent / ".y.duckdb.busy.tmp"
    for leftover in (stale, young):
        leftover.write_bytes(b"half")
    old = time.time() - working_copies.STALE_BUILD_SECONDS - 60
    os.utime(stale, (old, old))
    working_copies.refresh(ctx)
    assert not stale.exists() and young.exists()
    # the current snapshot disposed of (by ingest's schedule): its copy goes too, and extracts read nothing stale
    second_snapshot.unlink()
    assert working_copies.refresh(ctx) is None and not second.exists()


def test_a_deleted_copy_is_detached_and_the_selection_reads_the_parquet_snapshot(runtime: Runtime,
                                                                               snapshot: Path) -> None:
    ctx = runtime.context
    _on(runtime, date(2026, 3, 2))
    copy = working_copies.refresh(ctx)
    assert copy is not None
    first = request(quota=100, criteria=CRITERIA)
    assert apply(runtime, first) == [] and one_prepared(runtime, first.request_id)["status"] == "accepted"
    assert list(ctx.working_copies._aliases) and copy in {path for *_, path in ctx.working_copies._aliases}
    copy.unlink()  # as another process's loop would, a new version having arrived
    second = request(quota=100, criteria=CRITERIA)
    assert apply(runtime, second) == [] and one_prepared(runtime, second.request_id)["status"] == "accepted"
    assert not ctx.working_copies._aliases


def test_the_copy_is_not_used_when_turned_off(tmp_path: Path, snapshot: Path) -> None:
    rt = make_runtime(tmp_path, targeting_working_copy=False)
    assert apply(rt, dataset_event(snapshot)) == []
    copy = working_copies.refresh(rt.context)  # built by hand: the worker's loop would not run at all
    assert copy is not None
    with rt.sessions() as session:
        from p3ke_targeting.service_layer.datasets import dataset_row

        assert working_copies.for_dataset(rt.context, dataset_row(session, None)) is None
    rt.engine.dispose()


def test_a_copy_is_only_named_by_a_sha256() -> None:
    with pytest.raises(ValueError):
        working_copy.path_for(Path("/data"), "../../etc/passwd", "k1")
    with pytest.raises(ValueError):
        working_copy.path_for(Path("/data"), "0" * 64, "../k1")
    with pytest.raises(ValueError):
        working_copy.source("snapshot; DROP TABLE x", "a-subject-hash-key-0123456789")


def test_a_copy_that_does_not_open_is_deleted_and_the_snapshot_read(runtime: Runtime, snapshot: Path) -> None:
    ctx = runtime.context
    _on(runtime, date(2026, 3, 2))
    copy = working_copies.refresh(ctx)
    assert copy is not None
    copy.write_bytes(b"not a DuckDB database, e.g. damaged on disk")
    req = request(quota=100, criteria=CRITERIA)
    assert apply(runtime, req) == [] and one_prepared(runtime, req.request_id)["record_count"] == 100
    assert not copy.exists() and not ctx.working_copies._aliases
    assert working_copies.refresh(ctx) == copy and copy.is_file()  # built again by the next run of the loop


def test_the_workers_loop_builds_the_copy_and_is_off_when_turned_off(tmp_path: Path, snapshot: Path) -> None:
    off = make_runtime(tmp_path / "off", targeting_working_copy=False)
    assert "targeting-working-copy" not in [loop.name for loop in off.loops_for("worker")]
    off.engine.dispose()
    rt = make_runtime(tmp_path / "on", targeting_working_copy_seconds=0.05)
    assert "targeting-working-copy" in [loop.name for loop in rt.loops_for("worker")]
    assert "targeting-working-copy" not in [loop.name for loop in rt.loops_for("api") + rt.loops_for("jobs")]
    stop = rt.start_loops("worker")
    try:
        assert apply(rt, dataset_event(snapshot)) == []
        copy = _copy_of(rt, snapshot)
        deadline = time.monotonic() + 30
        while not copy.is_file() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert copy.is_file()
    finally:
        stop()
        rt.engine.dispose()


def test_a_copy_made_under_a_key_no_longer_current_is_not_read_and_is_replaced(tmp_path: Path, snapshot: Path) -> None:
    old_ring = "k1:first-subject-key-0123456789"
    rt = make_runtime(tmp_path / "before", subject_hash_keys=old_ring)
    assert apply(rt, dataset_event(snapshot)) == []
    first = working_copies.refresh(rt.context)
    assert first == _copy_of(rt, snapshot, "k1")
    rt.engine.dispose()
    # the key is rotated (a new configuration: the same data directory, a ring with k2 current)
    rotated = make_runtime(tmp_path / "before", subject_hash_keys=f"k2:second-subject-key-0123456789,{old_ring}")
    with rotated.sessions() as session:
        from p3ke_targeting.service_layer.datasets import dataset_row

        assert working_copies.for_dataset(rotated.context, dataset_row(session, None)) is None
    second = working_copies.refresh(rotated.context)
    assert second == _copy_of(rotated, snapshot, "k2") and second.is_file() and not first.exists()
    rotated.engine.dispose()
