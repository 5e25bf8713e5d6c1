"""The ministry-platform path over real Kafka: a platform with only the committed JSON Schema and the
CloudEvents headers puts extract-requested on the topic; a real targeting worker process (and relay)
turns it into extract-prepared. The API path ends the same way. On PostgreSQL (production's database;
the same handlers run on SQLite in tests/unit/targeting), to keep the suite's time down."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import jsonschema
import pytest
from kafka import KafkaProducer

from p3ke_platform.agreement import agreement_day
from p3ke_platform.devstack.ports import free_port
from p3ke_platform.event_keys import dev_signer
from p3ke_schemas.signing import sign_headers
from tests.integration.helpers.agreement_terms import far_agreement_dir
from tests.integration.helpers.kafka_topics import collect
from tests.integration.helpers.processes import migrate, stop, wait_ready

pytestmark = [pytest.mark.kafka]
CONTRACT = Path(__file__).resolve().parents[3] / "schemas" / "p3ke_schemas" / "contract" / "jsonschema"


def _schema(event_type: str) -> dict[str, Any]:
    return json.loads((CONTRACT / f"{event_type}.json").read_text())


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from p3ke_ingest.synth import generate

    out = tmp_path_factory.mktemp("platform-snapshot")
    return generate(out, individuals=20_000, fmt="parquet", seed=5, provinces=["32", "73"],
                    family_file=False).individual_path


@pytest.fixture
def targeting(database_url: str, kafka_bootstrap: str, service_env: dict[str, str],
              tmp_path: Path) -> Iterator[dict[str, Any]]:
    env = {**service_env, "P3KE_SERVICE": "targeting", "P3KE_KAFKA_BOOTSTRAP": kafka_bootstrap,
           "P3KE_DATABASE_URL": database_url, "P3KE_AGREEMENT_INCLUDE_EXAMPLES": "true",
           "P3KE_AGREEMENT_DIR": str(far_agreement_dir(tmp_path)),  # in force to 2099: the test runs on real time
           "P3KE_WORKER_PORT": str(free_port()), "P3KE_LOG_LEVEL": "WARNING"}
    migrate("p3ke_targeting", env)
    procs = []
    for role in ("worker", "relay"):
        log = (tmp_path / f"{role}.log").open("wb")
        procs.append((subprocess.Popen([sys.executable, "-m", "p3ke_targeting", role], env=env, stdout=log,
                                       stderr=subprocess.STDOUT), log))
    try:
        wait_ready(f"http://127.0.0.1:{env['P3KE_WORKER_PORT']}/readyz", procs[0][0], tmp_path / "worker.log")
        yield {"env": env, "procs": procs}
    finally:
        for proc, log in procs:
            stop(proc)
            log.close()


def _send(producer: KafkaProducer, topic: str, event_type: str, key: str, data: dict[str, Any],
          event_id: str | None = None, validate: bool = True) -> None:
    """What a ministry platform does: validate against the published schema, send in binary mode."""
    if validate:
        jsonschema.validate(data, _schema(event_type))
    headers = [("ce_specversion", b"1.0"), ("ce_id", (event_id or str(uuid.uuid4())).encode()),
               ("ce_source", b"urn:kemnaker:pusdatik:platform"), ("ce_type", event_type.encode()),
               ("ce_time", datetime.now(UTC).isoformat().encode()), ("content-type", b"application/json")]
    # signed as the contract says (JWS, detached JCS payload): party 2's platform key for its requests, the
    # ingest service's for the dataset this test publishes in ingest's place
    value = json.dumps(data).encode()
    actor = data.get("requested_by") or data["published_by"]
    owner = "party-2 platform" if "requested_by" in data else "ingest"
    headers = sign_headers(dev_signer(owner), headers, value, authid=actor["subject"],
                           authtype="service_account" if actor.get("service_account") else "user")
    producer.send(topic, key=key.encode(), value=value, headers=headers)


def _wait_for_dataset(url: str, version: str, timeout: float = 90) -> None:
    from sqlalchemy import create_engine, select

    from p3ke_targeting.adapters.orm import datasets

    engine = create_engine(url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                if conn.scalar(select(datasets.c.dataset_version_id).where(
                        datasets.c.dataset_version_id == version)):
                    return
            time.sleep(0.3)
    finally:
        engine.dispose()
    raise AssertionError(f"the worker did not record dataset version {version}")


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_platform_and_api_requests_end_in_extract_prepared(targeting: dict[str, Any], kafka_bootstrap: str,
                                                           snapshot: Path, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    version, request_id, invalid_id = f"dv-{tag}", f"pusdatik-{tag}", f"pusdatik-bad-{tag}"
    late_id = f"pusdatik-2050-{tag}"
    now = datetime.now(UTC).isoformat()
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    actor = {"org": "kemnaker", "subject": "svc-pusdatik", "roles": ["program-officer"], "service_account": True}
    _send(producer, "p3ke.dataset-updated.v1", "p3ke.dataset-updated.v1", version, {
        "dataset_version_id": version, "agreement_id": "pks-p3ke-2023", "snapshot_uri": snapshot.as_uri(),
        "snapshot_sha256": hashlib.sha256(snapshot.read_bytes()).hexdigest(), "individuals": 20_000,
        "families": 0, "published_by": {"org": "kemenkopmk", "subject": "steward-1", "roles": ["data-steward"]},
        "published_at": now})
    producer.flush()
    # topics are consumed independently: a request pinned to a version the worker has not learned yet
    # would be refused ("not known"), so the platform (like this test) first waits until it is listed
    _wait_for_dataset(targeting["env"]["P3KE_DATABASE_URL"], version)
    request = {"request_id": request_id, "agreement_id": "pks-p3ke-2023", "program": "pbi_jamsostek_pekerja_rentan",
               "criteria": {"region_codes": ["73"], "deciles": [1, 2], "age_min": 25, "age_max": 55,
                            "reference_date": agreement_day(datetime.now(UTC)).isoformat()},
               "quota": 150, "fields": ["nik", "nama", "alamat", "kode_kemendagri", "desil_kesejahteraan"],
               "justification": "PBI jamsostek pekerja rentan Sulawesi Selatan 2026", "requested_by": actor,
               "purpose": "seleksi_calon_peserta",
               "dataset_version_id": version, "requested_at": now}
    _send(producer, "p3ke.extract-requested.v1", "p3ke.extract-requested.v1", request_id, request, event_id="ev-1")
    _send(producer, "p3ke.extract-requested.v1", "p3ke.extract-requested.v1", request_id, request, event_id="ev-1")
    _send(producer, "p3ke.extract-requested.v1", "p3ke.extract-requested.v1", request_id, request)  # re-sent
    # ages on a day the requester picks (2050: today's children would be adults) are refused on this path too
    late = {**request, "request_id": late_id, "criteria": {**request["criteria"], "reference_date": "2050-01-01"}}
    _send(producer, "p3ke.extract-requested.v1", "p3ke.extract-requested.v1", late_id, late)
    invalid = {**request, "request_id": invalid_id, "quota": 0}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(invalid, _schema("p3ke.extract-requested.v1"))
    _send(producer, "p3ke.extract-requested.v1", "p3ke.extract-requested.v1", invalid_id, invalid, validate=False)
    producer.flush()
    producer.close()

    # the API path: same database, published through the outbox by the running relay
    from fastapi.testclient import TestClient

    from p3ke_platform.api import create_app
    from p3ke_platform.auth import DevIssuer
    from p3ke_platform.service import Runtime
    from p3ke_platform.settings import load_settings
    from p3ke_targeting.bootstrap import SERVICE
    from p3ke_targeting.config import TargetingSettings

    env = targeting["env"]
    settings = load_settings(TargetingSettings, service="targeting", env="test", data_dir=Path(env["P3KE_DATA_DIR"]),
                             database_url=env["P3KE_DATABASE_URL"], kafka_bootstrap=kafka_bootstrap,
                             agreement_include_examples=True, agreement_dir=Path(env["P3KE_AGREEMENT_DIR"]),
                             relay_in_api=False)
    api_id = f"api-{tag}"
    with TestClient(create_app(Runtime(SERVICE, settings))) as client:
        token = DevIssuer(settings).mint("officer-9", "kemnaker", ["program-officer"])
        response = client.post("/v1/extract-requests", headers={"Authorization": f"Bearer {token}"}, json={
            "request_id": api_id, "program": "padat_karya", "criteria": {"region_codes": ["32"]}, "quota": 60,
            "fields": ["nik", "nama", "kode_kemendagri"], "justification": "padat karya Jawa Barat 2026",
            "purpose": "seleksi_calon_peserta",
            "dataset_version_id": version})
        assert response.status_code == 202, response.text

    prepared = collect(kafka_bootstrap, "p3ke.extract-prepared.v1", {request_id, api_id, late_id}, want=3, timeout=90)
    by_key = {m.key.decode(): json.loads(m.value) for m in prepared}
    assert set(by_key) == {request_id, api_id, late_id}, (tmp_path / "worker.log").read_text()[-3000:]
    refused = by_key.pop(late_id)
    assert refused["status"] == "rejected" and refused["extract_id"] is None
    assert refused["reason"].startswith("criteria.reference_date 2050-01-01 sesudah hari permintaan diterima")
    for key, quota in ((request_id, 150), (api_id, 60)):
        event = by_key[key]
        assert event["status"] == "accepted", event["reason"]
        assert event["record_count"] == quota and event["dataset_version_id"] == version
        path = Path(unquote(urlparse(event["file_uri"]).path))
        assert hashlib.sha256(path.read_bytes()).hexdigest() == event["file_sha256"]
        jsonschema.validate(event, _schema("p3ke.extract-prepared.v1"))
    assert by_key[request_id]["counts_by_region"] == {"73": 150}
    # what was asked, and by which path: the platform's event, or the API with the officer's token
    assert (by_key[request_id]["request_path"], by_key[request_id]["requester"]) == ("platform", actor)
    assert by_key[request_id]["criteria"] == {**request["criteria"], "sex": None, "occupation_categories": [],
                                              "education_categories": [], "exclude_already_delivered": True}
    assert by_key[api_id]["request_path"] == "api" and by_key[api_id]["requester"]["subject"] == "officer-9"
    assert by_key[api_id]["justification"] == "padat karya Jawa Barat 2026"

    dead = collect(kafka_bootstrap, "p3ke.extract-requested.v1.dlq", {invalid_id}, want=1)
    assert len(dead) == 1
    reason = dict(dead[0].headers)["p3ke_dlq_reason"].decode()
    assert "does not match its schema" in reason and "quota" in reason

    time.sleep(2)  # a duplicate extract-prepared would be here by now
    again = collect(kafka_bootstrap, "p3ke.extract-prepared.v1", {request_id}, want=2, timeout=6)  # 2: a duplicate
    assert len(again) == 1  # three deliveries of the request, one extract
    assert all(proc.poll() is None for proc, _ in targeting["procs"])
