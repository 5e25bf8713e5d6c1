"""Targeting's side of the retention schedule on SQLite, through the real inbox and real Parquet files: the
`handover-milestone` handler (first report wins, unknown extracts and foreign agreements dead-lettered with a
reason in Indonesian first), the inventory's events and due times, the disposer (the file and an interrupted
write's leftovers, idempotent) and the persons it names (from the ledger with its key id, else from the extract's
NIKs), and a disposed ledger no longer read to exclude earlier recipients."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from sqlalchemy import insert, select

from p3ke_platform.retention import Kind, Trigger, agreement_end, schedule_artefacts
from p3ke_platform.service import Runtime
from p3ke_platform.subject_keys import subject_ref
from p3ke_schemas import HandoverMilestone
from p3ke_targeting.adapters.orm import disposal, extract_milestones, extracts
from p3ke_targeting.domain.selection import Invalid
from p3ke_targeting.service_layer import retention_disposal, retention_inventory
from p3ke_targeting.service_layer.extracts import ledgers_for
from tests.unit.targeting.helpers import AGREEMENT, PROGRAM, apply, dataset_event, make_runtime, request

KEY_RING = "k2:second-subject-key-0123456789,k1:local-development-subject-key"


def _extract(runtime: Runtime, **overrides: Any) -> dict[str, Any]:
    req = request(quota=30, **overrides)
    assert apply(runtime, req) == []
    with runtime.engine.connect() as conn:
        return dict(conn.execute(select(extracts).where(extracts.c.request_id == req.request_id)).mappings().one())


def _milestone(extract_id: str, at: datetime, milestone: str = "package-downloaded",
               agreement: str = AGREEMENT) -> HandoverMilestone:
    return HandoverMilestone(handover_id=f"hov-{uuid.uuid4().hex[:8]}", extract_id=extract_id,
                             agreement_id=agreement, milestone=milestone, occurred_at=at)  # type: ignore[arg-type]


def _artefacts(runtime: Runtime) -> dict[tuple[str, str], Any]:
    return {(a.kind.value, a.resource_id): a for a in retention_inventory.artefacts(runtime.context)}


def test_the_first_report_of_each_milestone_wins_and_the_earliest_starts_the_period(runtime: Runtime) -> None:
    extract = _extract(runtime)["extract_id"]
    downloaded = datetime(2026, 3, 10, 3, tzinfo=UTC)
    revoked = datetime(2026, 3, 5, 1, tzinfo=UTC)
    # both reports of the download in one batch, then again in another: only the first counts
    assert apply(runtime, _milestone(extract, downloaded), _milestone(extract, downloaded + timedelta(days=3))) == []
    assert apply(runtime, _milestone(extract, downloaded - timedelta(days=1))) == []
    assert apply(runtime, _milestone(extract, revoked, "handover-revoked")) == []
    with runtime.engine.connect() as conn:
        stored = conn.scalar(select(extract_milestones.c.occurred_at).where(
            extract_milestones.c.milestone == "package-downloaded"))
    assert stored is not None and stored.replace(tzinfo=UTC) == downloaded
    artefact = _artefacts(runtime)[("extract", extract)]
    assert artefact.events == {Trigger.PACKAGE_DOWNLOADED: downloaded, Trigger.HANDOVER_REVOKED: revoked}
    ctx = runtime.context
    [scheduled] = schedule_artefacts(ctx.retention_schedule, [artefact], agreement_end(ctx.policy.agreement))
    assert scheduled.due is not None and scheduled.due.trigger is Trigger.HANDOVER_REVOKED
    assert scheduled.due.at == datetime(2026, 4, 4, 17, tzinfo=UTC)  # 5 March WIB + 30 days, to the end of the day


def test_an_extract_without_milestones_and_its_ledger_are_due_when_the_agreement_ends(runtime: Runtime) -> None:
    row = _extract(runtime)
    found = _artefacts(runtime)
    extract, ledger = found[("extract", row["extract_id"])], found[("selection-ledger", row["extract_id"])]
    assert (extract.path, extract.sha256, extract.events) == (Path(row["file_uri"]), row["file_sha256"], {})
    assert (ledger.path, ledger.sha256, ledger.resource_type) == (Path(row["ledger_uri"]), row["ledger_sha256"],
                                                                 "selection-ledger")
    ctx = runtime.context
    ends = agreement_end(ctx.policy.agreement)
    due = {s.artefact.kind: s.due for s in schedule_artefacts(ctx.retention_schedule, [extract, ledger], ends)}
    assert due[Kind.EXTRACT] is not None and due[Kind.EXTRACT].at == ends and due[Kind.EXTRACT].capped_by_agreement
    assert due[Kind.SELECTION_LEDGER] is not None and due[Kind.SELECTION_LEDGER].at == ends
    assert due[Kind.SELECTION_LEDGER].trigger is Trigger.AGREEMENT_ENDED


def test_a_milestone_of_an_unknown_extract_or_another_agreement_is_dead_lettered(runtime: Runtime) -> None:
    [(_, reason)] = apply(runtime, _milestone("ext-unknown", datetime.now(UTC)))
    assert reason.startswith("ekstrak 'ext-unknown' tidak dikenal layanan targeting") and " / extract " in reason
    extract = _extract(runtime)["extract_id"]
    [(_, reason)] = apply(runtime, _milestone(extract, datetime.now(UTC), agreement="pks-lain"))
    assert "menyebut perjanjian 'pks-lain'" in reason and "correct the agreement_id" in reason
    with runtime.engine.connect() as conn:
        assert conn.execute(select(extract_milestones)).all() == []


def test_dispose_deletes_the_file_and_an_interrupted_writes_leftovers_once(runtime: Runtime) -> None:
    row = _extract(runtime)
    artefact = _artefacts(runtime)[("extract", row["extract_id"])]
    path = Path(row["file_uri"])
    leftover = path.parent / f".{path.name}.0a1b2c3d.tmp"
    leftover.write_bytes(b"half a file")
    other = path.parent / "ext-other.parquet.tmp"
    other.write_bytes(b"not this extract's")
    disposed = retention_disposal.dispose(runtime.context, artefact)
    assert disposed.sha256 == row["file_sha256"] and "1 berkas sementara" in disposed.detail
    assert not path.exists() and not leftover.exists() and other.exists()
    assert Path(row["ledger_uri"]).is_file()
    again = retention_disposal.dispose(runtime.context, artefact)  # a run that stopped after destroying
    assert again.sha256 == row["file_sha256"] and again.detail == ""
    assert ("extract", row["extract_id"]) not in _artefacts(runtime)


def test_the_persons_named_are_the_ledgers_with_its_key_else_the_extracts_niks(tmp_path: Path,
                                                                                snapshot: Path) -> None:
    rt = make_runtime(tmp_path, subject_hash_keys=KEY_RING)
    try:
        assert apply(rt, dataset_event(snapshot)) == []
        row = _extract(rt)
        no_nik = _extract(rt, fields=["jenis_kelamin", "kode_kemendagri", "desil_kesejahteraan"])
        assert row["ledger_key_id"] == "k2"
        found = _artefacts(rt)
        extract, ledger = found[("extract", row["extract_id"])], found[("selection-ledger", row["extract_id"])]
        refs = sorted(pq.read_table(row["ledger_uri"]).column("subject_ref").to_pylist())
        for artefact in (extract, ledger):
            named = retention_disposal.subjects(rt.context, artefact)
            assert sorted(named.refs) == refs and len(refs) == 30 and named.key_id == "k2"
        niks = pq.read_table(row["file_uri"], columns=["nik"]).column("nik").to_pylist()
        assert sorted(subject_ref("second-subject-key-0123456789", n) for n in niks) == refs

        Path(row["ledger_uri"]).unlink()  # the ledger gone first (another schedule): read from the extract's NIKs
        named = retention_disposal.subjects(rt.context, extract)
        assert sorted(named.refs) == refs and named.key_id == "k2"

        Path(no_nik["ledger_uri"]).unlink()
        artefact = _artefacts(rt)[("extract", no_nik["extract_id"])]
        assert retention_disposal.subjects(rt.context, artefact).refs == ()
    finally:
        rt.engine.dispose()


def test_a_disposed_ledger_is_no_longer_read_but_a_lost_one_still_stops_a_selection(runtime: Runtime) -> None:
    first, second = _extract(runtime), _extract(runtime)
    Path(first["ledger_uri"]).unlink()
    with runtime.context.sessions() as session, pytest.raises(Invalid, match="recipient ledger of extract"):
        ledgers_for(runtime.context, session, PROGRAM)
    with runtime.context.sessions() as session, session.begin():
        session.execute(insert(disposal.disposals).values(
            kind="selection-ledger", resource_type="selection-ledger", resource_id=first["extract_id"],
            path=first["ledger_uri"], sha256=first["ledger_sha256"], rule="selection-ledger: test", trigger=
            "agreement-ended", due_at=datetime.now(UTC), subject_refs="[]", state="done",
            decided_at=datetime.now(UTC), disposed_at=datetime.now(UTC)))
    with runtime.context.sessions() as session:
        paths, rows = ledgers_for(runtime.context, session, PROGRAM)
    assert paths == [Path(second["ledger_uri"])] and rows == second["record_count"]
