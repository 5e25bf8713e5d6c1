"""The compliance API end to end over a real database: queries, proofs checked client-side with the
public key only, violations, exports (bundle verified offline by the CLI), every query recorded,
RBAC matrix, bounded queries, and the web page."""

from __future__ import annotations

import base64
import csv
import io
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from p3ke_audit.domain.entry import canonical_bytes
from p3ke_audit.service_layer import proofs
from p3ke_platform.api import create_app
from p3ke_platform.audit_client import subject_ref
from p3ke_platform.auth import ORGS, ROLES, DevIssuer
from p3ke_platform.cli import main as p3ke
from p3ke_platform.event_keys import dev_kid
from p3ke_platform.messaging.inbox import Delivered
from p3ke_platform.service import Runtime
from p3ke_platform.tlog.merkle import leaf_hash, verify_consistency, verify_inclusion
from p3ke_platform.tlog.note import open_note, parse_verifier_key
from p3ke_schemas import verify_event
from tests.integration.audit.helpers import (
    ACTORS,
    RING,
    SUBJECT_KEY,
    T0,
    access,
    audit_runtime,
    deliver,
    handover_signed,
    nik,
)

SINCE = "2026-03-01T00:00:00+07:00"
UNTIL = "2027-03-02T00:00:00+07:00"
RANGE = {"since": SINCE, "until": UNTIL}


def _seed(runtime: Runtime) -> dict[str, str]:
    """A log with ordinary accesses and one example of each violation; returns event ids by role."""
    special = {
        "denied": access(50, outcome="denied", reason="agreement expired"),
        "download_ok": access(51, action="download", resource_type="handover", resource_id="ho-1",
                              at=T0 + timedelta(hours=1), niks=[nik(7)]),
        "download_no_bast": access(52, action="download", resource_type="handover", resource_id="ho-2"),
        "odd_program": access(53, program="bansos_lain"),
        "no_program": access(54, program=None, action="export", actor=ACTORS[0]),
        "outside_validity": access(55, action="select", at=datetime(2027, 2, 28, 17, 30, tzinfo=UTC)),  # 1 Mar 2027 WIB
        "big": access(56, record_count=200_000, actor=ACTORS[1]),
    }
    events = [handover_signed("ho-1", T0), *[access(i, niks=[nik(i % 4)]) for i in range(20)], *special.values()]
    assert deliver(runtime, events, batch=7) == []
    runtime.context.issue_checkpoint()
    return {k: e.id for k, e in special.items()}


def _relay_own_records(runtime: Runtime) -> list[Any]:
    """Stand in for the relay + Kafka: the audit service's own data-access records, back into its log."""
    outbox = runtime.spec.tables.outbox
    with runtime.engine.connect() as conn:
        rows = conn.execute(select(outbox).order_by(outbox.c.seq)).mappings().all()
    events = [verify_event(r["key"].encode(), r["value"], [(n, v.encode()) for n, v in json.loads(r["headers"])],
                           RING.public_key)  # the worker verifies the audit service's own signature too
              for r in rows]
    inbox = runtime.inbox("relay-stand-in")
    assert inbox.apply_batch([Delivered(e.spec.topic, 0, i, e) for i, e in enumerate(events)]) == []
    return events


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> tuple[Runtime, TestClient, dict[str, str], dict[str, str]]:
    runtime = audit_runtime(database_url, tmp_path, agreement_dir=None, audit_checkpoint_every=5)
    ids = _seed(runtime)
    client = TestClient(create_app(runtime))
    token = DevIssuer(runtime.settings).mint("dpo-1", "kemnaker", ["compliance-auditor"])
    return runtime, client, {"Authorization": f"Bearer {token}"}, ids


