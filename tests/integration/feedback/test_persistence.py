"""The feedback use cases on SQLite and on PostgreSQL (production's database): events in any order and
again, batches in tranches, a correction, concurrent uploads; the running aggregates equal a
recomputation from the stored rows on both."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from p3ke_feedback.service_layer import aggregates, batches
from p3ke_platform.service import Runtime
from tests.unit.feedback.helpers import (
    OFFICER,
    apply,
    dataset_event,
    extract_event,
    feedback_row,
    handover_event,
    make_runtime,
    sha256_of,
    snapshot_people,
    write_csv,
    write_extract,
)


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from p3ke_ingest.synth import generate

    out = tmp_path_factory.mktemp("feedback-persistence")
    return generate(out, individuals=4_000, fmt="parquet", seed=2, provinces=["32", "51"],
                    family_file=False).individual_path


def _submit(rt: Runtime, path: Path, handover: str, program: str, supersedes: str | None = None) -> Any:
    upload = batches.Upload(path=path, filename=path.name, size=path.stat().st_size, sha256=sha256_of(path))
    return batches.submit(rt.context, OFFICER, batches.Submission(handover, program, supersedes), upload)


def test_feedback_persists_the_same_on_sqlite_and_postgresql(database_url: str, tmp_path: Path,
                                                            snapshot: Path) -> None:
    rt = make_runtime(tmp_path, database_url, feedback_shared_root=snapshot.parents[1])
    people = snapshot_people(snapshot)
    ext_a, ext_b = tmp_path / "extracts" / "a.parquet", tmp_path / "extracts" / "b.parquet"
    write_extract(ext_a, people[:600])
    write_extract(ext_b, people[600:900], columns=["nik"])
    events = [handover_event("ho-b", "ext-b", 300, program="pelatihan_berbasis_kompetensi"),
              extract_event(ext_b, "ext-b", program="pelatihan_berbasis_kompetensi"),
              handover_event("ho-a", "ext-a", 600), dataset_event(snapshot), extract_event(ext_a, "ext-a")]
    assert apply(rt, *events) == [] and apply(rt, *reversed(events)) == []

    tranche_1 = write_csv(tmp_path / "t1.csv", [feedback_row(p["nik"]) for p in people[:200]])
    tranche_2 = write_csv(tmp_path / "t2.csv", [feedback_row(p["nik"], status="aktif") for p in people[150:300]])
    first = _submit(rt, tranche_1, "ho-a", "padat_karya")
    second = _submit(rt, tranche_2, "ho-a", "padat_karya")
    assert second.batch["served"] == 100  # 50 were reported in the first tranche
    fix = write_csv(tmp_path / "fix.csv", [feedback_row(p["nik"], status="putus") for p in people[:180]])
    _submit(rt, fix, "ho-a", "padat_karya", supersedes=first.batch["batch_id"])

    # two officers upload at the same time, for two handovers
    files = {"ho-b": write_csv(tmp_path / "b.csv", [feedback_row(p["nik"], program="pbk") for p in people[600:800]]),
             "ho-a": write_csv(tmp_path / "a.csv", [feedback_row(p["nik"]) for p in people[300:400]])}
    programs = {"ho-a": "padat_karya", "ho-b": "pelatihan_berbasis_kompetensi"}
    errors: list[BaseException] = []

    def run(handover: str) -> None:
        try:
            _submit(rt, files[handover], handover, programs[handover])
        except BaseException as exc:  # report in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(h,)) for h in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert apply(rt, *events) == []
    with rt.sessions() as session:
        cells = aggregates.current_cells(session)
        assert cells == aggregates.recompute(session, rt.context.storage)
    padat = [v for k, v in cells.items() if k[0] == "padat_karya"]
    assert sum(v["delivered"] for v in padat) == 600
    # 180 (the fix) + 100 (tranche 2) + 20 (tranche 2's duplicates of the superseded tranche that the fix
    # dropped: counted in tranche 2 now) + 100 = 400 persons, each once
    assert sum(v["served"] for v in padat) == 400 and sum(v["cls_duplicate"] for v in padat) == 30
    pbk = [v for k, v in cells.items() if k[0] == "pelatihan_berbasis_kompetensi"]
    assert sum(v["delivered"] for v in pbk) == 300 and sum(v["served_in_extract"] for v in pbk) == 200
    rt.engine.dispose()
