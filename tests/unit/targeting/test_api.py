"""The targeting API: submitting a request publishes extract-requested (then handled like any other),
status, planning counts with small cells suppressed, refusals, the rules."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from p3ke_platform.api import create_app
from p3ke_platform.auth import DevIssuer
from p3ke_platform.messaging.inbox import Delivered
from p3ke_platform.service import Runtime
from p3ke_schemas import from_kafka
from tests.unit.targeting.helpers import FIELDS, apply, dataset_event, emitted, make_runtime

BODY = {"program": "padat_karya", "criteria": {"region_codes": ["33"], "deciles": [1, 2]}, "quota": 40,
        "fields": FIELDS, "justification": "padat karya Jawa Tengah 2026", "purpose": "seleksi_calon_peserta"}


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as c:
        c.issuer = DevIssuer(runtime.settings)  # type: ignore[attr-defined]
        yield c


def _auth(client: TestClient, org: str = "kemnaker", role: str = "program-officer",
          sub: str = "officer-7") -> dict[str, str]:
    return {"Authorization": f"Bearer {client.issuer.mint(sub, org, [role])}"}  # type: ignore[attr-defined]


def _run_worker_once(runtime: Runtime) -> None:
    """What the worker does with the published event: parse it from its Kafka form and apply it."""
    outbox = runtime.spec.tables.outbox
    with runtime.engine.connect() as conn:
        rows = conn.execute(select(outbox).where(outbox.c.event_type == "p3ke.extract-requested.v1")).all()
    items = []
    for i, row in enumerate(rows):
        headers = [(k, v.encode()) for k, v in json.loads(row.headers)]
        items.append(Delivered(row.topic, 0, i, from_kafka(row.key.encode(), row.value, headers)))
    assert runtime.inbox("worker").apply_batch(items) == []


def test_submit_then_worker_then_status(client: TestClient, runtime: Runtime) -> None:
    response = client.post("/v1/extract-requests", json={**BODY, "request_id": "req-api-1"}, headers=_auth(client))
    assert response.status_code == 202, response.text
    assert response.headers["Location"] == "/v1/extract-requests/req-api-1"
    assert response.json()["status"] == "submitted"
    [published] = emitted(runtime, "p3ke.extract-requested.v1")
    assert published["requested_by"] == {"org": "kemnaker", "subject": "officer-7", "roles": ["program-officer"],
                                         "service_account": False}
    assert published["agreement_id"] == "pks-p3ke-2023"

    _run_worker_once(runtime)
    status = client.get("/v1/extract-requests/req-api-1", headers=_auth(client, sub="officer-8")).json()
    assert status["status"] == "accepted" and status["record_count"] == 40
    assert status["counts_by_region"] == {"33": 40} and len(status["file_sha256"]) == 64
    steward = client.get("/v1/extract-requests/req-api-1", headers=_auth(client, "kemenkopmk", "data-steward"))
    assert steward.status_code == 200

    again = client.post("/v1/extract-requests", json={**BODY, "request_id": "req-api-1"}, headers=_auth(client))
    assert again.status_code == 200 and again.json()["status"] == "accepted"
    clash = client.post("/v1/extract-requests", json={**BODY, "request_id": "req-api-1", "quota": 41},
                        headers=_auth(client))
    assert clash.status_code == 409 and clash.json()["code"] == "request.id_taken"
    assert clash.json()["detail"].startswith("request_id req-api-1 sudah dipakai oleh permintaan lain dengan isi "
                                             "berbeda")
    assert len(emitted(runtime, "p3ke.extract-requested.v1")) == 1


def test_a_program_outside_art_3_is_refused_by_the_policy_and_audited(client: TestClient,
                                                                      runtime: Runtime) -> None:
    body = {**BODY, "request_id": "req-oos", "program": "pelatihan_menjahit"}
    response = client.post("/v1/extract-requests", json=body, headers=_auth(client))
    assert response.status_code == 202, response.text
    _run_worker_once(runtime)
    status = client.get("/v1/extract-requests/req-oos", headers=_auth(client)).json()
    assert status["status"] == "rejected"
    # Indonesian first, then English: what party 2's platform shows its officers (extract-prepared)
    assert status["reason"].startswith("program 'pelatihan_menjahit' bukan salah satu dari 4 program Pasal 3")
    assert " / program 'pelatihan_menjahit' is not one of the 4 programs of Art. 3" in status["reason"]
    [prepared] = emitted(runtime, "p3ke.extract-prepared.v1")
    assert (prepared["status"], prepared["program"], prepared["reason"]) == (
        "rejected", "pelatihan_menjahit", status["reason"])
    refusals = [e for e in emitted(runtime, "p3ke.data-access.v1") if e["action"] == "refusal"]
    assert [(r["resource_id"], r["outcome"], r["program"], r["reason"]) for r in refusals] == [
        ("req-oos", "denied", "pelatihan_menjahit", status["reason"])]


@pytest.mark.parametrize("change", [{"quota": 0}, {"quota": 1_000_000_000}, {"program": "Pelatihan Menjahit!"},
                                    {"fields": []}, {"criteria": {"age_min": -1}}, {"nik": "3201010101010001"}])
def test_schema_invalid_bodies_get_422(client: TestClient, runtime: Runtime, change: dict[str, Any]) -> None:
    response = client.post("/v1/extract-requests", json={**BODY, **change}, headers=_auth(client))
    assert response.status_code == 422
    assert "3201010101010001" not in response.text or "nik" in change
    assert emitted(runtime, "p3ke.extract-requested.v1") == []


def test_only_party_2_requesters_may_submit(client: TestClient) -> None:
    assert client.post("/v1/extract-requests", json=BODY).status_code == 401
    for org, role in (("kemnaker", "signatory"), ("kemenkopmk", "program-officer")):
        assert client.post("/v1/extract-requests", json=BODY, headers=_auth(client, org, role)).status_code == 403


def test_plan_counts_suppress_small_cells(client: TestClient, runtime: Runtime) -> None:
    body = {"program": "padat_karya", "criteria": {"deciles": [1, 2, 3, 4]}, "group_by": "regency"}
    response = client.post("/v1/plans", json=body, headers=_auth(client))
    assert response.status_code == 200, response.text
    plan = response.json()
    assert plan["min_cell"] == 10 and plan["dataset_version_id"] == "dv-1"
    shown = [c for c in plan["cells"] if not c["suppressed"]]
    hidden = [c for c in plan["cells"] if c["suppressed"]]
    assert shown and hidden, "the fixture has both large and small cells at regency level"
    assert all(c["count"] >= 10 and c["count"] % 5 == 0 for c in shown) and all(c["count"] is None for c in hidden)
    assert plan["protection"] == "cell-key" and plan["budget"]["used"] == 1  # party 2: protected, budgeted
    assert plan["total_shown"] == sum(c["count"] for c in shown) and plan["suppressed_cells"] == len(hidden)
    assert all(len(c["region"]) == 4 for c in plan["cells"])
    [access] = [e for e in emitted(runtime, "p3ke.data-access.v1") if e["action"] == "query"]
    assert access["resource_id"] == "dv-1" and access["record_count"] >= plan["total_shown"]
    assert access["subject_refs"] == []


def test_plan_counts_exclude_earlier_recipients(client: TestClient, runtime: Runtime) -> None:
    body = {"program": "padat_karya", "criteria": {"region_codes": ["33"], "deciles": [1, 2]}}
    steward = _auth(client, "kemenkopmk", "data-steward")  # party 1's exact counts show the arithmetic
    before = client.post("/v1/plans", json=body, headers=steward).json()
    client.post("/v1/extract-requests", json={**BODY, "request_id": "req-api-2"}, headers=_auth(client))
    _run_worker_once(runtime)
    after = client.post("/v1/plans", json=body, headers=steward).json()
    unexcluded = client.post("/v1/plans", json={**body, "criteria": {**body["criteria"],
                                                                       "exclude_already_delivered": False}},
                             headers=steward).json()
    assert after["excludes_earlier_recipients"] and not unexcluded["excludes_earlier_recipients"]
    assert before["total_shown"] - after["total_shown"] == 40
    assert unexcluded["total_shown"] == before["total_shown"]


def test_plan_refusals_are_audited(client: TestClient, runtime: Runtime) -> None:
    denied = client.post("/v1/plans", json={"program": "padat_karya"},
                         headers=_auth(client, "kemenkopmk", "program-officer"))
    # the policy's refusal in the caller's language: Indonesian by default, its rule as the code
    assert denied.status_code == 403 and denied.json()["code"] == "role" and denied.json()["rule"] == "role"
    assert denied.json()["detail"].startswith("peran program-officer dari kemenkopmk tidak berwenang melakukan "
                                              "plan-aggregates")
    english = client.post("/v1/plans?lang=en", json={"program": "padat_karya"},
                          headers=_auth(client, "kemenkopmk", "program-officer"))
    assert english.status_code == 403 and english.headers["Content-Language"] == "en"
    assert english.json()["detail"].startswith("role program-officer of kemenkopmk may not plan-aggregates")
    bad = client.post("/v1/plans", json={"program": "padat_karya", "criteria": {"region_codes": ["3299"]}},
                      headers=_auth(client))
    assert bad.status_code == 422 and bad.json()["code"] == "invalid.regions_unknown"
    assert bad.json()["detail"].startswith("kode wilayah 3299 tidak ada dalam referensi Kemendagri")
    refusals = [e for e in emitted(runtime, "p3ke.data-access.v1") if e["action"] == "refusal"]
    assert [r["outcome"] for r in refusals] == ["denied", "denied", "denied"]


def test_rules_are_published(client: TestClient) -> None:
    rules = client.get("/v1/eligibility-rules", headers=_auth(client)).json()
    assert rules["rules_version"].startswith("2026.11-defaults+")
    assert rules["programs"]["padat_karya"]["age"] == {"min": 18, "max": 60}


def test_unknown_request_reads_as_absent(client: TestClient) -> None:
    absent = client.get("/v1/extract-requests/nope", headers=_auth(client))
    assert absent.status_code == 404 and absent.json() == {
        "detail": "Permintaan ekstrak nope tidak ditemukan; periksa id-nya (hanya permintaan instansi Anda sendiri "
                  "yang dapat dilihat).", "code": "request.not_found"}
    english = client.get("/v1/extract-requests/nope", headers={**_auth(client), "Accept-Language": "en"})
    assert english.json()["detail"] == ("no extract request nope; check its id (only your own organisation's requests "
                                        "can be seen)")


def test_plan_counts_are_computed_on_the_day_of_the_request(client: TestClient, runtime: Runtime) -> None:
    body = {"program": "padat_karya", "criteria": {"deciles": [1], "reference_date": "2050-01-01"}}
    refused = client.post("/v1/plans", json=body, headers=_auth(client))
    assert refused.status_code == 422
    assert ("criteria.reference_date 2050-01-01: hitungan perencanaan dihitung pada hari ini"
            in refused.json()["detail"])


def test_planning_after_the_agreement_ended_is_refused_like_an_extract(tmp_path: Path, snapshot: Path) -> None:
    """Planning counts use the register: a data action, refused outside the validity period (Art. 8) and audited
    as a refusal, not answered and recorded as an ordinary query."""
    runtime = make_runtime(tmp_path, agreement_include_examples=False)  # the PKS as signed ended 28 Feb 2025
    apply(runtime, dataset_event(snapshot))
    with TestClient(create_app(runtime)) as client:
        client.issuer = DevIssuer(runtime.settings)  # type: ignore[attr-defined]
        refused = client.post("/v1/plans", json={"program": "padat_karya", "criteria": {"deciles": [1]}},
                              headers=_auth(client))
    assert refused.status_code == 403 and "berakhir pada 2025-02-28" in refused.json()["detail"]
    assert refused.headers["X-P3KE-Refusal"] == "expired"  # the policy's rule, with the purpose it was asked for
    [record] = [e for e in emitted(runtime, "p3ke.data-access.v1") if e["resource_type"] == "dataset-version"]
    assert record["action"] == "refusal" and record["outcome"] == "denied"
    # the audit log keeps the refusal in both languages: Indonesian (as answered), then English
    assert record["reason"].startswith(refused.json()["detail"] + " / the agreement ")
    assert "expired on 2025-02-28" in record["reason"]