def test_compliance_queries_proofs_and_exports(api: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    runtime, client, auth, ids = api
    key = client.get("/v1/public-key", headers=auth).json()
    name, public = parse_verifier_key(key["verifier_key"])
    head = open_note(client.get("/v1/checkpoints/latest", headers=auth).json()["note"], name, public)
    assert head.size == 28 and head.origin == runtime.settings.audit_origin
    assert client.get("/v1/checkpoints/latest?format=note", headers=auth).text.startswith(f"{name}\n28\n")

    # filters
    def ids_of(response: Any) -> set[str]:
        assert response.status_code == 200, response.text
        return {e["event_id"] for e in response.json()}

    officer2 = ids_of(client.get("/v1/entries", params={"role": "signatory", "limit": 1000}, headers=auth))
    assert ids["big"] in officer2 and ids["denied"] not in officer2
    assert ids_of(client.get("/v1/entries", params={"outcome": "denied"}, headers=auth)) == {ids["denied"]}
    assert ids_of(client.get("/v1/entries", params={"resource_id": "ho-2"}, headers=auth)) == {ids["download_no_bast"]}
    assert ids_of(client.get("/v1/entries", params={"program": "bansos_lain", **RANGE}, headers=auth)) == {
        ids["odd_program"]}
    page1 = client.get("/v1/entries", params={"limit": 10}, headers=auth).json()
    page2 = client.get("/v1/entries", params={"limit": 10, "after": page1[-1]["seq"]}, headers=auth).json()
    assert len(page1) == 10 and page2[0]["seq"] > page1[-1]["seq"]

    # an entry with its inclusion proof, checked here with nothing but the public key
    for leaf in (0, 13, 27):
        body = client.get(f"/v1/entries/{leaf}", headers=auth).json()
        inc = body["inclusion"]
        cp = open_note(inc["checkpoint"]["note"], name, public)
        computed = leaf_hash(canonical_bytes(inc["entry"]))
        assert base64.b64decode(inc["leaf_hash"]) == computed
        verify_inclusion(computed, leaf, cp.size, [base64.b64decode(h) for h in inc["inclusion_proof"]], cp.root)
        assert body["entry"]["leaf_index"] == leaf

    # consistency between two signed checkpoints
    cps = client.get("/v1/checkpoints", headers=auth).json()
    assert len(cps) >= 3
    first, last = (open_note(c["note"], name, public) for c in (cps[0], cps[-1]))
    proof = client.get("/v1/proofs/consistency", params={"first": first.size, "second": last.size},
                       headers=auth).json()["consistency_proof"]
    verify_consistency(first.size, last.size, first.root, last.root, [base64.b64decode(h) for h in proof])

    # a data subject's trail, by NIK in the body; the NIK is stored nowhere
    trail = client.post("/v1/subjects/trail", json={"nik": nik(1)}, headers=auth)
    assert trail.status_code == 200
    assert [e["leaf_index"] for e in trail.json()] == [1 + 4 * i + 1 for i in range(5)]  # after ho-1 at leaf 0
    assert client.post("/v1/subjects/trail", json={"nik": "12345"}, headers=auth).status_code == 422
    downloaded = client.post("/v1/subjects/trail", json={"nik": nik(7)}, headers=auth).json()
    assert [(e["resource_id"], e["bast_number"]) for e in downloaded] == [("ho-1", "BAST-ho-1")]
    listed = client.get("/v1/entries", params={"action": "download", "resource_id": "ho-1"}, headers=auth).json()
    assert [e["bast_number"] for e in listed] == ["BAST-ho-1"]  # the listing names the BAST too
    # every entry names the key that signed its event, with the signature (its origin evidence)
    assert [e["key_id"] for e in listed] == [dev_kid(listed[0]["service"])]
    assert listed[0]["signature"].split(".")[1] == "" and len(listed[0]["signature"].split(".")) == 3
    one = client.get(f"/v1/entries/{listed[0]['leaf_index']}", headers=auth).json()
    assert one["entry"]["bast_number"] == "BAST-ho-1"

    # violations
    found = client.get("/v1/violations", params=RANGE, headers=auth).json()
    assert {e["event_id"] for e in found["refused"]} == {ids["denied"]}
    assert {e["event_id"] for e in found["download_without_signed_bast"]} == {ids["download_no_bast"]}
    assert {e["event_id"] for e in found["purpose_outside_programs"]} == {ids["odd_program"], ids["no_program"]}
    assert {e["event_id"] for e in found["outside_agreement_validity"]} == {ids["outside_validity"]}
    assert [(v["actor_subject"], v["day"]) for v in found["unusual_volume"]] == [("officer-2", "2026-03-02")]

    summary = client.get("/v1/summary/monthly", params=RANGE, headers=auth).json()
    assert {r["month"] for r in summary} == {"2026-03", "2027-03"}
    assert sum(r["accesses"] for r in summary) == 27

    # CSV, bounded
    text = client.get("/v1/entries/export.csv", params={"outcome": "allowed", **RANGE}, headers=auth).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 26 and rows[0]["leaf_index"] == "1"

    # a bundle for one data subject, verified offline with the verifier key only
    bundle = client.post("/v1/exports/bundle", json={**RANGE, "nik": nik(1)}, headers=auth).json()
    assert len(bundle["entries"]) == 5 and bundle["checkpoints"]
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    monkeypatch.delenv("P3KE_DATABASE_URL", raising=False)
    assert p3ke(["audit", "verify-bundle", str(path), "--key", key["verifier_key"]]) == 0
    assert "ok: 5 entries" in capsys.readouterr().out
    pem = tmp_path / "log.pub"
    pem.write_text(key["public_key_pem"])
    assert p3ke(["audit", "verify-bundle", str(path), "--key", str(pem), "--origin", name]) == 0
    bundle["entries"][2]["entry"]["actor_subject"] = "someone-else"
    path.write_text(json.dumps(bundle))
    assert p3ke(["audit", "verify-bundle", str(path), "--key", key["verifier_key"]]) == 1
    assert "entries[2]" in capsys.readouterr().err

    # every query above was recorded; fed back, they are entries of the log like any access
    records = _relay_own_records(runtime)
    assert records and all(e.data.service == "audit" and e.data.actor.subject == "dpo-1" for e in records)
    trail_record = next(e for e in records if e.data.resource_id == "subject-trail")
    assert trail_record.data.subject_refs == [subject_ref(SUBJECT_KEY, nik(1))]
    with runtime.engine.connect() as conn:
        outbox = conn.execute(select(runtime.spec.tables.outbox.c.value)).scalars().all()
        logged = conn.execute(select(runtime.spec.metadata.tables["audit_entries"].c.payload)).scalars().all()
    assert not any(nik(1).encode() in v for v in outbox) and not any(nik(1) in p for p in logged)
    assert {e["event_id"] for e in client.post("/v1/subjects/trail", json={"nik": nik(1)}, headers=auth).json()} \
        >= {trail_record.id}  # the lookup shows up in the subject's own trail

    status = client.get("/v1/integrity", headers=auth).json()
    assert status["tree_size"] > 28 and status["latest_checkpoint"]["tree_size"] == status["tree_size"]


def test_unbounded_queries_are_refused(api: Any) -> None:
    _, client, auth, _ = api
    assert client.get("/v1/entries", params={"limit": 1_000_000}, headers=auth).status_code == 422
    unbounded = client.get("/v1/violations", headers=auth)
    assert unbounded.status_code == 422 and unbounded.json()["code"] == "query.range_missing"
    assert unbounded.json()["detail"].startswith("Sebutkan rentang waktu: since dan until")  # Indonesian by default
    english = client.get("/v1/violations", headers={**auth, "Accept-Language": "en"})
    assert english.status_code == 422 and english.headers["Content-Language"] == "en"
    assert english.json()["detail"].startswith("Give a time range: since and until")
    assert client.get("/v1/entries/export.csv", headers=auth).status_code == 422
    too_long = {"since": "2020-01-01T00:00:00+07:00", "until": "2026-01-01T00:00:00+07:00"}
    long_answer = client.get("/v1/summary/monthly", params=too_long, headers=auth)
    assert long_answer.status_code == 422 and long_answer.json()["code"] == "query.range_too_long"
    assert "bagi menjadi beberapa rentang yang lebih pendek" in long_answer.json()["detail"]
    naive = {"since": "2026-01-01T00:00:00", "until": "2026-02-01T00:00:00"}
    zone = client.get("/v1/summary/monthly", params=naive, headers=auth)
    assert zone.status_code == 422 and zone.json()["detail"].startswith("since dan until harus memuat zona waktu")
    assert client.post("/v1/exports/bundle", json={"nik": nik(1)}, headers=auth).status_code == 422
    beyond = client.get("/v1/proofs/consistency", params={"first": 5, "second": 10_000}, headers=auth)
    assert beyond.status_code == 422 and beyond.json()["code"] == "proof.consistency_range"
    assert beyond.json()["detail"].startswith("Bukti konsistensi memerlukan 0 < first <= second <= ")


ENDPOINTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/v1/entries", {}),
    ("GET", "/v1/entries/export.csv", {"params": RANGE}),
    ("GET", "/v1/entries/3", {}),
    ("POST", "/v1/subjects/trail", {"json": {"nik": nik(2)}}),
    ("GET", "/v1/summary/monthly", {"params": RANGE}),
    ("GET", "/v1/violations", {"params": RANGE}),
    ("GET", "/v1/proofs/inclusion", {"params": {"leaf_index": 3}}),
    ("GET", "/v1/proofs/consistency", {"params": {"first": 3, "second": 9}}),
    ("GET", "/v1/checkpoints/latest", {}),
    ("GET", "/v1/checkpoints", {}),
    ("GET", "/v1/public-key", {}),
    ("GET", "/v1/integrity", {}),
    ("POST", "/v1/exports/bundle", {"json": RANGE}),
]


