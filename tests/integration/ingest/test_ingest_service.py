"""The ingest service end to end on a real database (SQLite and PostgreSQL): upload, submit, validate,
publish through the outbox, refuse, audit, deduplicate, resume after a crash."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from p3ke_ingest.adapters.orm import dataset_versions, submissions
from p3ke_ingest.adapters.storage import sha256_file
from p3ke_ingest.bootstrap import SERVICE
from p3ke_ingest.config import IngestSettings
from p3ke_ingest.service_layer.jobs import JobRunner
from p3ke_ingest.synth import generate, read_defect_log
from p3ke_platform.api import create_app
from p3ke_platform.auth import DevIssuer
from p3ke_platform.migrations import upgrade
from p3ke_platform.service import Runtime
from p3ke_platform.settings import load_settings
from p3ke_schemas import from_kafka
from p3ke_schemas.generate import CONTRACT_DIR


@pytest.fixture(scope="module")
def snapshot_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("synth")
    clean = generate(out / "clean", individuals=3000, seed=11)
    dirty = generate(out / "dirty", individuals=3000, seed=12, defects=0.02)
    return {"individual": clean.individual_path, "family": clean.family_path,  # type: ignore[dict-item]
            "dirty_individual": dirty.individual_path, "dirty_family": dirty.family_path,  # type: ignore[dict-item]
            "dirty_log": dirty.defect_log, "import_dir": out, "families": clean.rows["family"]}  # type: ignore[dict-item]


@pytest.fixture
def service(database_url: str, tmp_path: Path, snapshot_files: dict[str, Path]) -> Iterator[Any]:
    settings = load_settings(IngestSettings, service="ingest", database_url=database_url, data_dir=tmp_path / "data",
                             env="test", relay_in_api=False, jobs_in_api=False,
                             ingest_import_dirs=[snapshot_files["import_dir"]], ingest_engine_memory_mb=256)
    upgrade(SERVICE, settings)
    runtime = Runtime(SERVICE, settings)
    client = TestClient(create_app(runtime))
    issuer = DevIssuer(settings)

    class Service:
        pass

    s = Service()
    s.runtime, s.client, s.ctx = runtime, client, runtime.context  # type: ignore[attr-defined]
    s.steward = {"Authorization": f"Bearer {issuer.mint('steward-1', 'kemenkopmk', ['data-steward'])}"}  # type: ignore[attr-defined]
    s.operator = {"Authorization": f"Bearer {issuer.mint('operator-1', 'kemenkopmk', ['operator'])}"}  # type: ignore[attr-defined]
    s.officer = {"Authorization": f"Bearer {issuer.mint('officer-1', 'kemnaker', ['program-officer'])}"}  # type: ignore[attr-defined]
    yield s
    runtime.engine.dispose()


EN = {"Accept-Language": "en"}


def _upload(s: Any, path: Path) -> str:
    r = s.client.post("/v1/uploads", params={"filename": path.name}, content=path.read_bytes(),
                      headers={**s.steward, "Content-Type": "text/csv"})
    assert r.status_code == 201, r.text
    assert r.json()["sha256"] == sha256_file(path)
    return r.json()["upload_id"]


def _outbox(s: Any) -> list[Any]:
    outbox = s.runtime.spec.tables.outbox
    with s.runtime.engine.connect() as conn:
        rows = conn.execute(select(outbox.c.key, outbox.c.value, outbox.c.headers).order_by(outbox.c.seq)).all()
    return [from_kafka(r.key.encode(), r.value, [(k, v.encode()) for k, v in json.loads(r.headers)]) for r in rows]


def _run(s: Any) -> dict[str, Any]:
    runner = JobRunner(s.ctx)
    assert runner.run_once()
    assert not runner.run_once()
    return s.client.get("/v1/submissions", headers=s.operator).json()[0]


def test_upload_submit_publish_through_the_outbox(service: Any, snapshot_files: dict[str, Path]) -> None:
    s = service
    ind, fam = _upload(s, snapshot_files["individual"]), _upload(s, snapshot_files["family"])
    r = s.client.post("/v1/submissions", json={"individual": {"upload_id": ind}, "family": {"upload_id": fam}},
                      headers=s.steward)
    assert r.status_code == 202, r.text
    sid = r.json()["submission_id"]
    assert s.client.get(f"/v1/submissions/{sid}", headers=s.operator).json()["status"] == "queued"
    done = _run(s)
    assert done["status"] == "published", done
    assert done["progress"] == 1.0
    version_id = done["dataset_version_id"]

    detail = s.client.get(f"/v1/dataset-versions/{version_id}", headers=s.operator).json()
    assert detail["current"] is True
    assert s.client.get("/v1/dataset-versions/current", headers=s.steward).json()["dataset_version_id"] == version_id
    assert detail["individuals"] == 3000 and detail["rows_rejected"] == 0
    snapshot = Path(detail["snapshot_uri"].removeprefix("file://"))
    assert snapshot.name == f"{detail['snapshot_sha256']}.parquet"
    assert sha256_file(snapshot) == detail["snapshot_sha256"]
    table = pq.read_table(snapshot)
    assert table.num_rows == 3000
    codes = table.column("kode_kemendagri").to_pylist()
    assert codes == sorted(codes)

    events = [e for e in _outbox(s) if e.type == "p3ke.dataset-updated.v1"]
    assert len(events) == 1
    data = events[0].data.model_dump(mode="json")
    schema = json.loads((CONTRACT_DIR / "jsonschema" / "p3ke.dataset-updated.v1.json").read_text())
    jsonschema.validate(data, schema)
    assert data["dataset_version_id"] == version_id and data["snapshot_sha256"] == detail["snapshot_sha256"]
    assert sum(data["counts_by_desil"].values()) == 3000 == sum(data["counts_by_province"].values())
    desil = table.column("desil_kesejahteraan").to_pylist()
    assert data["counts_by_desil"] == {str(d): desil.count(d) for d in sorted(set(desil))}
    assert data["families"] == snapshot_files["families"]  # type: ignore[comparison-overlap]
    assert data["published_by"]["subject"] == "steward-1"
    accesses = [e.data for e in _outbox(s) if e.type == "p3ke.data-access.v1"]
    assert {a.resource_type for a in accesses} >= {"dataset-upload", "dataset-submission", "dataset-version"}

    # the same files again: the same version, no new event
    again = s.client.post("/v1/submissions", json={"individual": {"upload_id": ind}, "family": {"upload_id": fam}},
                          headers=s.steward)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert not JobRunner(s.ctx).run_once()
    assert len([e for e in _outbox(s) if e.type == "p3ke.dataset-updated.v1"]) == 1


def test_same_content_by_path_is_unchanged_and_a_new_version_carries_the_diff(
        service: Any, snapshot_files: dict[str, Path]) -> None:
    s = service
    first = s.client.post("/v1/submissions", json={"individual": {"path": str(snapshot_files["individual"])}},
                          headers=s.steward)
    assert first.status_code == 202, first.text
    assert _run(s)["status"] == "published"
    # same content through an upload: a different input, the same snapshot
    upload = _upload(s, snapshot_files["individual"])
    assert s.client.post("/v1/submissions", json={"individual": {"upload_id": upload}},
                         headers=s.steward).status_code == 202
    assert _run(s)["status"] == "unchanged"
    # a different snapshot supersedes it, with persons added/removed/changed
    dirty = _upload(s, snapshot_files["dirty_individual"])
    assert s.client.post("/v1/submissions", json={"individual": {"upload_id": dirty}},
                         headers=s.steward).status_code == 202
    done = _run(s)
    assert done["status"] == "published", done
    detail = s.client.get(f"/v1/dataset-versions/{done['dataset_version_id']}", headers=s.steward).json()
    assert detail["supersedes"] is not None and detail["changes"]["persons_added"] > 0
    assert detail["rows_rejected"] > 0
    events = [e for e in _outbox(s) if e.type == "p3ke.dataset-updated.v1"]
    assert len(events) == 2 and events[1].data.supersedes == events[0].data.dataset_version_id
    assert events[0].data.changes is None
    assert events[1].data.changes.model_dump() == detail["changes"]
    assert len(s.client.get("/v1/dataset-versions", headers=s.operator).json()) == 2


def test_findings_are_paged_masked_downloadable_and_audited(service: Any, snapshot_files: dict[str, Path]) -> None:
    s = service
    ind, fam = _upload(s, snapshot_files["dirty_individual"]), _upload(s, snapshot_files["dirty_family"])
    sid = s.client.post("/v1/submissions", json={"individual": {"upload_id": ind}, "family": {"upload_id": fam}},
                        headers=s.steward).json()["submission_id"]
    assert _run(s)["status"] == "published"
    log = [d for d in read_defect_log(snapshot_files["dirty_log"]) if d.data_row is not None]
    page = s.client.get(f"/v1/submissions/{sid}/findings", params={"limit": 1000}, headers=s.steward).json()
    assert page["total"] >= len(log)
    got = {(f["file"], f["data_row"], f["code"]) for f in page["items"]}
    assert {(d.file, d.data_row, d.kind) for d in log} <= got
    csv_text = s.client.get(f"/v1/submissions/{sid}/findings.csv", headers=s.steward).text
    assert csv_text.startswith("\ufefffile,data_row,line,field,code,severity,message,fix,value")  # BOM: for Excel
    assert len(csv_text.splitlines()) == page["total"] + 1
    import re

    assert not re.search(r"\d{16}", csv_text), "a NIK in clear in the report"
    jsonl = s.client.get(f"/v1/submissions/{sid}/findings.jsonl", headers=s.steward).text
    assert len(jsonl.splitlines()) == page["total"]
    reads = [e.data for e in _outbox(s)
             if e.type == "p3ke.data-access.v1" and e.data.resource_type == "dataset-findings"]
    assert [r.action for r in reads] == ["read", "export", "export"] and all(r.outcome == "allowed" for r in reads)
    # an operator may see the status but not the row-level findings
    assert s.client.get(f"/v1/submissions/{sid}", headers=s.operator).status_code == 200
    assert s.client.get(f"/v1/submissions/{sid}/findings", headers=s.operator).status_code == 403


def test_only_party_1_data_steward_may_upload_and_refusals_are_audited(service: Any,
                                                                       snapshot_files: dict[str, Path]) -> None:
    s = service
    body = snapshot_files["individual"].read_bytes()[:1000]
    for who in (s.officer, s.operator):
        r = s.client.post("/v1/uploads", params={"filename": "x.csv"}, content=body, headers=who)
        assert r.status_code == 403, r.text
    r = s.client.post("/v1/submissions", json={"individual": {"path": str(snapshot_files["individual"])}},
                      headers=s.officer)
    assert r.status_code == 403
    assert s.client.post("/v1/uploads", content=body).status_code == 401
    denied = [e.data for e in _outbox(s) if e.type == "p3ke.data-access.v1"]
    assert len(denied) == 3
    assert all(d.outcome == "denied" and d.reason for d in denied)
    assert {d.actor.org for d in denied} == {"kemnaker", "kemenkopmk"}
    assert not list((s.ctx.storage.root / "uploads").iterdir())


def test_bad_requests_get_precise_4xx(service: Any, snapshot_files: dict[str, Path], tmp_path: Path) -> None:
    s = service
    post = s.client.post
    empty = post("/v1/uploads", content=b"", headers=s.steward)  # as feedback answers (p3ke_platform.uploads)
    assert empty.status_code == 422 and "Unggahan kosong" in empty.json()["detail"]
    r = post("/v1/uploads", content=b"abc", headers={**s.steward, "Content-Type": "multipart/form-data; boundary=x"})
    assert r.status_code == 415
    r = post("/v1/uploads", content=b"abc", headers={**s.steward, "X-Content-SHA256": "0" * 64})
    assert r.status_code == 400 and "SHA-256" in r.json()["detail"]
    garbage = post("/v1/uploads", content=bytes(range(256)) * 64, headers=s.steward).json()["upload_id"]
    r = post("/v1/submissions", json={"individual": {"upload_id": garbage}}, headers=s.steward)
    assert r.status_code == 422 and "biner" in r.json()["detail"] and r.json()["code"].startswith("file.")
    family_as_individual = _upload(s, snapshot_files["family"])
    r = post("/v1/submissions", json={"individual": {"upload_id": family_as_individual}}, headers=s.steward)
    assert r.status_code == 422 and r.json()["code"] == "file.wrong_level" and "file keluarga" in r.json()["detail"]
    outside = tmp_path / "outside.csv"
    outside.write_bytes(snapshot_files["individual"].read_bytes())
    r = post("/v1/submissions", json={"individual": {"path": str(outside)}}, headers=s.steward)
    assert r.status_code == 422 and r.json()["code"] == "path.outside" and r.json()["rule"] == "path"
    assert r.json()["detail"].startswith("Berkas individu: path berada di luar direktori impor yang diizinkan; salin")
    r = post("/v1/submissions", json={"individual": {"path": str(outside)}}, headers={**s.steward, **EN})
    assert r.status_code == 422 and r.json()["code"] == "path.outside" and r.headers["Content-Language"] == "en"
    assert r.json()["detail"].startswith("individual file: the path is outside the directories files may be submitted")
    nope = snapshot_files["import_dir"] / "nope.csv"
    r = post("/v1/submissions", json={"individual": {"path": str(nope)}}, headers=s.steward)
    assert r.status_code == 422 and r.json()["code"] == "path.no_such_file", r.text
    missing = s.client.get("/v1/submissions/nope", headers=s.steward)
    assert missing.status_code == 404 and missing.json()["code"] == "submission.not_found"
    assert missing.json()["detail"] == "Pengajuan nope tidak ditemukan; periksa id-nya (daftar: GET /v1/submissions)."
    r = s.client.get("/v1/dataset-versions/nope", headers={**s.steward, "Accept-Language": "en"})
    assert r.status_code == 404 and r.json() == {
        "detail": "no dataset version nope; check its id (list: GET /v1/dataset-versions)", "code": "version.not_found"}
    assert s.client.get("/v1/submissions/x/findings.xml", headers=s.steward).json()["code"] == "report.format"
    r = post("/v1/submissions", json={"individual": {"upload_id": "0" * 32}}, headers=s.steward)
    assert r.status_code == 422
    assert post("/v1/submissions", json={"individual": {}}, headers=s.steward).status_code == 422
    assert s.client.get("/v1/submissions/nope", headers=s.steward).status_code == 404
    assert s.client.get("/v1/dataset-versions/current", headers=s.steward).status_code == 404
    with s.runtime.engine.connect() as conn:
        assert conn.execute(select(submissions)).all() == []


def test_a_job_whose_worker_died_is_resumed_and_published_once(service: Any, snapshot_files: dict[str, Path]) -> None:
    s = service
    ind = _upload(s, snapshot_files["individual"])
    sid = s.client.post("/v1/submissions", json={"individual": {"upload_id": ind}},
                        headers=s.steward).json()["submission_id"]
    dead = JobRunner(s.ctx, worker_id="dead-worker")
    job = dead.claim()
    assert job is not None and job["submission_id"] == sid
    # the worker died mid-run: half a scratch directory, no heartbeat since
    (s.ctx.storage.work_dir(sid) / "individual-stage.parquet").write_bytes(b"half")
    live = JobRunner(s.ctx)
    assert not live.run_once()  # still leased
    stale = s.ctx.clock() - timedelta(seconds=s.ctx.settings.ingest_job_lease_seconds + 1)
    with s.runtime.engine.begin() as conn:
        conn.execute(update(submissions).values(heartbeat_at=stale))
    assert live.recover() == 1
    body = s.client.get(f"/v1/submissions/{sid}", headers=s.steward).json()
    assert (body["status"], body["phase"], body["progress"]) == ("queued", "requeued", 0.0)
    assert live.run_once()
    with s.runtime.engine.connect() as conn:
        row = conn.execute(select(submissions).where(submissions.c.submission_id == sid)).mappings().one()
        versions = conn.execute(select(dataset_versions)).all()
    assert row["status"] == "published" and row["attempts"] == 2
    assert len(versions) == 1
    assert len([e for e in _outbox(s) if e.type == "p3ke.dataset-updated.v1"]) == 1
    # the dead worker wakes up and tries to publish: its claim is gone, nothing changes
    from p3ke_ingest.service_layer import publication
    from p3ke_ingest.service_layer.validation import Outcome

    with pytest.raises(publication.LostClaim):
        publication.publish(s.ctx, job, Outcome(False, ["late"], {}, s.ctx.storage.root / "x"), "dead-worker")


def test_a_job_that_cannot_finish_fails_with_a_reason_in_both_languages_and_publishes_nothing(
        service: Any, snapshot_files: dict[str, Path]) -> None:
    s = service
    ind = _upload(s, snapshot_files["individual"])
    sid = s.client.post("/v1/submissions", json={"individual": {"upload_id": ind}},
                        headers=s.steward).json()["submission_id"]
    from p3ke_ingest.service_layer.submissions import upload_row

    s.ctx.storage.absolute(upload_row(s.ctx, ind)["path"]).unlink()  # removed under the queued job (say, by hand)
    assert JobRunner(s.ctx).run_once()
    body = s.client.get(f"/v1/submissions/{sid}", headers=s.steward).json()
    assert body["status"] == "failed"
    assert body["reasons"] == [
        "Validasi berhenti karena kesalahan internal (FileNotFoundError). Cara memperbaiki: laporkan id pengajuan ini "
        "kepada operator; rinciannya ada di log layanan ingest"]
    body = s.client.get(f"/v1/submissions/{sid}", headers={**s.steward, **EN}).json()
    assert body["reasons"] == [
        "Validation stopped on an internal error (FileNotFoundError). How to fix: report this submission's id to the "
        "operator; the details are in the ingest service's log"]
    assert str(snapshot_files["import_dir"]) not in json.dumps(body)  # no path, no exception text
    assert [e for e in _outbox(s) if e.type == "p3ke.dataset-updated.v1"] == []
    assert not (s.ctx.storage.root / "work" / sid).exists()  # the scratch directory is dropped


def test_a_job_without_room_on_the_work_volume_fails_before_any_work(
        service: Any, snapshot_files: dict[str, Path]) -> None:
    """A file larger than the work volume's free space (a real file, kept sparse: its size without its blocks) is not
    read at all: the job fails at once saying how much it needs and how much is free, in both languages."""
    import shutil

    from p3ke_ingest.service_layer.work_space import size_text

    s = service
    huge = snapshot_files["import_dir"] / "nasional.csv"
    free = shutil.disk_usage(s.ctx.storage.root / "work").free
    try:
        table = snapshot_files["individual"].read_bytes()  # a real table first: the submission's checks pass
        with huge.open("wb") as fh:
            fh.write(table)
            fh.truncate(free + 10**9)
        assert huge.stat().st_blocks * 512 < len(table) + 2**20, "the file system did not keep the file sparse"
        r = s.client.post("/v1/submissions", json={"individual": {"path": str(huge)}}, headers=s.steward)
        assert r.status_code == 202, r.text
        sid = r.json()["submission_id"]
        started = time.monotonic()
        assert JobRunner(s.ctx).run_once()
        assert time.monotonic() - started < 10  # nothing of the file was read
        body = s.client.get(f"/v1/submissions/{sid}", headers=s.steward).json()
        assert body["status"] == "failed"
        [said] = body["reasons"]
        assert said.startswith("Validasi tidak dimulai: berkas sebesar ")
        assert " ruang kosong. Cara memperbaiki: " in said
        size, needed = free + 10**9, int(1.5 * (free + 10**9))
        assert (f"berkas sebesar {size_text(size, 'id')} memerlukan ruang kerja sekitar "
                f"{size_text(needed, 'id')},") in said
        [said_en] = s.client.get(f"/v1/submissions/{sid}", headers={**s.steward, **EN}).json()["reasons"]
        assert said_en.startswith(f"Validation did not start: files of {size_text(size, 'en')} need about "
                                  f"{size_text(needed, 'en')} of work space")
        assert str(snapshot_files["import_dir"]) not in json.dumps(body)
        assert [e for e in _outbox(s) if e.type == "p3ke.dataset-updated.v1"] == []
        assert not (s.ctx.storage.root / "work" / sid).exists()
    finally:
        huge.unlink(missing_ok=True)


def test_a_job_interrupted_too_often_is_marked_failed(service: Any, snapshot_files: dict[str, Path]) -> None:
    s = service
    ind = _upload(s, snapshot_files["individual"])
    sid = s.client.post("/v1/submissions", json={"individual": {"upload_id": ind}},
                        headers=s.steward).json()["submission_id"]
    stale = s.ctx.clock() - timedelta(hours=1)
    with s.runtime.engine.begin() as conn:
        conn.execute(update(submissions).values(status="running", claimed_by="gone", heartbeat_at=stale,
                                                attempts=s.ctx.settings.ingest_job_max_attempts))
    leftover = s.ctx.storage.work_dir(sid) / "individual-stage.parquet"
    leftover.write_bytes(b"half")
    assert JobRunner(s.ctx).recover() == 1
    assert not leftover.exists()
    body = s.client.get(f"/v1/submissions/{sid}", headers=s.steward).json()
    count = s.ctx.settings.ingest_job_max_attempts
    assert body["status"] == "failed" and f"terputus {count} kali" in body["reasons"][0]
    assert "Cara memperbaiki" in body["reasons"][0]
    body = s.client.get(f"/v1/submissions/{sid}", headers={**s.steward, **EN}).json()
    assert f"interrupted {count} times" in body["reasons"][0] and "How to fix" in body["reasons"][0]
    assert [e for e in _outbox(s) if e.type == "p3ke.dataset-updated.v1"] == []


def test_a_refused_version_leaves_no_version_and_no_event(service: Any, tmp_path: Path) -> None:
    s = service
    bad = generate(tmp_path / "bad", individuals=500, seed=5, defects=0.5, family_file=False)
    upload = _upload(s, bad.individual_path)
    sid = s.client.post("/v1/submissions", json={"individual": {"upload_id": upload}},
                        headers=s.steward).json()["submission_id"]
    done = _run(s)
    assert done["status"] == "refused"
    assert "ditolak" in done["reasons"][0] and "batas 5.00%" in done["reasons"][0]  # Indonesian first
    assert "rejected" in done["summary"]["reasons_en"][0] and "allowed 5.00%" in done["summary"]["reasons_en"][0]
    assert done["summary"]["files"]["individual"]["rejected"] > 100
    assert s.client.get(f"/v1/submissions/{sid}/findings", headers=s.steward).json()["total"] > 100
    with s.runtime.engine.connect() as conn:
        assert conn.execute(select(dataset_versions)).all() == []
    assert [e for e in _outbox(s) if e.type == "p3ke.dataset-updated.v1"] == []
    assert not list((s.ctx.storage.root / "snapshots").glob("*.parquet"))


def test_an_xlsx_snapshot_uploaded_over_http_is_published(service: Any, tmp_path: Path) -> None:
    # uploads are stored without their file name: the workbook must open by content, not by extension
    s = service
    made = generate(tmp_path / "xlsx", individuals=400, seed=13, fmt="xlsx")
    ind, fam = _upload(s, made.individual_path), _upload(s, made.family_path)  # type: ignore[arg-type]
    r = s.client.post("/v1/submissions", json={"individual": {"upload_id": ind}, "family": {"upload_id": fam}},
                      headers=s.steward)
    assert r.status_code == 202, r.text
    done = _run(s)
    assert done["status"] == "published", done
    detail = s.client.get(f"/v1/dataset-versions/{done['dataset_version_id']}", headers=s.operator).json()
    assert detail["individuals"] == 400 and detail["rows_rejected"] == 0



def test_the_jobs_loop_runs_a_submission_when_woken_and_stops_at_once(service: Any,
                                                                      snapshot_files: dict[str, Path]) -> None:
    s = service  # P3KE_JOBS_IN_API=false: the "ingest-jobs" loop belongs to the `jobs` role, not to the API
    assert [loop.name for loop in s.runtime.loops_for("jobs")] == ["ingest-jobs"]
    assert s.runtime.loops_for("api") == []
    stop = s.runtime.start_loops("jobs")
    try:
        r = s.client.post("/v1/submissions", json={"individual": {"path": str(snapshot_files["individual"])}},
                          headers=s.steward)
        assert r.status_code == 202, r.text
        sid, deadline = r.json()["submission_id"], time.monotonic() + 120
        while (body := s.client.get(f"/v1/submissions/{sid}", headers=s.operator).json())["status"] in (
                "queued", "running"):
            assert time.monotonic() < deadline, body
            time.sleep(0.1)
        assert body["status"] == "published", body
    finally:
        stopping = time.monotonic()
        stop(30.0)
    assert time.monotonic() - stopping < 5  # the loop and its workers end promptly, none left behind
    assert not [t.name for t in threading.enumerate() if t.name.startswith("p3ke-ingest-job")]
