"""Ingest's answer to a data-subject access request (UU PDP Art. 32), `POST /v1/subject-records`, on real
published snapshots (synthetic data, published through the API and the validation job) over a real database:
the person's row in the current and in the superseded snapshot still kept, their household's row without the
head's own data, nothing for an absent person, the lookup recorded under the person's keyed reference, and
only compliance auditors may ask."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from p3ke_ingest.bootstrap import SERVICE
from p3ke_ingest.config import IngestSettings
from p3ke_ingest.service_layer.jobs import JobRunner
from p3ke_platform.api import create_app
from p3ke_platform.audit_client import subject_ref
from p3ke_platform.auth import DevIssuer
from p3ke_platform.migrations import upgrade
from p3ke_platform.service import Runtime
from p3ke_platform.settings import load_settings
from p3ke_schemas import from_kafka
from tests.integration.ingest.subject_support import Snapshots, make_snapshots, publish

KEY = "test-subject-hash-key-0123456789"


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory: pytest.TempPathFactory) -> Snapshots:
    return make_snapshots(tmp_path_factory.mktemp("subject-synth"))


@pytest.fixture
def ingest(database_url: str, tmp_path: Path) -> Iterator[Any]:
    settings = load_settings(IngestSettings, service="ingest", database_url=database_url, data_dir=tmp_path / "data",
                             env="test", relay_in_api=False, jobs_in_api=False, subject_hash_key=KEY,
                             ingest_engine_memory_mb=256)
    upgrade(SERVICE, settings)
    runtime = Runtime(SERVICE, settings)
    issuer = DevIssuer(settings)

    def auth(role: str, org: str = "kemnaker") -> dict[str, str]:
        return {"Authorization": f"Bearer {issuer.mint(f'{role}-1', org, [role])}"}

    yield runtime, TestClient(create_app(runtime)), auth
    runtime.engine.dispose()


def _outbox(runtime: Runtime) -> list[Any]:
    outbox = runtime.spec.tables.outbox
    with runtime.engine.connect() as conn:
        rows = conn.execute(select(outbox.c.key, outbox.c.value, outbox.c.headers).order_by(outbox.c.seq)).all()
    return [from_kafka(r.key.encode(), r.value, [(k, v.encode()) for k, v in json.loads(r.headers)]) for r in rows]


def test_the_persons_rows_in_every_kept_snapshot(ingest: Any, snapshots: Snapshots) -> None:
    runtime, client, auth = ingest
    steward = auth("data-steward", "kemenkopmk")
    run = lambda: JobRunner(runtime.context).run_once()  # noqa: E731
    old = publish(client, steward, snapshots.first, run_jobs=run)
    new = publish(client, steward, snapshots.second, run_jobs=run)
    assert old != new
    member, head = snapshots.member, snapshots.head

    asked = client.post("/v1/subject-records", headers=auth("compliance-auditor"),
                        json={"nik": member["nik"], "request_id": "dsr-test-1"})
    assert asked.status_code == 200, asked.text
    body = asked.json()
    assert body["service"] == "ingest" and body["subject_ref"] == subject_ref(KEY, member["nik"])
    assert member["nik"] not in asked.text  # the NIK is never answered back in full
    found = [(r["resource_id"], r["current"], r["title"].rsplit(": ", 1)[1]) for r in body["records"]]
    assert found == [(new, True, "data individu"), (new, True, "data keluarga"),
                     (old, False, "data individu"), (old, False, "data keluarga")]
    person = body["records"][0]["fields"]
    assert (person["nama"], person["id_individu"], person["tanggal_lahir"]) == (
        member["nama"], member["id_individu"], member["tanggal_lahir"])
    assert person["nik"] == member["nik"][:4] + "*" * 12
    household = body["records"][1]["fields"]
    assert household["id_keluarga_p3ke"] == member["id_keluarga_p3ke"]
    assert "kepala_keluarga" not in household and "nik" not in household  # the head's own data is theirs
    assert head["nama"] not in json.dumps(household) and head["nik"] not in asked.text
    assert all(r["source"] == "snapshot" and r["resource_type"] == "dataset-version" for r in body["records"])

    as_head = client.post("/v1/subject-records", headers=auth("compliance-auditor", "kemenkopmk"),
                          json={"nik": head["nik"], "request_id": "dsr-test-2"}).json()
    assert as_head["records"][1]["fields"]["kepala_keluarga"] == head["nama"]  # the head sees their own row

    dropped = client.post("/v1/subject-records", headers=auth("compliance-auditor"),
                          json={"nik": snapshots.dropped["nik"], "request_id": "dsr-test-3"}).json()
    assert [(r["resource_id"], r["current"]) for r in dropped["records"]] == [(old, False), (old, False)]
    absent = client.post("/v1/subject-records", headers=auth("compliance-auditor"),
                         json={"nik": "9999999999999999", "request_id": "dsr-test-4"})
    assert absent.status_code == 200 and absent.json()["records"] == []

    reads = [e.data for e in _outbox(runtime) if e.type == "p3ke.data-access.v1"
             and e.data.resource_type == "subject-records"]
    assert [(r.action, r.resource_id, r.record_count) for r in reads] == [
        ("read", "dsr-test-1", 4), ("read", "dsr-test-2", 4), ("read", "dsr-test-3", 2), ("read", "dsr-test-4", 0)]
    assert reads[0].subject_refs == [subject_ref(KEY, member["nik"])]
    assert reads[3].subject_refs == [subject_ref(KEY, "9999999999999999")]


def test_only_compliance_auditors_may_ask(ingest: Any, snapshots: Snapshots) -> None:
    _, client, auth = ingest
    body = {"nik": snapshots.member["nik"], "request_id": "dsr-test-5"}
    for role in ("data-steward", "operator", "program-officer"):
        refused = client.post("/v1/subject-records", headers=auth(role), json=body)
        assert refused.status_code == 403, role
        assert snapshots.member["nik"] not in refused.text
    assert client.post("/v1/subject-records", json=body).status_code == 401
    bad = client.post("/v1/subject-records", headers=auth("compliance-auditor"),
                      json={"nik": "12345", "request_id": "dsr-test-6"})
    assert bad.status_code == 422 and "12345" not in bad.text
