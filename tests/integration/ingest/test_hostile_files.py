"""Hostile files sent to the real ingest API process (`python -m p3ke_ingest api`): an XLSX bomb, a ZIP
bomb, a ZIP of 65,535+ entries, a nested archive and a `../` name are refused in under a second with the
process's peak memory growing by less than 50 MB; nothing is stored (no file in the upload directory,
no upload row) and each refusal is in the audit trail (a denied `data-access` event in the outbox).

Memory is the server process's own peak RSS (Linux `VmHWM`), reset before each upload through
`/proc/<pid>/clear_refs`, so what is measured is the peak while the file was received and refused.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from tests import hostile_files as hostile
from tests.integration.ingest.test_streaming_upload import ApiProcess

MB = 2**20
DENIED = """SELECT count(*) FROM outbox WHERE CAST(value AS TEXT) LIKE '%"outcome":"denied"%'"""


def _reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := current RSS (Linux >= 4.0)


def _peak(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/<pid>/status")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    import os
    import uuid

    tmp = tmp_path_factory.mktemp("hostile")
    env = {k: v for k, v in os.environ.items() if not k.startswith("P3KE_")}
    env.update(P3KE_ENV="test", P3KE_DATA_DIR=str(tmp / "data"), P3KE_CONSUMER_GROUP=f"test-{uuid.uuid4().hex[:8]}")
    (tmp / "imports").mkdir()
    proc = ApiProcess(tmp, env, P3KE_INGEST_IMPORT_DIRS=json.dumps([str(tmp / "imports")])).start()
    try:
        yield proc
    finally:
        proc.stop()


CASES: list[tuple[str, Callable[[Path], Path], int, str]] = [
    ("bomb.xlsx", hostile.xlsx_bomb, 413, "rasio kompresi"),
    ("bomb.zip", hostile.zip_bomb, 413, "rasio kompresi"),
    ("many.zip", hostile.zip_many_entries, 413, "jumlah entri dalam arsip"),
    ("nested.xlsx", hostile.zip_nested, 422, "berisi arsip lain"),
    ("traversal.zip", hostile.zip_traversal, 422, "nama jalur yang tidak aman"),
]


@pytest.mark.parametrize(("name", "build", "status", "words"), CASES, ids=[c[0] for c in CASES])
def test_a_hostile_upload_is_refused_fast_small_and_leaves_nothing(api: ApiProcess, tmp_path: Path, name: str,
                                                                   build: Callable[[Path], Path], status: int,
                                                                   words: str) -> None:
    path = build(tmp_path / name)
    body = path.read_bytes()
    server: psutil.Process = api.process
    uploads = Path(api.env["P3KE_DATA_DIR"]) / "ingest" / "uploads"
    with sqlite3.connect(api.database) as db:
        denied_before = db.execute(DENIED).fetchone()[0]
    with api.client() as client:
        client.get("/healthz")
        _reset_peak(server.pid)
        rss_before = server.memory_info().rss
        started = time.perf_counter()
        r = client.post("/v1/uploads", params={"filename": name}, content=body,
                        headers={"Content-Type": "application/octet-stream"})
        elapsed = time.perf_counter() - started
    grew = (_peak(server.pid) - rss_before) / MB
    print(f"{name} ({len(body) / MB:.1f} MB): {r.status_code} in {elapsed:.2f} s, peak RSS grew {grew:.1f} MB")
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert words in detail and "Cara memperbaiki: simpan ulang" in detail, detail  # Indonesian, and how to fix it
    assert r.json()["code"].startswith("file.hostile_")
    assert r.headers["X-P3KE-Refusal"] in ("archive-limit", "archive-malformed")
    assert elapsed < 1.0, f"refused in {elapsed:.2f} s"
    assert grew < 50, f"the API process grew {grew:.0f} MB"
    assert not uploads.exists() or not list(uploads.iterdir()), "a refused upload left a file"
    with sqlite3.connect(api.database) as db:
        assert db.execute("SELECT count(*) FROM ingest_uploads").fetchone() == (0,)
        denied = db.execute(DENIED).fetchone()[0]
        assert denied == denied_before + 1, "the refusal is not in the audit trail"


def test_a_real_workbook_is_still_accepted(api: ApiProcess, tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["nik", "nama"])
    wb.active.append(["3201010101010001", "Siti"])
    wb.save(tmp_path / "ok.xlsx")
    with api.client() as client:
        r = client.post("/v1/uploads", params={"filename": "ok.xlsx"}, content=(tmp_path / "ok.xlsx").read_bytes())
    assert r.status_code == 201, r.text


def test_a_bomb_named_by_path_is_refused_with_413(api: ApiProcess) -> None:
    """A submission naming a file in an import directory meets the same guard (no upload involved)."""
    imports = api.tmp / "imports"
    bomb = hostile.xlsx_bomb(imports / "bomb.xlsx")
    with api.client() as client:
        r = client.post("/v1/submissions", json={"individual": {"path": str(bomb)}})
    assert r.status_code == 413 and "rasio kompresi" in r.json()["detail"], r.text