def test_rbac_matrix(tmp_path: Path) -> None:
    """Each endpoint x each role x each org: only compliance auditors (of either party) get in."""
    runtime = audit_runtime(f"sqlite:///{tmp_path / 'audit.db'}", tmp_path, audit_checkpoint_every=5)
    _seed(runtime)
    client = TestClient(create_app(runtime))
    issuer = DevIssuer(runtime.settings)
    for method, path, kwargs in ENDPOINTS:
        assert client.request(method, path, **kwargs).status_code == 401, path
        for org in ORGS:
            for role in ROLES:
                token = issuer.mint(f"{org}-{role}", org, [role])
                status = client.request(method, path, headers={"Authorization": f"Bearer {token}"},
                                        **kwargs).status_code
                expected = 200 if role == "compliance-auditor" else 403
                assert status == expected, (method, path, org, role, status)
    # the refused attempts were recorded too, as denied accesses by the caller
    denied = [e for e in _relay_own_records(runtime) if e.data.outcome == "denied"]
    assert len(denied) == len(ENDPOINTS) * len(ORGS) * (len(ROLES) - 1)


def test_the_web_page(api: Any) -> None:
    runtime, client, auth, _ids = api
    token = auth["Authorization"].split()[1]
    page = client.get("/ui")
    assert page.status_code == 200 and 'lang="id"' in page.text and "Token akses" in page.text
    csrf = page.cookies["p3ke_audit_csrf"]  # the forms' CSRF token (web.py), also in their hidden field
    assert f'name="csrf" value="{csrf}"' in page.text
    assert client.post("/ui/login", data={"token": token}).status_code == 403  # a form without it
    assert client.post("/ui/login", data={"token": "nonsense", "csrf": csrf}).status_code == 401
    signed_in = client.post("/ui/login", data={"token": token, "csrf": csrf}, follow_redirects=False)
    assert signed_in.status_code == 303 and "httponly" in signed_in.headers["set-cookie"].lower()
    client.cookies.set("p3ke_audit_token", token, path="/ui")
    search = client.get("/ui", params={"outcome": "denied", "lang": "en"})
    assert search.status_code == 200 and 'lang="en"' in search.text
    assert "Integrity status" in search.text and "/ui/entries/" in search.text
    assert "<th scope=\"col\">" in search.text and "agreement expired" not in search.text
    assert '<th scope="col">Signing key</th>' in search.text and f"<code>{dev_kid('delivery')}</code>" in search.text
    entry = client.get("/ui/entries/4", params={"lang": "en"})
    assert "The inclusion proof verifies against the signed checkpoint of size 28" in entry.text
    trail = client.post("/ui/subject", data={"nik": nik(1), "csrf": client.cookies["p3ke_audit_csrf"]})
    assert trail.status_code == 200 and trail.text.count("/ui/entries/") == 5 and nik(1) not in trail.text
    outsider = DevIssuer(runtime.settings).mint("steward", "kemenkopmk", ["data-steward"])
    client.cookies.set("p3ke_audit_token", outsider, path="/ui")
    assert client.get("/ui").status_code == 403


