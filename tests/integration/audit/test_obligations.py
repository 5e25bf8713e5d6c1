"""The obligations desk end to end, over HTTP and a real database, with the service's clock moved: a year of the
agreement in seconds (M&E due and fulfilled by its report, a force majeure the day before Idul Fitri 2026, a
liaison officer change notified late, the 90/60/30-day expiry reminders), data balikan started by a signed BAST
and fulfilled by its feedback, and the iCalendar feed read back by an independent parser (vobject)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import vobject
from fastapi.testclient import TestClient
from sqlalchemy import text

from p3ke_audit.service_layer import obligations
from p3ke_platform.api import create_app
from p3ke_platform.auth import DevIssuer
from p3ke_platform.cli import main as p3ke
from p3ke_platform.service import Runtime
from p3ke_schemas import Actor, CloudEvent, FeedbackReceived
from tests.integration.audit.helpers import access, audit_runtime, cli_environment, deliver, handover_signed, verify

WIB_10AM = 3  # 10:00 in Jakarta is 03:00 UTC
ME_Y3 = "me-pks-p3ke-2023-y3"
ME_Y4 = "me-pks-p3ke-2023-y4"
EXPIRY = "expiry-pks-p3ke-2023-20270228"


@dataclass
class Desk:
    runtime: Runtime
    client: TestClient
    now: list[datetime]
    issuer: DevIssuer

    def at(self, day: date) -> None:
        """Move the service's clock to 10:00 Jakarta time on `day`."""
        self.now[0] = datetime(day.year, day.month, day.day, WIB_10AM, tzinfo=UTC)

    def auth(self, org: str, role: str = "compliance-auditor") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.mint(f'{org}-{role}', org, [role])}"}

    def sweep(self) -> obligations.SweepResult:
        return obligations.sweep(self.runtime.context)

    def get(self, obligation_id: str) -> dict[str, Any]:
        response = self.client.get(f"/v1/obligations/{obligation_id}", headers=self.auth("kemnaker", "operator"))
        assert response.status_code == 200, response.text
        return response.json()

    def changes(self, obligation_id: str) -> list[str]:
        return [h["change"] for h in self.get(obligation_id)["history"]]


def _desk(database_url: str, tmp_path: Path) -> Iterator[Desk]:
    runtime = audit_runtime(database_url, tmp_path, agreement_dir=None, rate_limit_per_minute=0)
    now = [datetime(2026, 2, 27, WIB_10AM, tzinfo=UTC)]
    runtime.context.clock = lambda: now[0]
    yield Desk(runtime, TestClient(create_app(runtime)), now, DevIssuer(runtime.settings))
    runtime.engine.dispose()


@pytest.fixture
def desk(database_url: str, tmp_path: Path) -> Iterator[Desk]:
    yield from _desk(database_url, tmp_path)


@pytest.fixture
def pg_desk(postgres_url: str, tmp_path: Path) -> Iterator[Desk]:
    yield from _desk(postgres_url, tmp_path)


def _me_report_entry(desk: Desk) -> str:
    """The feedback service's record of an M&E report export, as it reaches the log; its event id."""
    event = access(1, service="feedback", actor=Actor(org="kemenkopmk", subject="steward-1", roles=["data-steward"]),
                   action="export", resource_type="feedback-me-report", resource_id="all", record_count=12,
                   at=desk.now[0], niks=[])
    assert deliver(desk.runtime, [event]) == []
    return event.id


