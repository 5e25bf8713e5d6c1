"""extract-prepared reports what the request asked (for the BAST, and to bind the package release to the
requester): the verified requester, the path it came by, the recipient it named, the justification, the
criteria with the reference date actually used, the fields; accepted and rejected alike. A named recipient
must be a person of party 2 whose role the agreement lets download the package."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from p3ke_platform.agreement import agreement_day
from p3ke_platform.api import create_app
from p3ke_platform.auth import DevIssuer
from p3ke_platform.messaging.inbox import Delivered
from p3ke_platform.service import Runtime
from p3ke_schemas import Actor, ExtractPrepared, from_kafka
from tests.unit.targeting.helpers import FIELDS, OFFICER, apply, one_prepared, request

RECIPIENT = Actor(org="kemnaker", subject="officer-2", roles=["program-officer"])


def _asked(event: dict) -> ExtractPrepared:
    prepared = ExtractPrepared.model_validate(event)
    for personal in ("nik", "nama", "alamat"):
        assert f'"{personal}":' not in json.dumps(event)
    return prepared


def test_a_platform_request_reports_what_it_asked(runtime: Runtime) -> None:
    asked = request(criteria={"region_codes": ["32"], "deciles": [1, 2], "age_min": 18, "age_max": 60, "sex": "P"})
    assert apply(runtime, asked) == []
    event = _asked(one_prepared(runtime, asked.request_id))
    assert event.status == "accepted", event.reason
    assert event.requester == OFFICER and event.recipient is None
    assert event.request_path == "platform"
    assert event.justification == asked.justification
    assert event.fields == FIELDS
    assert event.criteria is not None
    # no reference date in the request: the day it was received is the one ages were computed on
    assert event.criteria.reference_date == agreement_day(datetime.now(UTC))
    assert event.criteria.model_dump(exclude={"reference_date"}) == asked.criteria.model_dump(
        exclude={"reference_date"})


def test_a_rejected_request_reports_it_too(runtime: Runtime) -> None:
    asked = request(program="pelatihan_menjahit")
    assert apply(runtime, asked) == []
    event = _asked(one_prepared(runtime, asked.request_id))
    assert event.status == "rejected"
    assert (event.requester, event.request_path, event.justification, event.fields) == (
        OFFICER, "platform", asked.justification, FIELDS)
    assert event.criteria == asked.criteria  # as asked: no selection was made


def test_a_named_recipient_is_carried(runtime: Runtime) -> None:
    asked = request(recipient=RECIPIENT, criteria={"deciles": [1], "reference_date": date.today().isoformat()})
    assert apply(runtime, asked) == []
    event = _asked(one_prepared(runtime, asked.request_id))
    assert event.status == "accepted", event.reason
    assert event.recipient == RECIPIENT and event.requester == OFFICER
    assert event.criteria is not None and event.criteria.reference_date == date.today()


@pytest.mark.parametrize(("recipient", "words"), [
    (Actor(org="kemenkopmk", subject="steward-1", roles=["data-steward"]), "is not of PIHAK KEDUA (kemnaker)"),
    (Actor(org="kemnaker", subject="svc-pusdatik", roles=["program-officer"], service_account=True),
     "is a service account"),
    (Actor(org="kemnaker", subject="kabarenbang", roles=["signatory"]),
     "may not receive the package: role signatory of kemnaker may not download-package"),
    (Actor(org="kemnaker", subject="nobody"), "an actor with no role of kemnaker may not download-package"),
])
def test_a_recipient_the_agreement_does_not_allow_is_refused(runtime: Runtime, recipient: Actor,
                                                             words: str) -> None:
    asked = request(recipient=recipient)
    assert apply(runtime, asked) == []
    event = _asked(one_prepared(runtime, asked.request_id))
    assert event.status == "rejected" and event.extract_id is None
    assert words in (event.reason or ""), event.reason
    assert f"account '{recipient.subject}'" in (event.reason or "")
    assert event.recipient == recipient


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as c:
        yield c


def _submit_and_work(client: TestClient, runtime: Runtime, body: dict) -> dict:
    token = DevIssuer(runtime.settings).mint("officer-7", "kemnaker", ["program-officer"])
    response = client.post("/v1/extract-requests", json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 202, response.text
    outbox = runtime.spec.tables.outbox
    with runtime.engine.connect() as conn:
        rows = conn.execute(select(outbox).where(outbox.c.event_type == "p3ke.extract-requested.v1")).all()
    items = [Delivered(row.topic, 0, i, from_kafka(row.key.encode(), row.value,
                                                   [(k, v.encode()) for k, v in json.loads(row.headers)]))
             for i, row in enumerate(rows)]
    assert runtime.inbox("worker").apply_batch(items) == []
    return one_prepared(runtime, response.json()["request_id"])


def test_an_api_request_says_so_and_may_name_a_recipient(client: TestClient, runtime: Runtime) -> None:
    event = _asked(_submit_and_work(client, runtime, {
        "program": "padat_karya", "criteria": {"region_codes": ["33"], "deciles": [1, 2]}, "quota": 30,
        "fields": FIELDS, "justification": "padat karya Jawa Tengah 2026", "purpose": "seleksi_calon_peserta",
        "recipient": RECIPIENT.model_dump(mode="json")}))
    assert event.status == "accepted", event.reason
    assert event.request_path == "api"
    assert event.requester == Actor(org="kemnaker", subject="officer-7", roles=["program-officer"])
    assert event.recipient == RECIPIENT
    assert event.justification == "padat karya Jawa Tengah 2026"
