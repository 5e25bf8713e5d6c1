"""A real API process: a big upload streams to disk without the process growing, and the job runs in
the background (the API process runs the "ingest-jobs" loop) until the version is published."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from p3ke_ingest.config import IngestSettings
from p3ke_ingest.synth import generate
from p3ke_platform.auth import DevIssuer
from p3ke_platform.devstack.ports import free_port
from p3ke_platform.settings import load_settings
from tests.integration.helpers.processes import migrate, stop, wait_ready

ROWS = 200_000
EVENTS = "SELECT count(*) FROM outbox WHERE event_type = 'p3ke.dataset-updated.v1'"


class ApiProcess:
    """`python -m p3ke_ingest api` on a free port, with its own data directory and SQLite database."""

    def __init__(self, tmp_path: Path, service_env: dict[str, str], **extra: str) -> None:
        self.tmp = tmp_path
        self.port = free_port()
        self.env = {**service_env, "P3KE_SERVICE": "ingest", "P3KE_API_PORT": str(self.port),
                    "P3KE_RELAY_IN_API": "false", "P3KE_KAFKA_BOOTSTRAP": "127.0.0.1:1", "P3KE_LOG_LEVEL": "WARNING",
                    "P3KE_INGEST_ENGINE_MEMORY_MB": "512", **extra}
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        migrate("p3ke_ingest", self.env)
        settings = load_settings(IngestSettings, service="ingest", data_dir=Path(self.env["P3KE_DATA_DIR"]),
                                 env="test")
        self.token = DevIssuer(settings).mint("steward-1", "kemenkopmk", ["data-steward"])
        self.database = Path(self.env["P3KE_DATA_DIR"]) / "ingest.db"

    def start(self) -> ApiProcess:
        log = (self.tmp / "api.log").open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "p3ke_ingest", "api"], env=self.env, stdout=log,
                                     stderr=subprocess.STDOUT)
        log.close()
        wait_ready(f"{self.base}/healthz", self.proc, self.tmp / "api.log", timeout=60)
        return self

    @property
    def process(self) -> psutil.Process:
        assert self.proc is not None
        return psutil.Process(self.proc.pid)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(20)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc, timeout=20)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {self.token}"}, timeout=120)


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("big"), individuals=ROWS, seed=9, family_file=False).individual_path


@pytest.fixture
def api(tmp_path: Path, service_env: dict[str, str]) -> Iterator[tuple[str, psutil.Process, str]]:
    proc = ApiProcess(tmp_path, service_env).start()
    try:
        yield proc.base, proc.process, proc.token
    finally:
        proc.stop()


def test_a_200k_row_upload_streams_and_is_published_in_the_background(api: tuple[str, psutil.Process, str],
                                                                      big_csv: Path) -> None:
    base, server, token = api
    path = big_csv
    size = path.stat().st_size
    assert size > 60 * 2**20
    headers = {"Authorization": f"Bearer {token}"}
    rss_before = server.memory_info().rss
    peak = rss_before

    def body() -> Iterator[bytes]:
        nonlocal peak
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                peak = max(peak, server.memory_info().rss)
                yield chunk

    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        r = client.post("/v1/uploads", params={"filename": path.name}, content=body(),
                        headers={"Content-Type": "text/csv"})
        assert r.status_code == 201, r.text
        assert r.json()["bytes"] == size
        peak = max(peak, server.memory_info().rss)
        grew = (peak - rss_before) / 2**20
        print(f"upload of {size / 2**20:.0f} MiB: the API process grew {grew:.1f} MiB")
        assert grew < size / 2**20 / 4, f"the server grew {grew:.0f} MiB for a {size / 2**20:.0f} MiB upload"

        r = client.post("/v1/submissions", json={"individual": {"upload_id": r.json()["upload_id"]}})
        assert r.status_code == 202, r.text
        sid = r.json()["submission_id"]
        seen = set()
        deadline = time.monotonic() + 180
        while True:
            body_ = client.get(f"/v1/submissions/{sid}").json()
            seen.add(body_["status"])
            if body_["status"] not in ("queued", "running"):
                break
            assert time.monotonic() < deadline, body_
            time.sleep(0.3)
        assert body_["status"] == "published", body_
        version = client.get("/v1/dataset-versions/current").json()
        assert version["individuals"] == ROWS and version["dataset_version_id"] == body_["dataset_version_id"]
    assert os.path.exists(version["snapshot_uri"].removeprefix("file://"))


def _wait_for(client: httpx.Client, sid: str, statuses: set[str], timeout: float = 180) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(f"/v1/submissions/{sid}").json()
        if body["status"] in statuses:
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.2)


def test_killing_the_process_mid_job_leaves_no_version_and_the_job_resumes(tmp_path: Path, big_csv: Path,
                                                                           service_env: dict[str, str]) -> None:
    import sqlite3

    api = ApiProcess(tmp_path, service_env, P3KE_INGEST_JOB_LEASE_SECONDS="5",
                     P3KE_INGEST_IMPORT_DIRS=json.dumps([str(big_csv.parent)])).start()
    try:
        with api.client() as client:
            r = client.post("/v1/submissions", json={"individual": {"path": str(big_csv)}})
            assert r.status_code == 202, r.text
            sid = r.json()["submission_id"]
            deadline = time.monotonic() + 60
            while True:  # until the heartbeat reports work under way (reading, checking or writing)
                running = client.get(f"/v1/submissions/{sid}").json()
                claimed = running["status"] != "queued"  # a busy machine may answer before the claim
                if claimed and (running["status"] != "running" or running["phase"] not in ("queued", "starting")):
                    break
                assert time.monotonic() < deadline, running
                time.sleep(0.1)
            assert running["status"] == "running", "the job finished before it could be killed"
        api.kill()  # SIGKILL in the middle of the job
        with sqlite3.connect(api.database) as db:
            assert db.execute("SELECT count(*) FROM dataset_versions").fetchone() == (0,)
            assert db.execute(EVENTS).fetchone() == (0,)
            assert db.execute("SELECT status FROM ingest_submissions").fetchall() == [("running",)]
        snapshots = Path(api.env["P3KE_DATA_DIR"]) / "ingest" / "snapshots"
        # a kill that lands after the snapshot was stored and before the publication leaves that snapshot behind,
        # referred to by nothing (no version above); it is content-addressed, so the resumed job reuses it
        orphans = set(snapshots.glob("*.parquet"))
        assert len(orphans) <= 1, orphans
        api.start()  # after the lease, the new process takes the job over and runs it from the start
        with api.client() as client:
            done = _wait_for(client, sid, {"published", "failed", "refused"})
        assert done["status"] == "published" and done["attempts"] == 2, done
        with sqlite3.connect(api.database) as db:
            assert db.execute("SELECT count(*) FROM dataset_versions").fetchone() == (1,)
            assert db.execute(EVENTS).fetchone() == (1,)
        [published] = snapshots.glob("*.parquet")  # one snapshot: an orphan of the killed run was reused
        assert orphans <= {published}, (orphans, published)
        assert not list((Path(api.env["P3KE_DATA_DIR"]) / "ingest" / "work").iterdir())
    finally:
        api.stop()
