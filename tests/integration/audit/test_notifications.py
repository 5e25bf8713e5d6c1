"""Telling people: an overdue obligation and an opened incident reach a real SMTP server (aiosmtpd, on a free port)
as Indonesian-then-English emails to the responsible party's addresses, without any NIK, and go on Kafka's outbox
as events that validate against the committed JSON Schema; a second run (or a restarted service) sends nothing
twice, and an SMTP server that is down leaves the email failed, sent by the next run."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jsonschema
import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import select

from p3ke_audit.adapters.orm import notifications as table
from p3ke_audit.service_layer import notifications, obligations
from p3ke_platform.api import create_app
from p3ke_platform.auth import DevIssuer
from p3ke_schemas.generate import CONTRACT_DIR
from tests.integration.audit.helpers import audit_runtime
from tests.integration.helpers.smtp import Inbox, free_port

KEMNAKER = "kepatuhan@kemnaker.go.id"
KEMENKOPMK = "dpo@kemenkopmk.go.id"
NIK_LIKE = re.compile(r"\d{16}")
NIKS = ["3201234567890001", "3201234567890002"]


def _desk(database_url: str, tmp_path: Path, port: int) -> SimpleNamespace:
    runtime = audit_runtime(database_url, tmp_path, agreement_dir=None, rate_limit_per_minute=0, smtp_host="127.0.0.1",
                            smtp_port=port,
                            smtp_from="p3ke-audit@kemenkopmk.go.id", notify_kemnaker=KEMNAKER,
                            notify_kemenkopmk=f"{KEMENKOPMK}, ")
    now = [datetime(2026, 2, 27, 3, tzinfo=UTC)]
    runtime.context.clock = lambda: now[0]
    issuer = DevIssuer(runtime.settings)

    def auth(org: str = "kemnaker", role: str = "compliance-auditor") -> dict[str, str]:
        return {"Authorization": f"Bearer {issuer.mint(f'{org}-{role}', org, [role])}"}

    return SimpleNamespace(runtime=runtime, client=TestClient(create_app(runtime)), now=now, auth=auth)


@pytest.fixture
def desk(database_url: str, tmp_path: Path, smtp: SimpleNamespace) -> Iterator[SimpleNamespace]:
    d = _desk(database_url, tmp_path, smtp.port)
    yield d
    d.runtime.engine.dispose()


def _events(desk: SimpleNamespace, event_type: str) -> list[dict[str, Any]]:
    outbox = desk.runtime.spec.tables.outbox
    with desk.runtime.engine.connect() as conn:
        rows = conn.execute(select(outbox.c.value).where(outbox.c.event_type == event_type)
                            .order_by(outbox.c.seq)).scalars().all()
    return [json.loads(v) for v in rows]


def _validates(data: dict[str, Any], event_type: str) -> None:
    schema = json.loads((CONTRACT_DIR / "jsonschema" / f"{event_type}.json").read_text())
    jsonschema.validate(data, schema)


def _text(mail: EmailMessage) -> str:
    return f"{mail['Subject']}\n{mail.get_content()}"


def _rows(desk: SimpleNamespace) -> list[dict[str, Any]]:
    with desk.runtime.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(table).order_by(table.c.id)).mappings()]


def test_an_overdue_liaison_change_is_emailed_and_published_once(desk: SimpleNamespace, smtp: SimpleNamespace,
                                                                 database_url: str, tmp_path: Path) -> None:
    change = desk.client.post("/v1/liaison-officers", headers=desk.auth(), json={
        "position": "Kepala Pusat Data dan Informasi", "office": "Pusdatik Kemnaker", "address": "Jakarta Selatan",
        "email": "pusdatik@kemnaker.go.id", "effective_from": "2026-02-25"})
    assert change.status_code == 201, change.text
    ob = change.json()["obligation"]
    obligations.sweep(desk.runtime.context)  # created due soon: no change of status to announce yet
    smtp.inbox.mails.clear()

    desk.now[0] = datetime.combine(date.fromisoformat(ob["due_date"]) + timedelta(days=1), datetime.min.time(),
                                   tzinfo=UTC) + timedelta(hours=3)
    result = obligations.sweep(desk.runtime.context)
    assert result.status_changes >= 1
    overdue = [(rcpt, m) for rcpt, m in smtp.inbox.mails if ob["id"] in _text(m)]
    assert len(overdue) == 1, [m["Subject"] for _, m in smtp.inbox.mails]
    rcpt, mail = overdue[0]
    assert rcpt == [KEMNAKER]  # the responsible party's staff only
    assert mail["Subject"].startswith("[P3KE] Kewajiban lewat tenggat: liaison-change-notice (Pasal 13")
    assert mail["Subject"].endswith("/ Obligation overdue") and mail["From"] == "p3ke-audit@kemenkopmk.go.id"
    body = _text(mail)
    assert body.index("lewat tenggat") < body.index("-- English --") < body.index("passed its deadline")
    assert f"POST /v1/obligations/{ob['id']}/fulfilment" in body and not NIK_LIKE.search(body)

    events = [e for e in _events(desk, "p3ke.obligation-status-changed.v1") if e["obligation_id"] == ob["id"]]
    assert [e["status"] for e in events][-1] == "overdue"
    for event in events:
        _validates(event, "p3ke.obligation-status-changed.v1")
    assert events[-1]["responsible_org"] == "kemnaker" and events[-1]["due_date"] == ob["due_date"]

    # again, and after a restart (a new runtime over the same database): nothing is sent or published twice
    sent, published = len(smtp.inbox.mails), len(_events(desk, "p3ke.obligation-status-changed.v1"))
    obligations.sweep(desk.runtime.context)
    restarted = _desk(database_url, tmp_path, smtp.port)
    restarted.now[0] = desk.now[0]
    obligations.sweep(restarted.runtime.context)
    restarted.runtime.engine.dispose()
    assert len(smtp.inbox.mails) == sent
    assert len(_events(desk, "p3ke.obligation-status-changed.v1")) == published
    row = next(r for r in _rows(desk) if r["key"] == f"obligation:{ob['id']}:overdue")
    assert (row["mail_status"], row["mail_attempts"], row["event_emitted_at"] is not None) == ("sent", 1, True)


def test_an_opened_incident_reaches_both_parties_without_the_niks(desk: SimpleNamespace,
                                                                   smtp: SimpleNamespace) -> None:
    response = desk.client.post("/v1/incidents", headers=desk.auth("kemenkopmk"), json={
        "title": "Berkas ekstrak terkirim ke alamat surel yang salah", "data_kinds": ["nik", "alamat"],
        "subject_count": 2, "niks": NIKS, "resources": [{"resource_type": "extract", "resource_id": "ext-3"}],
        "discovered_at": (desk.now[0] - timedelta(hours=1)).isoformat()})
    assert response.status_code == 201, response.text
    incident = response.json()
    assert len(smtp.inbox.mails) == 1  # sent as the incident was opened, not at the next sweep
    rcpt, mail = smtp.inbox.mails[0]
    assert sorted(rcpt) == sorted([KEMNAKER, KEMENKOPMK])
    assert mail["Subject"] == (f"[P3KE] Insiden data pribadi dibuka: {incident['incident_id']}, pemberitahuan paling "
                               f"lambat 2026-03-02 09:00 WIB / Personal-data incident opened, notices due by "
                               f"2026-03-02 09:00 WIB")
    body = _text(mail)
    assert "3 x 24 jam" in body and "Jumlah subjek    : 2" in body and "alamat, nik" in body
    assert body.index("Lembaga Pelindungan Data Pribadi") < body.index("-- English --")
    assert not NIK_LIKE.search(body) and all(n not in body for n in NIKS)
    assert "Berkas ekstrak" not in body  # titles are free text: not emailed

    [event] = _events(desk, "p3ke.incident-opened.v1")
    _validates(event, "p3ke.incident-opened.v1")
    assert (event["incident_id"], event["subject_count"], event["resource_count"]) == (incident["incident_id"], 2, 1)
    assert not NIK_LIKE.search(json.dumps(event))
    obligations.sweep(desk.runtime.context)
    assert len(smtp.inbox.mails) == 1 and len(_events(desk, "p3ke.incident-opened.v1")) == 1


def test_an_smtp_server_down_leaves_the_email_failed_until_the_next_run(database_url: str, tmp_path: Path) -> None:
    port = free_port()  # nothing listens there yet
    desk = _desk(database_url, tmp_path, port)
    inbox, controller = Inbox(), None
    try:
        response = desk.client.post("/v1/incidents", headers=desk.auth(), json={
            "title": "Akses tidak sah ke paket", "discovered_at": desk.now[0].isoformat()})
        assert response.status_code == 201, response.text
        [row] = _rows(desk)
        assert (row["mail_status"], row["mail_attempts"]) == ("failed", 1)
        assert "SMTP 127.0.0.1" in row["mail_error"] and row["event_emitted_at"] is not None
        controller = Controller(inbox, hostname="127.0.0.1", port=port)
        controller.start()
        result = notifications.dispatch(desk.runtime.context)
        assert (result.events, result.sent, result.failed) == (0, 1, 0)
        [row] = _rows(desk)
        assert (row["mail_status"], row["mail_attempts"], row["mail_error"]) == ("sent", 2, None)
        assert len(inbox.mails) == 1
    finally:
        if controller is not None:
            controller.stop()
        desk.runtime.engine.dispose()


def test_without_an_smtp_host_the_events_still_go_out(database_url: str, tmp_path: Path) -> None:
    runtime = audit_runtime(database_url, tmp_path, agreement_dir=None, rate_limit_per_minute=0)
    try:
        client = TestClient(create_app(runtime))
        token = DevIssuer(runtime.settings).mint("dpo", "kemnaker", ["compliance-auditor"])
        response = client.post("/v1/incidents", headers={"Authorization": f"Bearer {token}"},
                               json={"title": "Akses tidak sah ke paket"})
        assert response.status_code == 201, response.text
        with runtime.engine.connect() as conn:
            [row] = conn.execute(select(table)).mappings().all()
        assert row["mail_status"] == "skipped" and "P3KE_SMTP_HOST" in row["mail_error"]
        assert row["event_emitted_at"] is not None
    finally:
        runtime.engine.dispose()
