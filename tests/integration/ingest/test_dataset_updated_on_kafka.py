"""A published version reaches Kafka: the relay publishes the outbox's `dataset-updated`, and a plain
consumer with only the committed JSON Schema in hand accepts it."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import jsonschema
import pytest
from kafka import KafkaConsumer

from p3ke_ingest.bootstrap import SERVICE
from p3ke_ingest.config import IngestSettings
from p3ke_ingest.service_layer import submissions
from p3ke_ingest.service_layer.jobs import JobRunner
from p3ke_ingest.synth import generate
from p3ke_platform.migrations import upgrade
from p3ke_platform.service import Runtime
from p3ke_platform.settings import load_settings
from p3ke_schemas import Actor
from p3ke_schemas.generate import CONTRACT_DIR

pytestmark = [pytest.mark.kafka]
TOPIC = "p3ke.dataset-updated.v1"


def test_the_event_is_published_to_kafka_and_matches_the_contract(kafka_bootstrap: str, tmp_path: Path) -> None:
    files = generate(tmp_path / "in", individuals=1500, seed=31)
    settings = load_settings(IngestSettings, service="ingest", data_dir=tmp_path / "data", env="test",
                             kafka_bootstrap=kafka_bootstrap, relay_in_api=False, jobs_in_api=False,
                             ingest_import_dirs=[tmp_path / "in"])
    upgrade(SERVICE, settings)
    ctx = Runtime(SERVICE, settings).context
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=f"t-{uuid.uuid4().hex[:8]}",
                             auto_offset_reset="latest", enable_auto_commit=False)
    consumer.subscribe([TOPIC])
    deadline = time.monotonic() + 30
    while not consumer.assignment() and time.monotonic() < deadline:
        consumer.poll(timeout_ms=200)
    for partition in consumer.assignment():  # resolve "latest" now, before anything is published
        consumer.position(partition)
    actor = Actor(org="kemenkopmk", subject="steward-1", roles=["data-steward"])
    sources = [{"label": label, "kind": "path", "path": str(path), "name": path.name, "bytes": path.stat().st_size}
               for label, path in (("individual", files.individual_path), ("family", files.family_path))]
    submissions.submit(ctx, actor, sources)
    assert JobRunner(ctx).run_once()
    relay = ctx.runtime.relay()
    sent = 0
    while time.monotonic() < deadline and relay.pending():
        sent += relay.run_once()
    assert sent >= 3 and relay.pending() == 0  # dataset-updated and the data-access records

    schema = json.loads((CONTRACT_DIR / "jsonschema" / f"{TOPIC}.json").read_text())
    found = []
    while not found and time.monotonic() < deadline + 30:
        for records in consumer.poll(timeout_ms=500).values():
            found += records
    consumer.close()
    assert len(found) == 1
    message = found[0]
    headers = {k: v.decode() for k, v in message.headers}
    assert headers["ce_type"] == TOPIC and headers["ce_specversion"] == "1.0"
    data = json.loads(message.value)
    jsonschema.validate(data, schema)
    assert message.key.decode() == data["dataset_version_id"]
    assert data["individuals"] == 1500 and data["families"] == files.rows["family"]
    assert sum(data["counts_by_province"].values()) == 1500
