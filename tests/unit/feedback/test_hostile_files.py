"""Hostile files sent as data balikan through the feedback API (the service's real app, in process): an
XLSX bomb, a ZIP bomb and a ZIP of 65,535+ entries are refused in under a second, audited, and nothing
is stored.

The app runs in this process (TestClient), so memory is measured with tracemalloc: the peak of Python
allocations while the request runs, which is where openpyxl's shared strings (or any decompressed
bytes) would go. The request body (a few MB, held by the test client) is counted in it too.
"""

from __future__ import annotations

import csv
import gc
import io
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from p3ke_feedback.adapters.orm import feedback_batches
from tests import hostile_files as hostile
from tests.unit.feedback.conftest import World, auth, upload
from tests.unit.feedback.helpers import emitted, feedback_row, write_csv

CASES: list[tuple[str, Callable[[Path], Path], int]] = [
    ("bomb.xlsx", hostile.xlsx_bomb, 413),
    ("bomb.zip", hostile.zip_bomb, 413),
    ("many.zip", hostile.zip_many_entries, 413),
    ("nested.xlsx", hostile.zip_nested, 422),
]


@pytest.mark.parametrize(("name", "build", "status"), CASES, ids=[c[0] for c in CASES])
def test_a_hostile_data_balikan_is_refused_and_nothing_is_stored(client: TestClient, world: World, name: str,
                                                                 build: Callable[[Path], Path], status: int) -> None:
    path = build(world.tmp / name)
    gc.collect()  # the garbage of earlier tests is collected before the timed window, not inside it (a full
    # collection of a long test session's heap, with every allocation traced, took 2.5 s once)
    tracemalloc.start()
    try:
        started = time.perf_counter()
        response = upload(client, world, path)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert response.status_code == status, response.text
    assert "Cara memperbaiki: simpan ulang" in response.json()["detail"]  # Indonesian, and how to fix it
    assert response.json()["code"].startswith("file.hostile_")
    assert elapsed < 1.0 and peak < 50 * 2**20, (elapsed, peak / 2**20)
    storage = Path(world.runtime.settings.data_dir) / "feedback"
    assert not list((storage / "incoming").glob("*"))
    with world.runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(feedback_batches)) == 0
    [refusal] = [e for e in emitted(world.runtime, "p3ke.data-access.v1") if e["outcome"] == "denied"]
    assert refusal["action"] == "upload" and refusal["resource_type"] == "feedback-batch"


def test_the_findings_csv_keeps_formula_cells_text(client: TestClient, world: World) -> None:
    """A value that starts like a formula comes out of the findings CSV with a leading ' (OWASP)."""
    hostile_values = ['=HYPERLINK("http://x.example","klik")', "+1", "-2", "@SUM(A1:A9)"]
    d = world.delivered
    rows = [feedback_row(d[i]["nik"], status=v) for i, v in enumerate(hostile_values)]
    rows.append(feedback_row(d[9]["nik"], status="bukan-status"))
    rows += [feedback_row(p["nik"]) for p in d[10:40]]  # valid rows, so that the batch is stored
    response = upload(client, world, write_csv(world.tmp / "formula.csv", rows))
    assert response.status_code == 201, response.text
    batch_id = response.json()["batch_id"]
    text = client.get(f"/v1/feedback-batches/{batch_id}/findings.csv", headers=auth(world.runtime)).text
    values = [r["value"] for r in csv.DictReader(io.StringIO(text.lstrip("\ufeff"))) if r["field"] == "status"]
    assert sorted(values) == sorted(["'" + v for v in hostile_values] + ["bukan-status"]), text
