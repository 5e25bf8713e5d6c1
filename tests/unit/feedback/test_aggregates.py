"""Running aggregates: delivered counts settle once whatever order handover-signed, extract-prepared and
dataset-updated arrive in, repeats change nothing, contradictions are dead-lettered, and the cells always
equal a recomputation from the stored rows (after batches, corrections and replays)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from p3ke_feedback.adapters.orm import signed_handovers
from p3ke_feedback.service_layer import batches
from p3ke_platform.service import Runtime
from tests.unit.feedback.helpers import (
    apply,
    consistent_cells,
    dataset_event,
    extract_event,
    feedback_row,
    feedback_runtime,
    handover_event,
    prepared_extract,
    submit,
    write_csv,
    write_extract,
)


def _state(rt: Runtime, handover_id: str) -> dict[str, Any]:
    with rt.sessions() as session:
        return dict(session.execute(select(signed_handovers).where(
            signed_handovers.c.handover_id == handover_id)).mappings().one())


def _delivered(cells: dict[tuple[Any, ...], dict[str, int]], program: str) -> int:
    return sum(v["delivered"] for k, v in cells.items() if k[0] == program)


def _submit(rt: Runtime, tmp: Path, handover: str, program: str, rows: list[list[str]],
            supersedes: str | None = None) -> batches.Stored:
    return submit(rt, write_csv(tmp / f"{handover}-{len(rows)}-{supersedes}.csv", rows), handover, program, supersedes)


def test_out_of_order_and_repeated_events(tmp_path: Path, snapshot: Path) -> None:
    rt, people = feedback_runtime(tmp_path, snapshot)
    # ho-a: its extract carries region and desil; ho-b: only NIKs (looked up in the snapshot);
    # ho-c: neither NIK nor region (the desil counts of extract-prepared are all there is)
    by_desil = {str(d): sum(1 for p in people[500:560] if p["desil_kesejahteraan"] == d) for d in (1, 2, 3, 4)}
    ho_a = handover_event("ho-a", "ext-a", 300)
    ho_b = handover_event("ho-b", "ext-b", 200, program="pbi_jamsostek_pekerja_rentan")
    ho_c = handover_event("ho-c", "ext-c", 60, program="tenaga_kerja_mandiri")
    ev_a = prepared_extract(tmp_path, "ext-a", people[:300])
    ev_b = prepared_extract(tmp_path, "ext-b", people[300:500], columns=["nik"], program="pbi_jamsostek_pekerja_rentan")
    ev_c = prepared_extract(tmp_path, "ext-c", people[500:560], columns=["desil_kesejahteraan"],
                            program="tenaga_kerja_mandiri", counts_by_desil=by_desil)

    assert apply(rt, ho_a, ho_b, ho_c) == []  # handovers before their extracts
    assert _state(rt, "ho-a")["delivered_state"] == "pending"
    assert "waiting for extract-prepared" in _state(rt, "ho-a")["delivered_reason"]
    assert apply(rt, ev_b, ev_a, ev_c, ho_a) == []  # extracts arrive, a handover again (new event id)
    assert _state(rt, "ho-a")["delivered_state"] == "settled"
    assert _state(rt, "ho-c")["delivered_state"] == "settled"
    assert _state(rt, "ho-b")["delivered_state"] == "pending"
    assert "waiting for dataset version dv-1" in _state(rt, "ho-b")["delivered_reason"]
    assert _delivered(consistent_cells(rt), "padat_karya") == 300
    assert apply(rt, dataset_event(snapshot)) == []  # the snapshot last
    assert _state(rt, "ho-b")["delivered_total"] == 200
    assert apply(rt, dataset_event(snapshot), ev_a, ev_b, ho_b, ho_c) == []  # every event again
    assert apply(rt, ev_a, event_ids=["same-id"]) == [] and apply(rt, ev_a, event_ids=["same-id"]) == []
    cells = consistent_cells(rt)
    assert _delivered(cells, "padat_karya") == 300 and _delivered(cells, "pbi_jamsostek_pekerja_rentan") == 200
    assert _delivered(cells, "tenaga_kerja_mandiri") == 60
    assert {k[3] for k in cells if k[0] == "tenaga_kerja_mandiri"} <= {1, 2, 3, 4}
    assert all(k[2] == "" for k in cells if k[0] == "tenaga_kerja_mandiri")
    regency = {p["nik"]: p["kode_kemendagri"][:4] for p in people}
    pbi_regions = {k[2] for k in cells if k[0] == "pbi_jamsostek_pekerja_rentan"}
    assert pbi_regions == {regency[p["nik"]] for p in people[300:500]}

    # batches, a correction, and a replay of everything: still equal to the recomputation
    first = _submit(rt, tmp_path, "ho-a", "padat_karya", [feedback_row(p["nik"]) for p in people[:120]])
    _submit(rt, tmp_path, "ho-b", "pbi_jamsostek_pekerja_rentan",
            [feedback_row(p["nik"], program="pbi", status="dibayar") for p in people[300:350]])
    _submit(rt, tmp_path, "ho-a", "padat_karya", [feedback_row(p["nik"], status="putus") for p in people[100:150]],
            supersedes=first.batch["batch_id"])
    assert apply(rt, ho_a, ev_a, ho_b, ev_b, ho_c, ev_c, dataset_event(snapshot)) == []
    cells = consistent_cells(rt)
    padat = [v for k, v in cells.items() if k[0] == "padat_karya"]
    assert sum(v["served"] for v in padat) == 50 and sum(v["st_dropped_out"] for v in padat) == 50
    assert sum(v["st_completed"] for v in padat) == 0  # the superseded batch is out
    assert sum(v["served_in_extract"] for v in padat) == 50


def test_contradicting_events_are_dead_lettered(tmp_path: Path, snapshot: Path) -> None:
    rt, people = feedback_runtime(tmp_path, snapshot)
    good = prepared_extract(tmp_path, "ext-x", people[:10])
    assert apply(rt, good, handover_event("ho-x", "ext-x", 10), dataset_event(snapshot)) == []
    forged = good.model_copy(update={"file_sha256": "0" * 64})
    rejected = apply(rt, forged, handover_event("ho-x", "ext-other", 10),
                     dataset_event(snapshot).model_copy(update={"snapshot_sha256": "1" * 64}))
    reasons = sorted(reason for _, reason in rejected)
    assert len(reasons) == 3
    assert "dataset version dv-1 was announced before with another SHA-256" in reasons[0]
    assert "extract ext-x was announced before with another SHA-256" in reasons[1]
    assert "handover ho-x was announced before with another extract or program" in reasons[2]
    assert _delivered(consistent_cells(rt), "padat_karya") == 10


def test_an_altered_extract_is_a_problem_not_a_count(tmp_path: Path, snapshot: Path) -> None:
    rt, people = feedback_runtime(tmp_path, snapshot)
    ext = tmp_path / "extracts" / "y.parquet"  # altered after its event: the test needs the file itself
    write_extract(ext, people[:10])
    event = extract_event(ext, "ext-y")
    ext.write_bytes(ext.read_bytes()[:-10])
    assert apply(rt, event, handover_event("ho-y", "ext-y", 10)) == []
    state = _state(rt, "ho-y")
    assert state["delivered_state"] == "problem" and "does not match its announced SHA-256" in state["delivered_reason"]
    assert consistent_cells(rt) == {}


def test_a_correction_that_drops_a_person_counts_their_other_report(tmp_path: Path, snapshot: Path) -> None:
    """Tranche 2 repeats 50 persons of tranche 1 (duplicates, counted in tranche 1). A correction of tranche 1
    drops 20 of them: those are counted in tranche 2 from then on, once; a correction of tranche 2 in turn
    takes them out again."""
    rt, people = feedback_runtime(tmp_path, snapshot)
    extract = prepared_extract(tmp_path, "ext-t", people[:400])
    assert apply(rt, dataset_event(snapshot), extract, handover_event("ho-t", "ext-t", 400)) == []

    def served() -> int:
        return sum(v["served"] for v in consistent_cells(rt).values())

    rows = [feedback_row(p["nik"]) for p in people[:200]]
    t1 = _submit(rt, tmp_path, "ho-t", "padat_karya", rows)
    t2 = _submit(rt, tmp_path, "ho-t", "padat_karya",
                 [feedback_row(p["nik"], status="aktif") for p in people[150:300]])
    assert t2.batch["served"] == 100 and served() == 300
    _submit(rt, tmp_path, "ho-t", "padat_karya", rows[:180], supersedes=t1.batch["batch_id"])
    assert served() == 300  # 180 + 100 + the 20 of tranche 2 that nobody else counts now
    cells = consistent_cells(rt)
    assert sum(v["st_enrolled"] for v in cells.values()) == 120
    assert sum(v["cls_duplicate"] for v in cells.values()) == 30
    _submit(rt, tmp_path, "ho-t", "padat_karya", [feedback_row(p["nik"], status="aktif") for p in people[190:300]],
            supersedes=t2.batch["batch_id"])
    assert served() == 290  # 180 + 110: persons 180-189 are no longer reported by anyone
