"""The incident register (UU PDP Art. 46) over a real database and real HTTP through the audit app: an
incident opened automatically from a forged event the worker refused, closed with its notices inside 3×24 hours;
a notice missing after 72 hours makes it notices-overdue, and closure is refused without the notices; the legal
holds of an open incident are listed and released at closure; violations open one incident each, once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from p3ke_audit.adapters.grants import grant_sql
from p3ke_audit.adapters.orm import case_history, entries
from p3ke_audit.service_layer.incident_scan import scan_now
from p3ke_platform.audit_client import subject_ref
from p3ke_platform.cli import main as p3ke
from tests.integration.audit.desk_support import deliver_forged, open_desk
from tests.integration.audit.helpers import (
    SUBJECT_KEY,
    T0,
    access,
    audit_runtime,
    cli_environment,
    deliver,
    handover_signed,
    nik,
)


@pytest.fixture
def desk(database_url: str, tmp_path: Path) -> Iterator[SimpleNamespace]:
    yield from open_desk(database_url, tmp_path)


def _forged_incident(desk: Any, handover_id: str, offset: int) -> dict[str, Any]:
    letters = deliver_forged(desk.runtime, handover_id, offset)
    assert len(letters) == 1 and b"origin not proven (wrong-producer)" in dict(letters[0][3])["p3ke_dlq_reason"]
    with desk.runtime.engine.connect() as conn:
        refusal = conn.execute(select(entries).where(entries.c.action == "refusal",
                                                     entries.c.resource_id == handover_id)).mappings().one()
    assert "origin not proven" in json.loads(refusal["payload"])["reason"]
    opened = scan_now(desk.runtime.context)
    assert len(opened) == 1
    assert scan_now(desk.runtime.context) == []  # idempotent: the same refusal opens nothing again
    response = desk.client.get(f"/v1/incidents/{opened[0]}", headers=desk.auth())
    assert response.status_code == 200, response.text
    incident = response.json()
    assert incident["source"] == "forged-event" and incident["status"] == "open"
    assert incident["resources"] == [{"resource_type": "handover-signed", "resource_id": handover_id}]
    assert [e["leaf_index"] for e in incident["evidence"]] == [refusal["leaf_index"]]
    discovered = datetime.fromisoformat(incident["discovered_at"])
    assert datetime.fromisoformat(incident["due_at"]) - discovered == timedelta(hours=72)
    assert incident["notices_missing"] == ["subjects", "authority", "liaison"]
    return incident


def _holds(desk: Any, **params: Any) -> list[dict[str, Any]]:
    response = desk.client.get("/v1/legal-holds", params=params, headers=desk.auth())
    assert response.status_code == 200, response.text
    return response.json()


def _notice(desk: Any, incident_id: str, recipient: str, sent_at: datetime, org: str = "kemnaker") -> Any:
    return desk.client.post(f"/v1/incidents/{incident_id}/notices", headers=desk.auth(org), json={
        "recipient": recipient, "sent_at": sent_at.isoformat(), "channel": "surat",
        "reference": f"B-{recipient}/PDP/2026", "addressee": "Lembaga PDP" if recipient == "authority" else None,
        "summary": "Pemberitahuan insiden: peristiwa palsu ditolak, tidak ada data pribadi yang terungkap."})


def test_forged_event_incident_closed_with_its_notices_within_72_hours(desk: Any) -> None:
    incident = _forged_incident(desk, "ho-forged-1", 1)
    incident_id = incident["incident_id"]
    discovered = datetime.fromisoformat(incident["discovered_at"])

    # the open incident holds what it names; disposal jobs (operators, service accounts) may ask
    held = _holds(desk, resource_type="handover-signed", resource_id="ho-forged-1")
    assert [(h["incident_id"], h["released_at"]) for h in held] == [(incident_id, None)]
    as_job = desk.client.get("/v1/legal-holds", headers=desk.auth(role="service-account"))
    assert as_job.status_code == 200 and len(as_job.json()) == 1
    assert desk.client.get("/v1/legal-holds", headers=desk.auth(role="program-officer")).status_code == 403

    # closure is refused while the notices are missing, saying which and how to fix it
    desk.clock.at = discovered + timedelta(hours=2)
    refused = desk.client.post(f"/v1/incidents/{incident_id}/closure", headers=desk.auth(),
                               json={"summary": "Peristiwa palsu ditolak oleh semua konsumen."})
    assert refused.status_code == 409 and refused.headers["X-P3KE-Rule"] == "notices-missing"
    detail = refused.json()["detail"]
    assert refused.json()["code"] == "incident.notices_missing" and refused.json()["rule"] == "notices-missing"
    assert detail.startswith("Insiden belum dapat ditutup: pemberitahuan kepada subjek data, Lembaga Pelindungan Data "
                             "Pribadi")
    assert "POST /v1/incidents/{id}/notices" in detail and " / " not in detail

    for i, recipient in enumerate(("subjects", "authority", "liaison")):
        desk.clock.at = discovered + timedelta(hours=10 + i)
        response = _notice(desk, incident_id, recipient, desk.clock.at - timedelta(minutes=30),
                           org="kemenkopmk" if recipient == "liaison" else "kemnaker")
        assert response.status_code == 201, response.text
    assert response.json()["notices_missing"] == [] and response.json()["notices_late"] == []
    future = _notice(desk, incident_id, "subjects", desk.clock.at + timedelta(days=1))
    assert future.status_code == 422 and "masa depan" in future.json()["detail"]

    desk.clock.at = discovered + timedelta(hours=71)
    closed = desk.client.post(f"/v1/incidents/{incident_id}/closure", headers=desk.auth(), json={
        "summary": "Peristiwa palsu ditolak oleh semua konsumen; pemberitahuan terkirim dalam 3x24 jam."})
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert body["status"] == "closed"
    assert datetime.fromisoformat(body["closed_at"]) == discovered + timedelta(hours=71)
    assert body["active_holds"] == 0 and body["notices_late"] == []
    changes = [h["change"] for h in body["history"]]
    assert changes == ["opened", "notice", "notice", "notice", "closed"]
    assert body["history"][-1]["detail"] == {"breach_confirmed": True, "holds_released": 1, "within_deadline": True}

    # the hold is released at closure: listed among all holds, no longer among the active ones
    assert _holds(desk, resource_id="ho-forged-1") == []
    [released] = _holds(desk, resource_id="ho-forged-1", active="false")
    assert released["released_at"] is not None
    # a closed incident takes no more notices; the history table refuses to be rewritten
    assert _notice(desk, incident_id, "subjects", desk.clock.at).status_code == 409
    with pytest.raises(Exception, match="append-only"), desk.runtime.engine.begin() as conn:
        conn.execute(case_history.delete())


def test_a_notice_missing_after_72_hours_makes_it_overdue(desk: Any) -> None:
    incident = _forged_incident(desk, "ho-forged-2", 2)
    incident_id = incident["incident_id"]
    discovered = datetime.fromisoformat(incident["discovered_at"])
    desk.clock.at = discovered + timedelta(hours=5)
    assert _notice(desk, incident_id, "liaison", desk.clock.at).status_code == 201

    desk.clock.at = discovered + timedelta(hours=73)  # 3×24 calendar hours have passed
    listed = desk.client.get("/v1/incidents", params={"status": "notices-overdue"}, headers=desk.auth()).json()
    assert [(i["incident_id"], i["notices_missing"]) for i in listed] == [(incident_id, ["subjects", "authority"])]
    assert listed[0]["hours_left"] == pytest.approx(-1, abs=0.01)
    refused = desk.client.post(f"/v1/incidents/{incident_id}/closure", headers=desk.auth(),
                               json={"summary": "Ditutup tanpa pemberitahuan lengkap."})
    assert refused.status_code == 409 and "belum dicatat" in refused.json()["detail"]

    # the late notices complete it: open again, with the lateness kept; then it may be closed
    for recipient in ("subjects", "authority"):
        assert _notice(desk, incident_id, recipient, desk.clock.at).status_code == 201
    body = desk.client.get(f"/v1/incidents/{incident_id}", headers=desk.auth()).json()
    assert body["status"] == "open" and body["notices_late"] == ["subjects", "authority"]
    assert [h["change"] for h in body["history"]] == ["opened", "notice", "notices-overdue", "notice", "notice",
                                                      "notices-complete"]
    closed = desk.client.post(f"/v1/incidents/{incident_id}/closure", headers=desk.auth(),
                              json={"summary": "Pemberitahuan terlambat telah dikirim; insiden ditutup."})
    assert closed.status_code == 200 and closed.json()["history"][-1]["detail"]["within_deadline"] is False


def test_violations_open_one_incident_each_and_manual_incidents_hold_their_subjects(desk: Any) -> None:
    events = [handover_signed("ho-1", T0),
              access(1, action="download", resource_type="handover", resource_id="ho-1", at=T0 + timedelta(hours=1)),
              access(2, action="download", resource_type="handover", resource_id="ho-2", niks=[nik(5)]),
              access(3, outcome="denied", reason="agreement expired")]
    assert deliver(desk.runtime, events) == []
    opened = scan_now(desk.runtime.context)
    assert scan_now(desk.runtime.context) == []
    listed = desk.client.get("/v1/incidents", headers=desk.auth()).json()
    assert len(opened) == 1 and [i["source"] for i in listed] == ["violation"]  # a refusal opens none by default
    [violation] = listed
    assert violation["source_key"].startswith("violation:download_without_signed_bast:")
    assert violation["subject_refs"] == [subject_ref(SUBJECT_KEY, nik(5))]
    assert {(h["resource_type"], h["resource_id"], h["subject_ref"]) for h in _holds(desk)} == {
        ("handover", "ho-2", None), (None, None, subject_ref(SUBJECT_KEY, nik(5)))}

    # by hand, naming subjects by NIK in the body: only their keyed references are kept
    response = desk.client.post("/v1/incidents", headers=desk.auth("kemenkopmk", "dpo-1"), json={
        "title": "Berkas ekstrak terkirim ke alamat surel yang salah", "data_kinds": ["nik", "nama"],
        "subject_count": 2, "niks": [nik(7), nik(8)], "resources": [{"resource_type": "extract",
                                                                    "resource_id": "ext-3"}],
        "discovered_at": (desk.clock.at - timedelta(hours=1)).isoformat()})
    assert response.status_code == 201, response.text
    manual = response.json()
    assert manual["source"] == "manual" and manual["opened_by_org"] == "kemenkopmk"
    assert sorted(manual["subject_refs"]) == sorted(subject_ref(SUBJECT_KEY, n) for n in (nik(7), nik(8)))
    assert nik(7) not in response.text
    assert len(_holds(desk, subject_ref=subject_ref(SUBJECT_KEY, nik(8)))) == 1
    bad = desk.client.post("/v1/incidents", headers=desk.auth(), json={
        "title": "NIK dalam judul", "description": f"bocor: {nik(9)}"})
    assert bad.status_code == 422 and nik(9) not in bad.text
    learnt = desk.client.post(f"/v1/incidents/{manual['incident_id']}/facts", headers=desk.auth(),
                              json={"data_kinds": ["alamat"], "niks": [nik(9)]})
    assert learnt.status_code == 200 and learnt.json()["data_kinds"] == ["alamat", "nama", "nik"]
    assert desk.client.get("/v1/incidents/inc-missing", headers=desk.auth()).status_code == 404
    with desk.runtime.engine.connect() as conn:
        stored = " ".join(str(r) for t in ("audit_incidents", "audit_legal_holds", "audit_case_history")
                          for r in conn.execute(text(f"SELECT * FROM {t}")))
    assert not any(nik(i) in stored for i in (5, 7, 8, 9))


@pytest.mark.postgres
def test_the_application_role_keeps_the_register_with_the_grants_it_is_given(postgres_url: str,
                                                                              tmp_path: Path) -> None:
    """As the role `p3ke audit grant-sql` provisions (PostgreSQL only): it opens, notifies and closes an incident,
    but cannot rewrite the history or the notices."""
    owner = audit_runtime(postgres_url, tmp_path / "owner")
    role = f"desk_app_{make_url(postgres_url).database}"
    with owner.engine.begin() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN PASSWORD 'app-pass'"))
        conn.exec_driver_sql(grant_sql(role))
    owner.engine.dispose()
    app_url = make_url(postgres_url).set(username=role, password="app-pass").render_as_string(hide_password=False)
    opened = open_desk(app_url, tmp_path / "app")
    desk = next(opened)
    try:
        incident = _forged_incident(desk, "ho-app-role", 1)
        for recipient in ("subjects", "authority", "liaison"):
            assert _notice(desk, incident["incident_id"], recipient, desk.clock.at).status_code == 201
        closed = desk.client.post(f"/v1/incidents/{incident['incident_id']}/closure", headers=desk.auth(),
                                  json={"summary": "Ditutup oleh peran aplikasi dengan pemberitahuan lengkap."})
        assert closed.status_code == 200, closed.text
        for table in ("audit_case_history", "audit_incident_notices", "audit_incident_evidence"):
            with pytest.raises(DBAPIError, match="permission denied"), desk.runtime.engine.begin() as conn:
                conn.execute(text(f"DELETE FROM {table}"))
    finally:
        opened.close()


def test_the_command_line_scans_as_the_job_does(desk: Any, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    deliver_forged(desk.runtime, "ho-forged-cli", 1)
    cli_environment(desk.runtime, monkeypatch)
    monkeypatch.setenv("P3KE_SUBJECT_HASH_KEY", SUBJECT_KEY)
    monkeypatch.setenv("P3KE_AGREEMENT_INCLUDE_EXAMPLES", "true")
    assert p3ke(["audit", "incidents-scan"]) == 0
    out = capsys.readouterr().out
    assert "insiden dibuka / incidents opened: 1" in out
    [listed] = desk.client.get("/v1/incidents", headers=desk.auth()).json()
    assert listed["incident_id"] in out and listed["source_key"] == "forged-event:handover-signed:ho-forged-cli"
    assert p3ke(["audit", "incidents-scan"]) == 0
    assert "incidents opened: 0" in capsys.readouterr().out
