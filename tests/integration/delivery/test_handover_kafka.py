"""The handover on real Kafka and PostgreSQL, with the processes as deployed: extract-prepared is
published to Kafka, the delivery worker (its own process, faust) opens the handover through the
inbox, the API process builds package and BAST (preparer thread), accepts both signatures and its
outbox relay publishes handover-signed to Kafka; the officer downloads the package and 7z opens it."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer

from p3ke_delivery.bootstrap import SERVICE
from p3ke_delivery.config import DeliverySettings
from p3ke_platform.api import create_app
from p3ke_platform.auth import DevIssuer
from p3ke_platform.devstack.ports import free_port
from p3ke_platform.event_keys import dev_signer
from p3ke_platform.service import Runtime
from p3ke_platform.settings import load_settings
from p3ke_schemas import HandoverSigned, sign_event
from tests.conftest import new_postgres_database
from tests.integration.helpers.agreement_terms import far_agreement_dir
from tests.integration.helpers.processes import http_ready, migrate, stop, wait_for
from tests.unit.delivery.support import (
    SIG_1,
    SIG_2,
    extract_event,
    make_dev_ca,
    seven_zip_extract,
    signer,
    synthetic_extract,
)

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.usefixtures("seven_zip_installed")]


def test_handover_on_kafka_and_postgresql(kafka_bootstrap: str, postgres: Any, service_env: dict[str, str],
                                          tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from p3ke_delivery.adapters.signing import sign_bast

    url = new_postgres_database(postgres)
    data = Path(service_env["P3KE_DATA_DIR"])
    env = {**service_env, "P3KE_SERVICE": "delivery", "P3KE_KAFKA_BOOTSTRAP": kafka_bootstrap,
           "P3KE_DATABASE_URL": url, "P3KE_WORKER_PORT": str(free_port()),
           "P3KE_AGREEMENT_INCLUDE_EXAMPLES": "true",  # kept in force to 2099: the test runs on real time
           "P3KE_AGREEMENT_DIR": str(far_agreement_dir(tmp_path))}
    migrate("p3ke_delivery", env)
    make_dev_ca(data / "dev-ca")
    log_path = tmp_path / "delivery-worker.log"
    with log_path.open("wb") as log:
        worker = subprocess.Popen([sys.executable, "-m", "p3ke_delivery", "worker"], env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: http_ready(f"http://127.0.0.1:{env['P3KE_WORKER_PORT']}/readyz", worker, log_path), 90,
                     "the delivery worker", interval=0.2)
            settings = load_settings(DeliverySettings, service="delivery", database_url=url, data_dir=data,
                                     env="test", kafka_bootstrap=kafka_bootstrap, agreement_include_examples=True,
                                     agreement_dir=far_agreement_dir(tmp_path), delivery_prepare_poll_ms=100,
                                     relay_idle_ms=20)
            issuer = DevIssuer(settings)

            def auth(subject: str, org: str, role: str) -> dict[str, str]:
                return {"Authorization": f"Bearer {issuer.mint(subject, org, [role])}"}

            extract, sha = synthetic_extract(data, 3000)
            event = extract_event(extract, sha, 3000)
            producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
            key, value, headers = sign_event(event, dev_signer("targeting"), "targeting")  # as targeting would
            producer.send("p3ke.extract-prepared.v1", key=key, value=value, headers=headers).get(30)
            producer.close()

            with TestClient(create_app(Runtime(SERVICE, settings))) as client:
                officer = auth("officer-1", "kemnaker", "program-officer")

                def prepared() -> dict[str, Any] | None:
                    rows = client.get("/v1/handovers", headers=officer).json()
                    mine = [r for r in rows if r["request_id"] == event.data.request_id]
                    return mine[0] if mine and mine[0]["status"] == "awaiting-signatures" else None

                handover_id = wait_for(prepared, 60, "the handover to be prepared", interval=0.2)["handover_id"]
                base = f"/v1/handovers/{handover_id}"
                sig1 = auth("deputi", "kemenkopmk", "signatory")
                sig2 = auth("kabarenbang", "kemnaker", "signatory")
                pdf = client.get(f"{base}/bast", headers=sig1).content
                for signatory, party, who in ((SIG_1, 1, sig1), (SIG_2, 2, sig2)):
                    pdf = sign_bast(client.get(f"{base}/bast", headers=who).content, signer(data / "dev-ca", signatory),
                                    party=party)
                    response = client.post(f"{base}/signatures", content=pdf,
                                           headers={**who, "Content-Type": "application/pdf"})
                    assert response.status_code == 201, response.text

                announced = wait_for(lambda: _handover_signed(kafka_bootstrap, handover_id), 60, "handover-signed",
                                     interval=0.2)
                assert announced.bast_sha256 == hashlib.sha256(pdf).hexdigest()
                assert [s.signatory_id for s in announced.signers] == [SIG_1, SIG_2]

                password = client.post(f"{base}/password", headers=officer).json()["password"]
                link = client.post(f"{base}/package/links", headers=officer).json()
                got = client.get(link["url"], headers=officer)
                assert got.status_code == 200, got.text
            archive = tmp_path / "package.zip"
            archive.write_bytes(got.content)
            opened = seven_zip_extract(archive, password, tmp_path / "opened")
            assert opened.returncode == 0, opened.stdout + opened.stderr
            manifest = json.loads((tmp_path / "opened" / "manifest.json").read_text())
            assert manifest["record_count"] == 3000 and manifest["handover_id"] == handover_id
        finally:
            stop(worker)
    worker_log = log_path.read_text()
    assert "handover opened" in worker_log
    for canary in ("NAMA SINTETIS", password):
        assert canary not in worker_log


def _handover_signed(bootstrap: str, handover_id: str) -> HandoverSigned | None:
    from p3ke_schemas import from_kafka

    consumer = KafkaConsumer("p3ke.handover-signed.v1", bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=2000, group_id=None)
    try:
        for message in consumer:
            if message.key and message.key.decode() == handover_id:
                event = from_kafka(message.key, message.value, message.headers)
                assert isinstance(event.data, HandoverSigned)
                return event.data
    finally:
        consumer.close()
    return None
