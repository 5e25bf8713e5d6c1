"""Forged events on real Kafka: none is applied, each is dead-lettered with its reason and recorded in the audit
log as a refusal, and the valid ones still go through (issue: proof of origin).

For extract-requested, extract-prepared, handover-signed and data-access the test publishes what an attacker
with write access to the topic could: an unsigned event, one signed by an unknown key, one signed by a key of
the wrong producer, one whose claimed time is a year off, and a replayed copy of a valid event with a changed
field. The consumers (targeting, delivery, feedback, audit: workers and relays in their own processes, on
PostgreSQL) must apply only the valid ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from kafka import KafkaProducer
from sqlalchemy import create_engine, select

from p3ke_platform.agreement import agreement_day
from p3ke_platform.devstack.ports import free_port
from p3ke_platform.event_keys import dev_signer
from p3ke_schemas import (
    Actor,
    CloudEvent,
    DataAccess,
    DatasetUpdated,
    EventSigner,
    ExtractCriteria,
    ExtractPrepared,
    ExtractRequested,
    HandoverSigned,
    Signer,
    sign_event,
    to_kafka,
)
from tests.conftest import new_postgres_database
from tests.integration.helpers.agreement_terms import far_agreement_dir
from tests.integration.helpers.kafka_topics import collect
from tests.integration.helpers.processes import migrate, stop, wait_for, wait_ready

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
SERVICES = ("targeting", "delivery", "feedback", "audit")
OFFICER = Actor(org="kemnaker", subject="svc-pusdatik", roles=["program-officer"], service_account=True)
STEWARD = Actor(org="kemenkopmk", subject="steward-1", roles=["data-steward"])
AGREEMENT = "pks-p3ke-2023"


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from p3ke_ingest.synth import generate

    tmp = tmp_path_factory.mktemp("origin")
    snapshot = generate(tmp / "snapshot", individuals=3000, fmt="parquet", seed=11, provinces=["32"],
                        family_file=False).individual_path
    base = {k: v for k, v in os.environ.items() if not k.startswith("P3KE_")}
    base.update(P3KE_ENV="test", P3KE_KAFKA_BOOTSTRAP=kafka_bootstrap, P3KE_LOG_LEVEL="WARNING",
                P3KE_AGREEMENT_INCLUDE_EXAMPLES="true", P3KE_CONSUMER_GROUP="",
                P3KE_AGREEMENT_DIR=str(far_agreement_dir(tmp)))  # in force to 2099: the test runs on real time
    yield {"base": base, "tmp": tmp, "snapshot": snapshot}


@pytest.fixture(scope="module")
def services(stack: dict[str, Any], request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    pg = request.getfixturevalue("postgres")
    tag = uuid.uuid4().hex[:8]
    envs, procs = {}, []
    for name in SERVICES:
        env = {**stack["base"], "P3KE_SERVICE": name, "P3KE_DATABASE_URL": new_postgres_database(pg),
               "P3KE_DATA_DIR": str(stack["tmp"] / name), "P3KE_CONSUMER_GROUP": f"origin-{name}-{tag}",
               "P3KE_WORKER_PORT": str(free_port())}
        migrate(f"p3ke_{name}", env)
        envs[name] = env
    try:
        for name in SERVICES:
            for role in ("worker", "relay"):
                log = stack["tmp"] / f"{name}-{role}.log"
                handle = log.open("wb")
                proc = subprocess.Popen([sys.executable, "-m", f"p3ke_{name}", role], env=envs[name],
                                        stdout=handle, stderr=subprocess.STDOUT)
                procs.append((proc, handle, log))
        for proc, _, log in procs[::2]:
            name = log.name.split("-")[0]
            wait_ready(f"http://127.0.0.1:{envs[name]['P3KE_WORKER_PORT']}/readyz", proc, log, timeout=120)
        engines = {n: create_engine(envs[n]["P3KE_DATABASE_URL"]) for n in SERVICES}
        yield {"envs": envs, "procs": procs, "engines": engines}
        for engine in engines.values():
            engine.dispose()
    finally:
        for proc, handle, _ in procs:
            stop(proc)
            handle.close()


def _send(bootstrap: str, messages: list[tuple[str, bytes, bytes, list[tuple[str, bytes]]]]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for topic, key, value, headers in messages:
            producer.send(topic, key=key, value=value, headers=headers)
        producer.flush(60)
    finally:
        producer.close()


def _signed(event: CloudEvent, owner: str, signer: EventSigner | None = None) -> tuple[str, bytes, bytes, list]:
    key, value, headers = sign_event(event, signer or dev_signer(owner), owner)
    return event.spec.topic, key, value, headers


def _unsigned(event: CloudEvent) -> tuple[str, bytes, bytes, list]:
    key, value, headers = to_kafka(event)
    return event.spec.topic, key, value, headers


def _tampered(message: tuple[str, bytes, bytes, list], old: bytes, new: bytes) -> tuple[str, bytes, bytes, list]:
    """A replayed copy of a valid message (same ce_id, same signature) with one field changed."""
    topic, key, value, headers = message
    assert old in value
    return topic, key, value.replace(old, new), headers


def _request(request_id: str, version: str, **changes: Any) -> CloudEvent:
    data = ExtractRequested(request_id=request_id, agreement_id=AGREEMENT, program="padat_karya",
                            criteria=ExtractCriteria(region_codes=["32"],
                                                     reference_date=agreement_day(datetime.now(UTC))),
                            quota=40, fields=["nik", "nama", "kode_kemendagri"],
                            justification="Padat karya Jawa Barat 2026 (uji asal-usul)", requested_by=OFFICER,
                            purpose="seleksi_calon_peserta",
                            dataset_version_id=version, requested_at=datetime.now(UTC))
    return CloudEvent.of(data.model_copy(update=changes), source="urn:kemnaker:pusdatik:platform")


def _scalar(engine: Any, query: Any) -> Any:
    with engine.connect() as conn:
        return conn.scalar(query)


def _dead_letters(bootstrap: str, topic: str, keys: set[str], want: int) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for message in collect(bootstrap, topic + ".dlq", keys, want=want, timeout=120):
        headers = {k: v.decode() for k, v in message.headers}
        found.setdefault(message.key.decode(), []).append(
            f"{headers['p3ke_dlq_consumer']}: {headers['p3ke_dlq_reason']}")
    return found


def test_forged_events_are_refused_and_valid_ones_go_through(stack: dict[str, Any], services: dict[str, Any],
                                                             kafka_bootstrap: str) -> None:
    tag = uuid.uuid4().hex[:8]
    now = datetime.now(UTC)
    rogue = EventSigner("rogue-1", ed25519.Ed25519PrivateKey.generate())
    snapshot: Path = stack["snapshot"]
    version = f"dv-{tag}"

    # the valid path: a dataset (ingest's key), then a request signed by party 2's platform key
    dataset = CloudEvent.of(DatasetUpdated(
        dataset_version_id=version, agreement_id=AGREEMENT, snapshot_uri=snapshot.as_uri(),
        snapshot_sha256=hashlib.sha256(snapshot.read_bytes()).hexdigest(), individuals=3000, families=0,
        published_by=STEWARD, published_at=now), source="urn:p3ke:service:ingest")
    _send(kafka_bootstrap, [_signed(dataset, "ingest")])
    targeting_db = services["engines"]["targeting"]
    from p3ke_targeting.adapters.orm import datasets, extract_requests

    wait_for(lambda: _scalar(targeting_db, select(datasets.c.dataset_version_id).where(
        datasets.c.dataset_version_id == version)), 120, "targeting to learn the dataset")
    valid_request = _signed(_request(f"ok-{tag}", version), "party-2 platform")

    # extract-requested: every way of forging it
    forged: dict[str, dict[str, tuple[str, bytes, bytes, list]]] = {"extract-requested": {
        "unsigned": _unsigned(_request(f"unsigned-{tag}", version)),
        "unknown-key": _signed(_request(f"rogue-{tag}", version), "party-2 platform", rogue),
        "wrong-producer": _signed(_request(f"svc-{tag}", version), "delivery"),
        "principal": _signed(_request(f"p1-{tag}", version), "party-1 platform"),
        "time": _signed(_request(f"late-{tag}", version, requested_at=now - timedelta(days=365)),
                        "party-2 platform"),
        "bad-signature": _tampered(valid_request, b'"quota":40', b'"quota":4000'),
    }}
    expected_reason = {case: re.escape(text) for case, text in {
        "unsigned": "the event is not signed", "unknown-key": "is not a key this deployment trusts",
        "wrong-producer": "which may not produce", "principal": "may vouch only for people of kemenkopmk",
        "time": "requested_at is 365 day(s) before the broker received the event",
        "bad-signature": "does not match the event",
    }.items()}
    _send(kafka_bootstrap, [valid_request, *forged["extract-requested"].values()])

    # the valid request is decided; targeting publishes extract-prepared, delivery opens a handover for it
    prepared = collect(kafka_bootstrap, "p3ke.extract-prepared.v1", {f"ok-{tag}"}, want=1, timeout=120)
    assert prepared, "the valid platform request produced no extract-prepared"
    body = json.loads(prepared[0].value)
    assert body["status"] == "accepted", body
    from p3ke_delivery.adapters.orm import handovers

    delivery_db = services["engines"]["delivery"]
    wait_for(lambda: _scalar(delivery_db, select(handovers.c.handover_id).where(
        handovers.c.request_id == f"ok-{tag}")), 120, "delivery to open the valid handover")

    # a proven sender whose request is dead-lettered hears why (rejected extract-prepared, audited); an unproven
    # one is answered to no one
    bad_schema = json.loads(_request(f"schema-{tag}", version).data.model_dump_json()) | {"quota": 0}
    reused = _request(f"ok-{tag}", version, quota=41)
    unproven = _unsigned(_request(f"schema-unsigned-{tag}", version))
    topic, key, _, headers = _signed(_request(f"schema-{tag}", version), "party-2 platform")
    from p3ke_schemas.signing import sign_headers

    value = json.dumps(bad_schema).encode()
    headers = sign_headers(dev_signer("party-2 platform"), [h for h in headers if h[0] != "ce_signature"], value)
    _send(kafka_bootstrap, [(topic, key, value, headers), _signed(reused, "party-2 platform"),
                            (unproven[0], unproven[1], json.dumps(bad_schema | {"request_id": f"schema-unsigned-{tag}"})
                             .encode(), unproven[3])])
    answers = collect(kafka_bootstrap, "p3ke.extract-prepared.v1", {f"schema-{tag}", f"ok-{tag}"}, want=3,
                      timeout=120)
    answered = {m.key.decode(): json.loads(m.value) for m in answers if json.loads(m.value)["status"] == "rejected"}
    assert answered[f"schema-{tag}"]["reason"].startswith("the request was not processed: "), answered
    assert "quota" in answered[f"schema-{tag}"]["reason"]
    assert "already used by a different extract request" in answered[f"ok-{tag}"]["reason"]
    assert not collect(kafka_bootstrap, "p3ke.extract-prepared.v1", {f"schema-unsigned-{tag}"}, want=1, timeout=5)

    # extract-prepared, handover-signed and data-access: forged copies
    valid_prepared = (prepared[0].topic, prepared[0].key, prepared[0].value, list(prepared[0].headers))
    prepared_data = ExtractPrepared.model_validate_json(prepared[0].value)

    def prepared_as(request_id: str) -> CloudEvent:
        changed = prepared_data.model_copy(update={"request_id": request_id, "extract_id": f"x-{request_id}"})
        return CloudEvent.of(changed, source="urn:p3ke:service:targeting")

    signers = [Signer(party=p, org=o, signatory_id=f"sig-{p}", certificate_sha256="a" * 64, signed_at=now)
               for p, o in ((1, "kemenkopmk"), (2, "kemnaker"))]

    def handover(handover_id: str) -> CloudEvent:
        return CloudEvent.of(HandoverSigned(
            handover_id=handover_id, bast_number=f"001/BAST/{tag}", agreement_id=AGREEMENT, extract_id=f"x-{tag}",
            program="padat_karya", record_count=40, package_sha256="b" * 64, bast_sha256="c" * 64, signers=signers,
            signed_at=now), source="urn:p3ke:service:delivery")

    def access(access_id: str, service: str = "feedback") -> CloudEvent:
        return CloudEvent.of(DataAccess(
            access_id=access_id, service=service, actor=OFFICER, action="read", resource_type="feedback-batch",
            resource_id=access_id, outcome="allowed", record_count=1, occurred_at=now),
            source=f"urn:p3ke:service:{service}")

    valid_handover = _signed(handover(f"ho-ok-{tag}"), "delivery")
    valid_access = _signed(access(f"da-ok-{tag}"), "feedback")
    forged["extract-prepared"] = {
        "unsigned": _unsigned(prepared_as(f"ep-unsigned-{tag}")),
        "unknown-key": _signed(prepared_as(f"ep-rogue-{tag}"), "targeting", rogue),
        "wrong-producer": _signed(prepared_as(f"ep-p2-{tag}"), "party-2 platform"),
        "bad-signature": _tampered(valid_prepared, b'"record_count":40', b'"record_count":41'),
    }
    forged["handover-signed"] = {
        "unsigned": _unsigned(handover(f"ho-unsigned-{tag}")),
        "unknown-key": _signed(handover(f"ho-rogue-{tag}"), "delivery", rogue),
        "wrong-producer": _signed(handover(f"ho-svc-{tag}"), "targeting"),
        "bad-signature": _tampered(valid_handover, b'"record_count":40', b'"record_count":400'),
    }
    forged["data-access"] = {
        "unsigned": _unsigned(access(f"da-unsigned-{tag}")),
        "unknown-key": _signed(access(f"da-rogue-{tag}"), "feedback", rogue),
        "wrong-producer": _signed(access(f"da-svc-{tag}", service="targeting"), "feedback"),
        "bad-signature": _tampered(valid_access, b'"action":"read"', b'"action":"erase"'),
    }
    expected_reason["wrong-producer"] = "may not produce|signed by feedback's key"
    later = [m for kind in ("extract-prepared", "handover-signed", "data-access") for m in forged[kind].values()]
    _send(kafka_bootstrap, [valid_handover, valid_access, *later])

    # every forged event: dead-lettered with its reason (by each consumer of the topic) ...
    consumers = {"extract-requested": "targeting", "extract-prepared": "delivery", "handover-signed": "feedback",
                 "data-access": "audit"}
    for kind, messages in forged.items():
        keys = {m[1].decode() for m in messages.values()}
        letters = _dead_letters(kafka_bootstrap, f"p3ke.{kind}.v1", keys, want=2 * len(keys) if kind != "data-access"
                                else len(keys))
        for case, message in messages.items():
            # (the key of the replayed request also carries the reused-id conflict sent above: not this case's)
            reasons = [r for r in letters.get(message[1].decode(), []) if "already used" not in r]
            assert any(r.startswith(f"p3ke-{consumers[kind]}") or consumers[kind] in r.split(":")[0]
                       for r in reasons), (kind, case, reasons)
            assert all(re.search(expected_reason[case], r) for r in reasons), (kind, case, reasons)
            assert all("origin not proven" in r for r in reasons), (kind, case, reasons)

    # ... recorded in the audit log as a refusal, and never applied
    from p3ke_audit.adapters.orm import entries

    audit_db = services["engines"]["audit"]
    all_keys = {m[1].decode(): kind for kind, messages in forged.items() for m in messages.values()}

    def refusals() -> dict[str, set[str]] | None:
        with audit_db.connect() as conn:
            rows = conn.execute(select(entries.c.resource_id, entries.c.service, entries.c.payload).where(
                entries.c.action == "refusal", entries.c.resource_id.in_(list(all_keys)))).all()
        by_key: dict[str, set[str]] = {}
        for row in rows:
            reason = json.loads(row.payload)["reason"]
            if "already used" in reason:
                continue  # the reused-id answer shares the replayed request's key
            assert "origin not proven" in reason, reason
            by_key.setdefault(row.resource_id, set()).add(row.service)
        return by_key if set(by_key) == set(all_keys) else None

    refused = wait_for(refusals, 120, "every forged event's refusal in the audit log")
    for key in all_keys:
        assert "audit" in refused[key], (key, refused[key])
    with targeting_db.connect() as conn:
        stored = set(conn.scalars(select(extract_requests.c.request_id).where(
            extract_requests.c.request_id.like(f"%-{tag}"))))
    assert stored == {f"ok-{tag}"}
    with delivery_db.connect() as conn:
        opened = set(conn.scalars(select(handovers.c.request_id).where(handovers.c.request_id.like(f"%-{tag}"))))
    assert opened == {f"ok-{tag}"}
    from p3ke_feedback.adapters.orm import signed_handovers

    feedback_db = services["engines"]["feedback"]
    wait_for(lambda: _scalar(feedback_db, select(signed_handovers.c.handover_id).where(
        signed_handovers.c.handover_id == f"ho-ok-{tag}")), 60, "feedback to learn the valid handover")
    with feedback_db.connect() as conn:
        learned = set(conn.scalars(select(signed_handovers.c.handover_id).where(
            signed_handovers.c.handover_id.like(f"ho-%-{tag}"))))
    assert learned == {f"ho-ok-{tag}"}
    with audit_db.connect() as conn:
        allowed = set(conn.scalars(select(entries.c.resource_id).where(
            entries.c.event_type == "p3ke.data-access.v1", entries.c.action != "refusal",
            entries.c.resource_id.like(f"da-%-{tag}"))))
    assert allowed == {f"da-ok-{tag}"}
    assert all(proc.poll() is None for proc, _, _ in services["procs"])
