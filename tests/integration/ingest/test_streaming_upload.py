"""A real API process: a big upload streams to disk without the process growing, and the job runs in
the background (the lifespan starts the runner) until the version is published."""

from __future__ import annotations

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

ROWS = 200_000


@pytest.fixture
def api(tmp_path: Path, service_env: dict[str, str]) -> Iterator[tuple[str, psutil.Process, str]]:
    port = free_port()
    env = {**service_env, "P3KE_SERVICE": "ingest", "P3KE_API_PORT": str(port), "P3KE_RELAY_IN_API": "false",
           "P3KE_KAFKA_BOOTSTRAP": "127.0.0.1:1", "P3KE_LOG_LEVEL": "WARNING", "P3KE_INGEST_ENGINE_MEMORY_MB": "512"}
    subprocess.run([sys.executable, "-m", "p3ke_ingest", "migrate"], env=env, check=True, capture_output=True)
    log = (tmp_path / "api.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "p3ke_ingest", "api"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "api.log").read_text()
            time.sleep(0.2)
        settings = load_settings(IngestSettings, service="ingest", data_dir=Path(env["P3KE_DATA_DIR"]), env="test")
        token = DevIssuer(settings).mint("steward-1", "kemenkopmk", ["data-steward"])
        yield base, psutil.Process(proc.pid), token
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_a_200k_row_upload_streams_and_is_published_in_the_background(api: tuple[str, psutil.Process, str],
                                                                      tmp_path: Path) -> None:
    base, server, token = api
    snap = generate(tmp_path / "big", individuals=ROWS, seed=9, family_file=False)
    path = snap.individual_path
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