def test_a_year_of_the_agreement_on_the_obligations_desk(pg_desk: Desk, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    desk = pg_desk
    auditor1, auditor2 = desk.auth("kemenkopmk"), desk.auth("kemnaker")

    # 27 February 2026: the agreement's obligations (the example addendum extended it to 28 February 2027)
    created = desk.sweep().created
    assert created >= 6 and desk.sweep().created == 0  # idempotent
    ids = {o["id"] for o in desk.client.get("/v1/obligations", headers=auditor1).json()}
    assert {"me-pks-p3ke-2023-y1", ME_Y3, ME_Y4, EXPIRY, "expiry-pks-p3ke-2023-20250228"} <= ids
    first_term = desk.get("expiry-pks-p3ke-2023-20250228")  # the addendum of 20 January 2025 was that notice
    assert first_term["status"] == "fulfilled" and first_term["fulfilment"]["evidence"] == "addendum"
    assert first_term["fulfilment"]["on"] == "2025-01-20" and first_term["fulfilment"]["late"] is False
    year3 = desk.get(ME_Y3)
    assert (year3["status"], year3["due_date"], year3["party"], year3["article"]) == (
        "due-soon", "2026-02-28", "both", "Pasal 7")
    assert desk.get(ME_Y4)["status"] == "open"

    # M&E fulfilled by the report: named by the log's entry of its export, nothing else will do
    refused = desk.client.post(f"/v1/obligations/{ME_Y3}/fulfilment", headers=auditor1, json={
        "evidence": "me-report", "reference": "no-such-event", "date": "2026-02-27"})
    assert refused.status_code == 422 and "Tidak ada entri log audit" in refused.json()["detail"]
    wrong_kind = desk.client.post(f"/v1/obligations/{ME_Y3}/fulfilment", headers=auditor1, json={
        "evidence": "feedback-batch", "reference": "fb-1", "date": "2026-02-27"})
    assert wrong_kind.status_code == 422 and wrong_kind.json()["detail"].startswith("Kewajiban monitoring-evaluation")
    report = _me_report_entry(desk)
    done = desk.client.post(f"/v1/obligations/{ME_Y3}/fulfilment", headers=auditor1, json={
        "evidence": "me-report", "reference": report, "date": "2026-02-27"})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "fulfilled" and done.json()["fulfilment"]["reference"] == report
    again = desk.client.post(f"/v1/obligations/{ME_Y3}/fulfilment", headers=auditor1, json={
        "evidence": "me-report", "reference": report, "date": "2026-02-27"})
    assert again.status_code == 409 and "sudah dipenuhi" in again.json()["detail"]

    # Friday 20 March 2026, cuti bersama, the day before Idul Fitri: flooding stops Kemnaker's data centre
    desk.at(date(2026, 3, 20))
    fm = desk.client.post("/v1/force-majeure", headers=auditor2, json={
        "occurred_on": "2026-03-20", "summary": "Banjir di ruang server Pusdatik menghentikan layanan pertukaran data",
        "authority_statement": "Surat keterangan BPBD Provinsi DKI Jakarta"})
    assert fm.status_code == 201, fm.text
    fm_ob = fm.json()["obligation"]
    # 14 working days: 21-24 March (Idul Fitri and cuti bersama) and Good Friday 3 April do not count
    assert (fm_ob["due_date"], fm_ob["party"], fm_ob["article"]) == ("2026-04-14", "kemnaker", "Pasal 12 ayat (3)")
    assert "2026-03-23 (Senin) Cuti Bersama Hari Raya Idul Fitri" in fm_ob["due_rule"]
    desk.at(date(2026, 4, 14))
    desk.sweep()
    assert desk.get(fm_ob["id"])["status"] == "due-soon"
    sha = "ab" * 32
    notified = desk.client.post(f"/v1/obligations/{fm_ob['id']}/fulfilment", headers=auditor2, json={
        "evidence": "letter", "reference": "B.123/PUSDATIK/IV/2026", "date": "2026-04-14", "document_sha256": sha})
    assert notified.status_code == 200, notified.text
    assert notified.json()["fulfilment"] == {**notified.json()["fulfilment"], "late": False, "document_sha256": sha}

    # Monday 4 May: party 1 replaces its liaison officer and tells nobody in time (6 working days: 12 May)
    desk.at(date(2026, 5, 4))
    change = desk.client.post("/v1/liaison-officers", headers=auditor1, json={
        "position": "Asisten Deputi Pemberdayaan Ekonomi", "office": "Deputi Bidang Koordinasi Peningkatan "
        "Kesejahteraan Sosial, Kemenko PMK", "address": "Jalan Medan Merdeka Barat Nomor 3, Jakarta Pusat",
        "email": "p3ke@kemenkopmk.go.id", "phone": "(021) 3459444", "effective_from": "2026-05-04"})
    assert change.status_code == 201, change.text
    lo_ob = change.json()["obligation"]
    assert (lo_ob["due_date"], lo_ob["party"], lo_ob["status"]) == ("2026-05-12", "kemenkopmk", "due-soon")
    officers = desk.client.get("/v1/liaison-officers", headers=desk.auth("kemnaker", "operator")).json()
    current = {o["org"]: o for o in officers["current"]}
    assert current["kemenkopmk"]["position"] == "Asisten Deputi Pemberdayaan Ekonomi"
    assert current["kemenkopmk"]["source"] == "notice" and current["kemnaker"]["source"] == "terms"
    assert [o["source"] for o in officers["history"] if o["org"] == "kemenkopmk"] == ["terms", "notice"]
    desk.at(date(2026, 5, 13))
    desk.sweep()
    overdue = desk.client.get("/v1/obligations", params={"status": "overdue", "party": "kemenkopmk"},
                              headers=auditor2).json()
    assert lo_ob["id"] in {o["id"] for o in overdue}
    assert fm_ob["id"] not in {o["id"] for o in overdue}  # kemnaker's, and fulfilled
    late = desk.client.post(f"/v1/obligations/{lo_ob['id']}/fulfilment", headers=auditor1, json={
        "evidence": "letter", "reference": "B-45/KEMENKOPMK/V/2026", "date": "2026-05-13"})
    assert late.json()["status"] == "fulfilled" and late.json()["fulfilment"]["late"] is True
    assert desk.changes(lo_ob["id"]) == ["created", "status", "fulfilled"]
    assert [h["status"] for h in desk.get(lo_ob["id"])["history"]] == ["due-soon", "overdue", "fulfilled"]

    # the expiry notice window of the term ending 28 February 2027: reminders 90, 60 and 30 days before
    reminders = {r["code"]: r["on"] for r in desk.get(EXPIRY)["reminders"]}
    assert reminders == {"reminder-90d": "2026-11-30", "reminder-60d": "2026-12-30", "reminder-30d": "2027-01-29"}
    assert desk.get(EXPIRY)["due_date"] == "2027-01-29"
    seen: dict[date, list[str]] = {}
    for day in (date(2026, 11, 29), date(2026, 11, 30), date(2026, 12, 29), date(2026, 12, 30), date(2027, 1, 28),
                date(2027, 1, 29), date(2027, 1, 29)):
        desk.at(day)
        desk.sweep()
        seen[day] = [c for c in desk.changes(EXPIRY) if c.startswith("reminder")]
    assert seen[date(2026, 11, 29)] == []
    assert seen[date(2026, 11, 30)] == seen[date(2026, 12, 29)] == ["reminder-90d"]
    assert seen[date(2026, 12, 30)] == seen[date(2027, 1, 28)] == ["reminder-90d", "reminder-60d"]
    assert seen[date(2027, 1, 29)] == ["reminder-90d", "reminder-60d", "reminder-30d"]  # once, swept twice
    assert desk.get(EXPIRY)["status"] == "due-soon"

    # 1 March 2027: the fourth agreement year passed without M&E; the notice window closed unanswered
    desk.at(date(2027, 3, 1))
    desk.sweep()
    assert desk.get(ME_Y4)["status"] == desk.get(EXPIRY)["status"] == "overdue"

    # the command line lists the same (its own clock is the real one: fulfilled ones do not move)
    cli_environment(desk.runtime, monkeypatch)
    assert p3ke(["audit", "obligations", "--status", "fulfilled", "--no-sweep", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["obligations"]
    assert {ME_Y3, fm_ob["id"], lo_ob["id"], "expiry-pks-p3ke-2023-20250228"} <= {o["id"] for o in listed}
    assert p3ke(["audit", "obligations", "--kind", "liaison-change-notice", "--no-sweep"]) == 0
    out = capsys.readouterr().out
    assert "2026-05-12  fulfilled (terlambat / late)  kemenkopmk" in out and lo_ob["id"] in out


def _feedback(batch_id: str, handover_id: str, at: datetime) -> CloudEvent:
    data = FeedbackReceived(batch_id=batch_id, handover_id=handover_id, agreement_id="PKS-003", program="padat_karya",
                            rows=7, counts_by_match_class={"matched": 7},
                            submitted_by=Actor(org="kemnaker", subject="officer-1", roles=["program-officer"]),
                            received_at=at)
    return CloudEvent.of(data, source="urn:p3ke:service:feedback", time=at)


def test_a_signed_bast_starts_the_data_balikan_and_its_feedback_fulfils_it(
        desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    signed_at = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    desk.at(date(2026, 3, 2))
    assert deliver(desk.runtime, [handover_signed("ho-7", signed_at)]) == []
    ob = desk.get("balikan-ho-7")
    assert (ob["kind"], ob["party"], ob["start_date"], ob["due_date"], ob["status"]) == (
        "data-balikan", "kemnaker", "2026-03-02", "2026-05-31", "open")
    assert "BAST-ho-7" in ob["title"] and ob["article"] == "Pasal 4 ayat (2), Pasal 5 ayat (1)"

    desk.at(date(2026, 4, 20))
    assert deliver(desk.runtime, [_feedback("fb-7", "ho-7", datetime(2026, 4, 20, 2, tzinfo=UTC)),
                                  _feedback("fb-7b", "ho-7", datetime(2026, 4, 21, 2, tzinfo=UTC))]) == []
    ob = desk.get("balikan-ho-7")
    assert ob["status"] == "fulfilled" and ob["fulfilment"]["reference"] == "fb-7"  # the first batch
    assert ob["fulfilment"]["evidence"] == "feedback-batch" and ob["fulfilment"]["on"] == "2026-04-20"

    # the feedback's event may arrive before the BAST's: the obligation is dated again when it does
    assert deliver(desk.runtime, [_feedback("fb-8", "ho-8", datetime(2026, 4, 20, 2, tzinfo=UTC))]) == []
    assert desk.get("balikan-ho-8")["status"] == "fulfilled"
    assert deliver(desk.runtime, [handover_signed("ho-8", datetime(2026, 1, 5, 3, tzinfo=UTC))]) == []
    ob = desk.get("balikan-ho-8")
    assert (ob["start_date"], ob["due_date"], ob["status"]) == ("2026-01-05", "2026-04-05", "fulfilled")
    assert ob["fulfilment"]["late"] is True
    assert [h["change"] for h in ob["history"]] == ["created", "fulfilled", "due-changed"]

    # a failure to track an obligation never costs the log its entry
    def broken(*_args: Any) -> None:
        raise RuntimeError("tracking broke")

    monkeypatch.setattr(obligations, "_handover_signed", broken)
    assert deliver(desk.runtime, [handover_signed("ho-9", signed_at)]) == []
    assert desk.client.get("/v1/obligations/balikan-ho-9", headers=desk.auth("kemnaker")).status_code == 404
    with desk.runtime.engine.connect() as conn:
        logged = conn.execute(text("SELECT count(*) FROM audit_entries WHERE event_type = 'p3ke.handover-signed.v1'"
                                   " AND resource_id = 'ho-9'")).scalar_one()
    assert logged == 1
    report = verify(desk.runtime)
    assert report.ok, report


def test_the_calendar_feed_parses_with_an_independent_parser(desk: Desk) -> None:
    desk.at(date(2026, 3, 20))
    desk.sweep()
    assert desk.client.post("/v1/force-majeure", headers=desk.auth("kemnaker"), json={
        "occurred_on": "2026-03-20", "summary": "Gangguan listrik berkepanjangan di gedung Pusdatik Kemnaker",
    }).status_code == 201
    assert desk.client.post("/v1/force-majeure", headers=desk.auth("kemenkopmk"), json={
        "occurred_on": "2026-03-19", "summary": "Gempa bumi merusak ruang server Kemenko PMK di Jakarta",
    }).status_code == 201
    open_for_kemnaker = desk.client.get("/v1/obligations", headers=desk.auth("kemnaker"),
                                        params={"party": "kemnaker", "limit": 1000}).json()
    unfulfilled = {o["id"]: o for o in open_for_kemnaker if o["status"] != "fulfilled"}

    response = desk.client.get("/v1/obligations/calendar.ics", params={"party": "kemnaker"},
                               headers=desk.auth("kemnaker", "operator"))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/calendar")
    parsed = vobject.readOne(response.text)
    events = parsed.contents["vevent"]
    by_uid = {e.uid.value: e for e in events}
    assert set(by_uid) == {f"{i}@kewajiban.p3ke" for i in unfulfilled}
    for uid, event in by_uid.items():
        ob = unfulfilled[uid.split("@")[0]]
        assert event.dtstart.value == date.fromisoformat(ob["due_date"])  # all day: a date, not a datetime
        assert event.dtend.value - event.dtstart.value == timedelta(days=1)
        assert event.summary.value.startswith("Tenggat: ")
        assert event.dtstamp.value.utcoffset() == timedelta(0)  # RFC 5545: DTSTAMP in UTC
    fm = next(e for e in events if "Pasal 12 ayat (3)" in e.summary.value)
    assert fm.dtstart.value == date(2026, 4, 14) and "(kemnaker)" in fm.summary.value
    assert "Cuti Bersama Hari Raya Idul Fitri" in fm.description.value
    assert "Gempa" not in response.text and not any("(kemenkopmk)" in e.summary.value for e in events)

    # the same UIDs tomorrow (a subscribed calendar updates its events), overdue ones marked
    desk.at(date(2026, 3, 21))
    again = vobject.readOne(desk.client.get("/v1/obligations/calendar.ics", params={"party": "kemnaker"},
                                            headers=desk.auth("kemnaker")).text)
    assert {e.uid.value for e in again.contents["vevent"]} == set(by_uid)
    overdue = [e for e in again.contents["vevent"] if e.dtstart.value < date(2026, 3, 21)]
    assert overdue and all("[TERLAMBAT]" in e.summary.value for e in overdue)


def test_bad_input_is_refused_with_a_reason(desk: Desk) -> None:
    auditor = desk.auth("kemnaker")
    cases = [
        ("/v1/force-majeure", {"occurred_on": "2026-03-01", "summary": "Banjir besar 3201010101010001 di gedung"}, 422,
         "angka mirip NIK"),
        ("/v1/force-majeure", {"occurred_on": "2026-06-01", "summary": "Banjir besar di gedung Pusdatik Kemnaker"},
         422, "belum terjadi"),
        ("/v1/force-majeure", {"occurred_on": "2026-02-01", "summary": "Banjir besar di gedung Pusdatik Kemnaker",
                               "notice": {"reference": "B.1/2026", "date": "2026-01-30"}}, 422,
         "sebelum kejadiannya"),
        ("/v1/liaison-officers", {"position": "Kepala Pusat", "office": "Pusdatik", "address": "Jakarta",
                                  "email": "not-an-email", "effective_from": "2026-02-01"}, 422, "email"),
        ("/v1/obligations/no-such-obligation/fulfilment", {"evidence": "letter", "reference": "B.1",
                                                           "date": "2026-02-01"}, 404, "tidak ditemukan"),
    ]
    for path, body, status, message in cases:
        response = desk.client.post(path, json=body, headers=auditor)
        assert response.status_code == status, (path, response.text)
        assert message in json.dumps(response.json()), response.text
    assert desk.client.get("/v1/obligations", params={"kind": "unknown"}, headers=auditor).status_code == 422
    assert desk.client.get("/v1/obligations", params={"status": "late"}, headers=auditor).status_code == 422
    assert desk.client.get("/v1/obligations/calendar.ics", headers=auditor).status_code == 422  # party required
    # writes are for compliance auditors; operators read
    operator = desk.auth("kemnaker", "operator")
    assert desk.client.get("/v1/obligations", headers=operator).status_code == 200
    assert desk.client.post("/v1/force-majeure", headers=operator, json={}).status_code == 403
    assert desk.client.get("/v1/obligations", headers=desk.auth("kemnaker", "program-officer")).status_code == 403


def test_the_application_role_runs_the_desk_and_cannot_rewrite_its_history(postgres_url: str, tmp_path: Path) -> None:
    from sqlalchemy.engine import make_url

    from p3ke_audit.adapters.grants import grant_sql

    owner = audit_runtime(postgres_url, tmp_path / "owner", agreement_dir=None)
    role = f"audit_app_{make_url(postgres_url).database}"
    with owner.engine.begin() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN PASSWORD 'app-pass'"))
        conn.exec_driver_sql(grant_sql(role))  # exactly what `p3ke audit grant-sql` prints
    app_url = make_url(postgres_url).set(username=role, password="app-pass").render_as_string(hide_password=False)
    app = audit_runtime(app_url, tmp_path / "app", agreement_dir=None)
    app.context.clock = lambda: datetime(2026, 3, 20, WIB_10AM, tzinfo=UTC)
    try:
        assert obligations.sweep(app.context).created >= 6
        fm = obligations.record_force_majeure(
            app.context, org="kemnaker", occurred_on=date(2026, 3, 20), summary="Banjir di ruang server Pusdatik",
            authority_statement=None, notice=None, actor="auditor-2", actor_org="kemnaker")
        obligations.fulfil(app.context, fm, evidence_kind="letter", reference="B.1/2026", dated=date(2026, 3, 20),
                           sha256=None, actor="auditor-2")
        obligations.record_liaison_change(
            app.context, org="kemnaker", officer={"position": "Kepala Pusdatik", "office": "Pusdatik Kemnaker",
                                                  "address": "Jakarta Selatan", "email": "pusdatik@kemnaker.go.id",
                                                  "phone": None},
            effective_from=date(2026, 3, 16), notice=None, actor="auditor-2", actor_org="kemnaker")
        assert deliver(app, [handover_signed("ho-1", datetime(2026, 3, 2, 3, tzinfo=UTC))]) == []
        with app.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM audit_obligations WHERE id = 'balikan-ho-1'")).scalar() == 1
        for table in ("audit_obligation_history", "audit_liaison_officers", "audit_force_majeure"):
            for sql in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}"):
                for engine, refusal in ((app.engine, "permission denied"), (owner.engine, "append-only")):
                    with engine.connect() as conn, pytest.raises(Exception, match=refusal):
                        conn.execute(text(sql))
    finally:
        app.engine.dispose()
        owner.engine.dispose()
