"""Ingest's retention inventory on real files and a real database (SQLite and PostgreSQL): two snapshots published
through the API and the validation job under an injected clock -> the first is a superseded snapshot with the
time the second was published, the second the current one; the uploads and findings files with their events;
and `p3ke retention show` (a real process) prints what is due next from them."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from p3ke_ingest.bootstrap import SERVICE
from p3ke_ingest.config import IngestSettings
from p3ke_ingest.service_layer import retention_inventory
from p3ke_ingest.service_layer.jobs import JobRunner
from p3ke_ingest.synth import generate
from p3ke_platform.agreement import WIB
from p3ke_platform.api import create_app
from p3ke_platform.auth import DevIssuer
from p3ke_platform.migrations import upgrade
from p3ke_platform.retention import Kind, Trigger, agreement_end, schedule_artefacts
from p3ke_platform.service import Runtime
from p3ke_platform.settings import load_settings

FIRST = datetime(2024, 6, 3, 2, 0, tzinfo=UTC)  # 09:00 WIB
SECOND = datetime(2024, 6, 10, 16, 30, tzinfo=UTC)  # 23:30 WIB, still 10 June in Jakarta


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, Path]]:
    out = tmp_path_factory.mktemp("retention-synth")
    made = [generate(out / name, individuals=400, seed=seed) for name, seed in (("v1", 41), ("v2", 42))]
    return [(m.individual_path, m.family_path) for m in made]  # type: ignore[misc]


@pytest.fixture
def ingest(database_url: str, tmp_path: Path) -> Iterator[tuple[Runtime, dict[str, str]]]:
    settings = load_settings(IngestSettings, service="ingest", database_url=database_url, data_dir=tmp_path / "data",
                             env="test", relay_in_api=False, jobs_in_api=False, ingest_engine_memory_mb=256)
    upgrade(SERVICE, settings)
    runtime = Runtime(SERVICE, settings)
    yield runtime, {"P3KE_DATABASE_URL": database_url, "P3KE_DATA_DIR": str(tmp_path / "data")}
    runtime.engine.dispose()


def _publish(runtime: Runtime, files: tuple[Path, Path], at: datetime) -> tuple[str, list[str], str]:
    """Upload and submit both files at `at` through the API, run the job; (version, upload ids, submission)."""
    runtime.context.clock = lambda: at
    client = TestClient(create_app(runtime))
    token = DevIssuer(runtime.settings).mint("steward-1", "kemenkopmk", ["data-steward"])
    steward = {"Authorization": f"Bearer {token}"}
    ids = []
    for path in files:
        r = client.post("/v1/uploads", params={"filename": path.name}, content=path.read_bytes(),
                        headers={**steward, "Content-Type": "text/csv"})
        assert r.status_code == 201, r.text
        ids.append(r.json()["upload_id"])
    r = client.post("/v1/submissions", json={"individual": {"upload_id": ids[0]}, "family": {"upload_id": ids[1]}},
                    headers=steward)
    assert r.status_code == 202, r.text
    assert JobRunner(runtime.context).run_once()
    done = client.get(f"/v1/submissions/{r.json()['submission_id']}", headers=steward).json()
    assert done["status"] == "published", done
    return done["dataset_version_id"], ids, done["submission_id"]


def test_the_inventory_lists_every_file_with_its_life_events(ingest: Any, files: list[tuple[Path, Path]]) -> None:
    runtime, _ = ingest
    old, old_uploads, old_sub = _publish(runtime, files[0], FIRST)
    new, new_uploads, new_sub = _publish(runtime, files[1], SECOND)
    found = retention_inventory.artefacts(runtime.context)
    by = {(a.kind, a.resource_id): a for a in found}

    snapshots = [a for a in found if a.resource_type == "dataset-version"]
    assert sorted((a.kind, a.resource_id) for a in snapshots) == sorted(
        [(Kind.SUPERSEDED_SNAPSHOT, old)] * 2 + [(Kind.CURRENT_SNAPSHOT, new)] * 2)  # individual and family files
    superseded = by[(Kind.SUPERSEDED_SNAPSHOT, old)]
    assert dict(superseded.events) == {Trigger.PUBLISHED: FIRST, Trigger.SUPERSEDED: SECOND}
    assert dict(by[(Kind.CURRENT_SNAPSHOT, new)].events) == {Trigger.PUBLISHED: SECOND}
    for a in snapshots:
        assert a.path is not None and a.path.is_file() and a.path.name == f"{a.sha256}.parquet"

    for upload_id in old_uploads:
        upload = by[(Kind.RAW_UPLOAD, upload_id)]
        assert dict(upload.events) == {Trigger.UPLOADED: FIRST, Trigger.PUBLISHED: FIRST}
        assert upload.path is not None and upload.path.is_file() and upload.resource_type == "dataset-upload"
    assert {(Kind.RAW_UPLOAD, u) for u in new_uploads} <= set(by)
    findings = by[(Kind.FINDINGS, old_sub)]
    assert dict(findings.events) == {Trigger.VALIDATED: FIRST} and findings.path.name == "findings.parquet"
    assert (Kind.FINDINGS, new_sub) in by

    # what the schedule makes of them: the superseded snapshot 90 days after 10 June (Jakarta), the current one
    # when the agreement ends, the agreement's end capping nothing that falls before it
    ends = agreement_end(runtime.context.policy.agreement)
    due = {(s.artefact.kind, s.artefact.resource_id): s.due for s in
           schedule_artefacts(runtime.context.retention_schedule, found, ends)}
    assert due[(Kind.SUPERSEDED_SNAPSHOT, old)].at == datetime(2024, 9, 9, tzinfo=WIB)
    assert due[(Kind.CURRENT_SNAPSHOT, new)].at == ends
    assert due[(Kind.RAW_UPLOAD, new_uploads[0])].at == datetime(2024, 7, 11, tzinfo=WIB)

    # a file gone from disk is no longer listed
    superseded.path.chmod(0o644)
    superseded.path.unlink()
    left = [a for a in retention_inventory.artefacts(runtime.context) if a.kind is Kind.SUPERSEDED_SNAPSHOT]
    assert len(left) == 1 and left[0].path != superseded.path


def _show(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("P3KE_")}
    return subprocess.run([sys.executable, "-m", "p3ke_platform.cli", "retention", "show", *args],
                          env={**base, "P3KE_ENV": "test", **env}, capture_output=True, text=True, timeout=120)


def test_retention_show_prints_the_schedule_and_what_is_due_next(ingest: Any, files: list[tuple[Path, Path]]) -> None:
    runtime, env = ingest
    old, _, old_sub = _publish(runtime, files[0], FIRST)
    new, _, _ = _publish(runtime, files[1], SECOND)

    run = _show(env, "--service", "ingest", "--json", "--at", "2024-07-05T12:00:00+07:00")
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc["services"] == {"ingest": "ok"} and len(doc["rules"]) == len(Kind)
    assert doc["artefacts"] == 4 + 4 + 2 and doc["not_started"] == 0  # uploads, snapshot files, findings
    order = [(d["kind"], d["resource_id"], d["due_at"][:10], d["overdue"]) for d in doc["due"]]
    # FIRST's uploads and findings: 30 days after 3 June -> due 4 July 00:00 WIB (17:00 UTC on 3 July): overdue
    assert order[:3] == [("findings", old_sub, "2024-07-03", True), ("raw-upload", order[1][1], "2024-07-03", True),
                         ("raw-upload", order[2][1], "2024-07-03", True)]
    superseded = next(d for d in doc["due"] if d["kind"] == "superseded-snapshot")
    assert superseded["resource_id"] == old and superseded["events"]["superseded"].startswith("2024-06-10T16:30")
    assert superseded["reason_id"] == "jatuh tempo 2024-09-09: snapshot berikutnya diterbitkan (2024-06-10)"
    assert not superseded["overdue"] and superseded["sha256"]
    current = [d for d in doc["due"] if d["kind"] == "current-snapshot"]
    assert {d["resource_id"] for d in current} == {new} and order[-1][0] == "current-snapshot"

    human = _show(env, "--at", "2024-07-05T12:00:00+07:00")
    assert human.returncode == 0, human.stderr
    out = human.stdout
    assert "jenis                periode  mulai dan batas" in out
    assert "superseded-snapshot  P90D     90 hari setelah snapshot berikutnya diterbitkan" in out
    # the other services keep inventories, but not in ingest's database: said, not fatal
    for service in ("targeting", "delivery", "feedback"):
        assert f"inventaris layanan {service} tidak dapat dibaca" in out
    assert "2024-07-04 00:00 WIB  lewat waktu  findings" in out
    assert f"2024-09-09 00:00 WIB  akan datang  superseded-snapshot  dataset-version {old}" in out
    with files[0][0].open(newline="", encoding="utf-8") as f:
        niks = [row["nik"] for row in csv.DictReader(f) if row["nik"]]
    assert niks and not [n for n in niks if n in out or n in run.stdout]  # nothing of a data subject


def test_retention_show_refuses_a_broken_schedule_file(ingest: Any, tmp_path: Path) -> None:
    _, env = ingest
    broken = tmp_path / "jadwal.yaml"
    broken.write_text("rules:\n  - kind: old-snapshot\n", encoding="utf-8")
    run = _show(env, "--file", str(broken))
    assert run.returncode == 2, run.stderr
    assert "baris/line 2 (old-snapshot): jenis artefak 'old-snapshot' tidak dikenal" in run.stderr
    assert "Traceback" not in run.stderr
    configured = _show({**env, "P3KE_RETENTION_SCHEDULE": str(broken)}, "--service", "ingest")
    assert configured.returncode == 2 and "P3KE_RETENTION_SCHEDULE: jadwal retensi tidak dapat dipakai" in \
        configured.stderr