def test_the_api_process_signs_due_checkpoints_while_no_batch_arrives(tmp_path: Path) -> None:
    runtime = audit_runtime(f"sqlite:///{tmp_path / 'audit.db'}", tmp_path, audit_checkpoint_every=1000,
                            audit_checkpoint_seconds=0.3)
    assert deliver(runtime, [access(i) for i in range(3)]) == []  # the first batch is signed at once
    assert deliver(runtime, [access(i) for i in range(3, 5)]) == []  # too soon for the next
    with runtime.sessions() as session:
        assert proofs.latest_checkpoint(session).tree_size == 3  # type: ignore[union-attr]
    with TestClient(create_app(runtime)):  # runs the app's lifespan, and with it the checkpointer
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with runtime.sessions() as session:
                if proofs.latest_checkpoint(session).tree_size == 5:  # type: ignore[union-attr]
                    break
            time.sleep(0.1)
        else:
            pytest.fail("no checkpoint over the tail")


def test_after_the_agreement_ends_only_moving_data_is_a_violation(database_url: str, tmp_path: Path) -> None:
    """Art. 8(3): feedback, reports and compliance queries outlive the agreement; extracts, downloads, package
    passwords and planning over the register do not (the day after the last day, in Jakarta)."""
    runtime = audit_runtime(database_url, tmp_path, agreement_dir=None)
    after = datetime(2027, 2, 28, 17, 30, tzinfo=UTC)  # 1 Mar 2027 WIB: the example addendum ended the day before
    forbidden = {
        "select": access(1, action="select", resource_type="extract", at=after),
        "download": access(2, action="download", resource_type="package", resource_id="ho-9", at=after),
        "release-key": access(3, action="release-key", resource_type="package-password", at=after),
        "planning": access(4, action="query", resource_type="dataset-version", resource_id="dv-1", at=after),
    }
    outliving = [access(5, action="match", resource_type="feedback-batch", at=after),
                 access(6, action="read", resource_type="feedback-findings", at=after),
                 access(7, action="export", resource_type="feedback-report-publication", at=after),
                 access(8, action="query", resource_type="audit-log", at=after),
                 access(9, action="select", resource_type="extract", at=after - timedelta(hours=1))]  # last day
    assert deliver(runtime, [*forbidden.values(), *outliving], batch=5) == []
    client = TestClient(create_app(runtime))
    token = DevIssuer(runtime.settings).mint("dpo-1", "kemnaker", ["compliance-auditor"])
    found = client.get("/v1/violations", params=RANGE, headers={"Authorization": f"Bearer {token}"}).json()
    assert {e["event_id"] for e in found["outside_agreement_validity"]} == {e.id for e in forbidden.values()}
