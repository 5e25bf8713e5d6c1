"""Feedback on real Kafka and PostgreSQL, with the processes as deployed: the upstream events are
published to Kafka out of order and repeated, a real feedback worker process (faust) applies them
through the inbox and settles the handover's delivered counts, a contradicting event is dead-lettered
with its reason; party 2 uploads data balikan through the API and the outbox relay publishes
feedback-received (counts only, valid against the committed JSON Schema) and the data-access events."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from kafka import KafkaProducer
from sqlalchemy import create_engine, select

from p3ke_feedback.adapters.orm import signed_handovers
from p3ke_feedback.bootstrap import SERVICE
from p3ke_feedback.config import FeedbackSettings
from p3ke_feedback.service_layer import aggregates
from p3ke_platform.api import create_app
from p3ke_platform.auth import DevIssuer
from p3ke_platform.devstack.ports import free_port
from p3ke_platform.event_keys import dev_signer
from p3ke_platform.service import Runtime
from p3ke_platform.settings import load_settings
from p3ke_schemas import CloudEvent, sign_event
from tests.conftest import new_postgres_database
from tests.integration.helpers.kafka_topics import collect
from tests.integration.helpers.processes import http_ready, migrate, stop, wait_for
from tests.unit.feedback.helpers import (
    dataset_event,
    feedback_row,
    handover_event,
    prepared_extract,
    snapshot_people,
    synthetic_snapshot,
    write_csv,
)

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
CONTRACT = Path(__file__).resolve().parents[3] / "schemas" / "p3ke_schemas" / "contract" / "jsonschema"


def test_feedback_on_kafka_and_postgresql(kafka_bootstrap: str, postgres: Any, service_env: dict[str, str],
                                          tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    tag = str(int(time.time() * 1000))[-8:]
    shared = tmp_path / "shared"
    url = new_postgres_database(postgres)
    env = {**service_env, "P3KE_SERVICE": "feedback", "P3KE_KAFKA_BOOTSTRAP": kafka_bootstrap,
           "P3KE_DATABASE_URL": url, "P3KE_WORKER_PORT": str(free_port()), "P3KE_LOG_LEVEL": "WARNING",
           "P3KE_FEEDBACK_SHARED_ROOT": str(shared)}
    migrate("p3ke_feedback", env)
    # the worker and relay start while the test prepares its data (start-up is the slow part)
    logs = {role: tmp_path / f"{role}.log" for role in ("worker", "relay")}
    procs = {role: subprocess.Popen([sys.executable, "-m", "p3ke_feedback", role], env=env,
                                    stdout=logs[role].open("wb"), stderr=subprocess.STDOUT) for role in logs}
    engine = create_engine(url)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    try:
        snapshot = synthetic_snapshot(shared / "snapshot", 8_000, seed=9, provinces=["32", "73"])
        people = snapshot_people(snapshot)
        version, extract_id, handover_id = f"dv-{tag}", f"ext-{tag}", f"ho-{tag}"
        handover = handover_event(handover_id, extract_id, 500)
        extract = prepared_extract(shared, extract_id, people[:500], version=version)
        dataset = dataset_event(snapshot, version=version)
        forged = extract.model_copy(update={"file_sha256": "0" * 64})

        def send(payload: Any, event_id: str | None = None) -> None:
            event = CloudEvent.of(payload, source="urn:p3ke:service:test")
            if event_id:
                event = CloudEvent(type=event.type, source=event.source, data=event.data, id=event_id)
            producer_name = event.spec.producers[0]  # signed with the development key of the service it stands for
            key, value, headers = sign_event(event, dev_signer(producer_name), producer_name)
            producer.send(event.spec.topic, key=key, value=value, headers=headers).get(30)

        # out of order and repeated: the handover first, twice (same id), then its extract, then the snapshot
        send(handover, event_id=f"ev-{tag}")
        send(handover, event_id=f"ev-{tag}")
        send(extract)
        send(dataset)
        send(handover)  # re-sent with a new id
        send(forged)  # contradicts the extract: dead-lettered
        worker_url = f"http://127.0.0.1:{env['P3KE_WORKER_PORT']}/readyz"
        wait_for(lambda: http_ready(worker_url, procs["worker"], logs["worker"]), 180, "the feedback worker")

        def settled() -> bool:
            with engine.connect() as conn:
                return conn.scalar(select(signed_handovers.c.delivered_state).where(
                    signed_handovers.c.handover_id == handover_id)) == "settled"

        wait_for(settled, 180, "the handover's delivered counts")
        dead = collect(kafka_bootstrap, "p3ke.extract-prepared.v1.dlq", {extract.request_id}, want=1, timeout=180)
        assert len(dead) == 1, logs["worker"].read_text()[-3000:]
        assert "announced before with another SHA-256" in dict(dead[0].headers)["p3ke_dlq_reason"].decode()

        settings = load_settings(FeedbackSettings, service="feedback", env="test", database_url=url,
                                 data_dir=Path(env["P3KE_DATA_DIR"]), kafka_bootstrap=kafka_bootstrap,
                                 relay_in_api=False, feedback_shared_root=shared)
        runtime = Runtime(SERVICE, settings)
        rows = [feedback_row(p["nik"], kode=p["kode_kemendagri"]) for p in people[:200]]
        rows += [feedback_row(p["nik"], kode=p["kode_kemendagri"]) for p in people[3000:3010]]
        rows += [feedback_row(None), feedback_row(people[0]["nik"])]
        path = write_csv(tmp_path / "balikan.csv", rows)
        token = DevIssuer(settings).mint("officer-5", "kemnaker", ["program-officer"])
        with TestClient(create_app(runtime)) as client:  # its relay runs as its own process above
            response = client.post("/v1/feedback-batches", content=path.read_bytes(),
                                   params={"handover_id": handover_id, "program": "padat_karya"},
                                   headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"})
            assert response.status_code == 201, response.text
            batch_id = response.json()["batch_id"]
            report = client.get("/v1/reports", params={"level": "national"},
                                headers={"Authorization": f"Bearer {token}"}).json()
        [total] = report["totals"]
        assert total["delivered"] == 500 and total["served"] == 210 and total["served_in_extract"] == 200

        [received] = collect(kafka_bootstrap, "p3ke.feedback-received.v1", {batch_id}, want=1, timeout=180)
        value = json.loads(received.value)
        jsonschema.validate(value, json.loads((CONTRACT / "p3ke.feedback-received.v1.json").read_text()))
        # read by both ministries' platforms: in the handover or not, never whether in Data P3KE
        assert value["counts_by_match_class"] == {"in_extract": 200, "not_in_handover": 10, "invalid_nik": 1,
                                                  "duplicate": 1}
        assert not any(p["nik"] in received.value.decode() for p in people[:200])
        access = collect(kafka_bootstrap, "p3ke.data-access.v1", {batch_id}, want=2, timeout=180)
        actions = {json.loads(m.value)["action"]: json.loads(m.value) for m in access}
        assert set(actions) == {"upload", "match"} and len(actions["match"]["subject_refs"]) == 210
        with runtime.sessions() as session:
            assert aggregates.current_cells(session) == aggregates.recompute(session, settings.storage_dir)
        runtime.engine.dispose()
        assert all(p.poll() is None for p in procs.values())
    finally:
        producer.close()
        engine.dispose()
        for proc in procs.values():
            stop(proc)

