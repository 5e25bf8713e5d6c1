"""Issue #19's "done when": one year of the agreement on the obligations desk, on the real PostgreSQL, a real SMTP
server (aiosmtpd) and the real Kafka broker, with the service's clock injected and the `audit-obligations` job's
sweep run every day at 10:00 Jakarta time from 27 February 2026 to 1 March 2027. Compliance staff act through the
HTTP API (the audit app), as they would:

- M&E (Art. 7) of agreement year 3 due, emailed, and fulfilled by the log's entry of the issued M&E report; year 4's
  the same a year later;
- a force majeure on Thursday 19 March 2026, the day before the Idul Fitri cuti bersama (Art. 12(3)): its notice due
  on Tuesday 14 April 2026, the 14th working day after 20-24 March and Good Friday (the calendar's unit test has the
  same date), fulfilled on time; the iCalendar feed read back with vobject shows it on that day;
- a liaison officer change (Art. 13(2)) notified after its 6 working days: overdue, emailed naming it, and flagged
  late when its letter is recorded;
- the 90/60/30-day reminders before the end of the term (Art. 8(2)), each emailed once, on its day;
- an incident (UU PDP Art. 46) opened by the incident scan from a forged event the worker refused, emailed to both
  parties, its three notices recorded and the incident closed inside 3×24 hours;
- a data subject's access request (UU PDP Art. 32) answered with the person's record, as a REAL ingest API (its own
  process, holding a published synthetic snapshot) holds it, and their trail from the log;
- then the relay publishes the outbox to Kafka, and every `obligation-status-changed` and `incident-opened` event
  read back from the broker validates against the committed JSON Schema.

With P3KE_SCREENSHOT_DIR set, the compliance page's desk panels are photographed in Chromium at three moments of the
year (optional: the test never depends on it).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import jsonschema
import pytest
import vobject
from fastapi.testclient import TestClient
from kafka import KafkaConsumer
from sqlalchemy import select

from p3ke_audit.adapters.orm import notifications
from p3ke_audit.service_layer import obligations
from p3ke_audit.service_layer.incident_scan import scan_now
from p3ke_ingest.bootstrap import SERVICE as INGEST
from p3ke_ingest.config import IngestSettings
from p3ke_platform.api import create_app
from p3ke_platform.auth import DevIssuer
from p3ke_platform.migrations import upgrade
from p3ke_platform.service import Runtime
from p3ke_platform.settings import load_settings
from p3ke_schemas import Actor, CloudEvent, FeedbackReceived
from p3ke_schemas.generate import CONTRACT_DIR
from tests.integration.audit.desk_support import Clock, deliver_forged, relay_own_records
from tests.integration.audit.helpers import SUBJECT_KEY, access, audit_runtime, deliver, handover_signed, nik
from tests.integration.helpers.processes import ApiProcess
from tests.integration.ingest.subject_support import make_snapshots, publish

pytestmark = [pytest.mark.postgres, pytest.mark.kafka]

KEMNAKER = "kepatuhan@kemnaker.go.id"
KEMENKOPMK = "dpo@kemenkopmk.go.id"
WIB_10AM = 3  # 10:00 in Jakarta is 03:00 UTC
ME_Y3, ME_Y4 = "me-pks-p3ke-2023-y3", "me-pks-p3ke-2023-y4"
EXPIRY = "expiry-pks-p3ke-2023-20270228"
ANNOUNCED = ("p3ke.obligation-status-changed.v1", "p3ke.incident-opened.v1")


@dataclass
class Year:
    """The audit desk with its clock, the mail that reached the SMTP server day by day, and the sweeps."""

    runtime: Runtime
    client: TestClient
    clock: Clock
    issuer: DevIssuer
    smtp: Any
    shots: Shots
    snapshot_version: str
    person: dict[str, str]
    day: date = date(2026, 2, 26)
    mails: list[tuple[date, list[str], EmailMessage]] = field(default_factory=list)

    def auth(self, org: str, role: str = "compliance-auditor") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.mint(f'{org}-{role}', org, [role])}"}

    def _collect(self) -> None:
        inbox = self.smtp.inbox.mails
        self.mails += [(self.day, rcpt, mail) for rcpt, mail in inbox]
        inbox.clear()

    def at(self, day: date, hour_utc: int = WIB_10AM, minute: int = 0) -> None:
        self._collect()
        self.day = day
        self.clock.at = datetime(day.year, day.month, day.day, hour_utc, minute, tzinfo=UTC)

    def run_until(self, last: date) -> None:
        """The daily job: a sweep at 10:00 WIB on each day after the current one, up to `last` included."""
        day = self.day
        while day < last:
            day += timedelta(days=1)
            self.at(day)
            obligations.sweep(self.runtime.context)
        self._collect()

    def get(self, obligation_id: str) -> dict[str, Any]:
        response = self.client.get(f"/v1/obligations/{obligation_id}", headers=self.auth("kemnaker", "operator"))
        assert response.status_code == 200, response.text
        return response.json()

    def mails_naming(self, *needles: str) -> list[tuple[date, list[str], EmailMessage]]:
        self._collect()
        return [m for m in self.mails if all(n in _text(m[2]) for n in needles)]


def _text(mail: EmailMessage) -> str:
    return f"{mail['Subject']}\n{mail.get_content()}"


class Shots:
    """Screenshots of the compliance page's desk panels (only with P3KE_SCREENSHOT_DIR set): the audit app under
    uvicorn on the same runtime (and clock), Chromium through Playwright as tests/e2e/test_audit_web.py drives it.
    Playwright runs only while a shot is taken: its event loop would stop the worker's own (asyncio.run) meanwhile."""

    def __init__(self, runtime: Runtime, token: str) -> None:
        self.dir = Path(os.environ["P3KE_SCREENSHOT_DIR"]) if os.environ.get("P3KE_SCREENSHOT_DIR") else None
        self.runtime, self.token = runtime, token
        self.server: Any = None
        self.saved: list[Path] = []

    def __enter__(self) -> Shots:
        if self.dir is not None:
            from tests.e2e import test_audit_web as web_e2e

            self.dir.mkdir(parents=True, exist_ok=True)
            self.server = web_e2e.Server(self.runtime).__enter__()
        return self

    def __exit__(self, *_: object) -> None:
        if self.server is not None:
            self.server.__exit__()

    def take(self, name: str) -> None:
        if self.dir is None:
            return
        import playwright.sync_api as playwright_sync

        from tests.e2e import test_audit_web as web_e2e

        with playwright_sync.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=web_e2e.CHROMIUM, headless=True, args=web_e2e.CHROMIUM_ARGS)
            try:
                context = browser.new_context(base_url=self.server.url, java_script_enabled=False, locale="id-ID",
                                              viewport={"width": 1400, "height": 1000})
                page = context.new_page()
                web_e2e.sign_in(page, self.token)
                for section in ("desk-obligations", "desk-incidents", "desk-requests"):
                    path = self.dir / f"{name}-{section}.png"
                    page.locator(f"section[aria-labelledby='{section}']").screenshot(path=str(path))
                    self.saved.append(path)
                whole = self.dir / f"{name}-page.png"
                page.screenshot(path=str(whole), full_page=True)
                self.saved.append(whole)
            finally:
                browser.close()


@pytest.fixture
def year(postgres_url: str, tmp_path: Path, smtp: SimpleNamespace, kafka_bootstrap: str) -> Iterator[Year]:
    """The audit desk, with a REAL ingest API (its own process, sharing the data directory's development token
    issuer and the subject key) holding a published synthetic snapshot: the person's record is asked of it."""
    snapshots = make_snapshots(tmp_path / "synth", families=40)
    upgrade(INGEST, load_settings(IngestSettings, service="ingest", data_dir=tmp_path, env="test",
                                  subject_hash_key=SUBJECT_KEY))
    ingest = ApiProcess("p3ke_ingest", "ingest", tmp_path / "ingest-api.log", {
        "P3KE_DATA_DIR": str(tmp_path), "P3KE_SUBJECT_HASH_KEY": SUBJECT_KEY, "P3KE_INGEST_ENGINE_MEMORY_MB": "256"})
    with ingest:
        runtime = audit_runtime(postgres_url, tmp_path, agreement_dir=None, rate_limit_per_minute=0,
                                kafka_bootstrap=kafka_bootstrap,
                                smtp_host="127.0.0.1", smtp_port=smtp.port,
                                smtp_from="p3ke-audit@kemenkopmk.go.id", notify_kemnaker=KEMNAKER,
                                notify_kemenkopmk=KEMENKOPMK, audit_subject_sources=f"ingest={ingest.url}",
                                audit_subject_source_timeout_s=20)
        issuer = DevIssuer(runtime.settings)
        steward = {"Authorization": f"Bearer {issuer.mint('steward-1', 'kemenkopmk', ['data-steward'])}"}
        with httpx.Client(base_url=ingest.url, timeout=60) as http:
            version = publish(http, steward, snapshots.first)
        yield from _desk_year(runtime, issuer, smtp, version, snapshots.member)


def _desk_year(runtime: Runtime, issuer: DevIssuer, smtp: SimpleNamespace, version: str,
               person: dict[str, str]) -> Iterator[Year]:
    clock = Clock(datetime(2026, 2, 26, WIB_10AM, tzinfo=UTC))
    runtime.context.clock = clock
    try:
        with Shots(runtime, issuer.mint("dpo-1", "kemnaker", ["compliance-auditor"])) as shots:
            yield Year(runtime, TestClient(create_app(runtime)), clock, issuer, smtp, shots, version, person)
    finally:
        runtime.engine.dispose()


def _me_report(year: Year) -> str:
    """The feedback service's record of an M&E report export, as it reaches the log: its event id."""
    event = access(1, service="feedback", actor=Actor(org="kemenkopmk", subject="steward-1", roles=["data-steward"]),
                   action="export", resource_type="feedback-me-report", resource_id="all", record_count=12,
                   at=year.clock.at, niks=[])
    assert deliver(year.runtime, [event]) == []
    return event.id


def _fulfil(year: Year, obligation_id: str, org: str, **evidence: Any) -> dict[str, Any]:
    response = year.client.post(f"/v1/obligations/{obligation_id}/fulfilment", headers=year.auth(org),
                                json={"date": year.day.isoformat(), **evidence})
    assert response.status_code == 200, response.text
    return response.json()


def _me_due_and_fulfilled_by_the_report(year: Year, obligation_id: str, due: date, *, emailed: bool) -> None:
    """Due soon (emailed to both parties on the day it became so, unless the desk found it already due soon when it
    created it: it announces changes of status), then fulfilled by the log's entry of the issued M&E report."""
    became_due_soon = due - timedelta(days=year.runtime.settings.obligation_due_soon_days)
    ob = year.get(obligation_id)
    assert (ob["status"], ob["due_date"], ob["party"], ob["article"]) == ("due-soon", due.isoformat(), "both",
                                                                           "Pasal 7")
    mails = year.mails_naming(f"Kewajiban : {obligation_id}", "segera jatuh tempo")
    if not emailed:
        assert mails == []
    else:
        [(day, rcpt, mail)] = mails
        assert day == became_due_soon and sorted(rcpt) == sorted([KEMNAKER, KEMENKOPMK])
        assert mail["Subject"] == ("[P3KE] Kewajiban segera jatuh tempo: monitoring-evaluation (Pasal 7) / "
                                   "Obligation due soon")
    report = _me_report(year)
    done = _fulfil(year, obligation_id, "kemenkopmk", evidence="me-report", reference=report)
    assert done["status"] == "fulfilled" and done["fulfilment"]["evidence"] == "me-report"
    assert done["fulfilment"]["reference"] == report and done["fulfilment"]["late"] is False


def _force_majeure_the_day_before_the_cuti_bersama(year: Year) -> dict[str, Any]:
    year.run_until(date(2026, 3, 19))
    response = year.client.post("/v1/force-majeure", headers=year.auth("kemnaker"), json={
        "occurred_on": "2026-03-19", "summary": "Banjir di ruang server Pusdatik menghentikan layanan pertukaran data",
        "authority_statement": "Surat keterangan BPBD Provinsi DKI Jakarta"})
    assert response.status_code == 201, response.text
    fm = response.json()["obligation"]
    # 14 working days (tests/unit/test_workdays.py): 20, 23, 24 March (cuti bersama), 21-22 March (Idul Fitri,
    # a weekend) and Good Friday 3 April do not count
    assert (fm["due_date"], fm["party"], fm["article"]) == ("2026-04-14", "kemnaker", "Pasal 12 ayat (3)")
    for off in ("2026-03-20 (Jumat) Cuti Bersama Hari Raya Idul Fitri",
                "2026-03-23 (Senin) Cuti Bersama Hari Raya Idul Fitri", "2026-04-03 (Jumat)"):
        assert off in fm["due_rule"], off
    return fm


def _calendar_feed(year: Year, fm: dict[str, Any]) -> None:
    """The feed a party's calendar subscribes to, read with an independent parser (vobject)."""
    listed = year.client.get("/v1/obligations", headers=year.auth("kemnaker"),
                             params={"party": "kemnaker", "limit": 1000}).json()
    unfulfilled = {o["id"]: o for o in listed if o["status"] != "fulfilled"}
    response = year.client.get("/v1/obligations/calendar.ics", params={"party": "kemnaker"},
                               headers=year.auth("kemnaker", "operator"))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/calendar")
    events = vobject.readOne(response.text).contents["vevent"]
    by_uid = {e.uid.value: e for e in events}
    assert set(by_uid) == {f"{i}@kewajiban.p3ke" for i in unfulfilled}
    for uid, event in by_uid.items():
        assert event.dtstart.value == date.fromisoformat(unfulfilled[uid.split("@")[0]]["due_date"])
    assert by_uid[f"{fm['id']}@kewajiban.p3ke"].dtstart.value == date(2026, 4, 14)
    assert by_uid[f"{EXPIRY}@kewajiban.p3ke"].dtstart.value == date(2027, 1, 29)
    assert by_uid[f"{ME_Y4}@kewajiban.p3ke"].dtstart.value == date(2027, 2, 28)
    assert "Cuti Bersama Hari Raya Idul Fitri" in by_uid[f"{fm['id']}@kewajiban.p3ke"].description.value


def _force_majeure_notified_on_its_last_day(year: Year, fm: dict[str, Any]) -> None:
    year.run_until(date(2026, 4, 14))
    assert year.get(fm["id"])["status"] == "due-soon"
    [(day, rcpt, _mail)] = year.mails_naming(f"Kewajiban : {fm['id']}", "segera jatuh tempo")
    assert (day, rcpt) == (date(2026, 3, 31), [KEMNAKER])  # 14 calendar days before: party 2's staff only
    done = _fulfil(year, fm["id"], "kemnaker", evidence="letter", reference="B.123/PUSDATIK/IV/2026",
                   document_sha256="ab" * 32)
    assert done["status"] == "fulfilled" and done["fulfilment"]["late"] is False
    year.run_until(date(2026, 4, 16))
    assert year.mails_naming(fm["id"], "lewat tenggat") == []


def _liaison_change_notified_late(year: Year) -> str:
    year.run_until(date(2026, 5, 4))  # Monday: party 1 replaces its liaison officer and tells nobody in time
    response = year.client.post("/v1/liaison-officers", headers=year.auth("kemenkopmk"), json={
        "position": "Asisten Deputi Pemberdayaan Ekonomi", "office": "Deputi Bidang Koordinasi Peningkatan "
        "Kesejahteraan Sosial, Kemenko PMK", "address": "Jalan Medan Merdeka Barat Nomor 3, Jakarta Pusat",
        "email": "p3ke@kemenkopmk.go.id", "phone": "(021) 3459444", "effective_from": "2026-05-04"})
    assert response.status_code == 201, response.text
    lo = response.json()["obligation"]
    assert (lo["due_date"], lo["party"], lo["article"]) == ("2026-05-12", "kemenkopmk", "Pasal 13 ayat (2)")
    year.run_until(date(2026, 5, 12))
    assert year.get(lo["id"])["status"] == "due-soon" and year.mails_naming(lo["id"], "lewat tenggat") == []
    year.run_until(date(2026, 5, 13))  # the 7th working day: overdue, and party 1's staff are told
    overdue = year.client.get("/v1/obligations", params={"status": "overdue", "party": "kemenkopmk"},
                              headers=year.auth("kemnaker")).json()
    assert lo["id"] in {o["id"] for o in overdue}
    [(day, rcpt, mail)] = year.mails_naming(f"Kewajiban : {lo['id']}", "lewat tenggat")
    assert (day, rcpt) == (date(2026, 5, 13), [KEMENKOPMK])
    assert mail["Subject"] == ("[P3KE] Kewajiban lewat tenggat: liaison-change-notice (Pasal 13 ayat (2)) / "
                               "Obligation overdue")
    assert "Tenggat   : 2026-05-12" in _text(mail) and f"POST /v1/obligations/{lo['id']}/fulfilment" in _text(mail)
    year.run_until(date(2026, 5, 14))  # the letter goes out a day later: fulfilled, flagged late
    late = _fulfil(year, lo["id"], "kemenkopmk", evidence="letter", reference="B-45/KEMENKOPMK/V/2026")
    assert late["status"] == "fulfilled" and late["fulfilment"]["late"] is True
    assert [h["status"] for h in year.get(lo["id"])["history"]] == ["due-soon", "overdue", "fulfilled"]
    year.run_until(date(2026, 5, 20))
    assert len(year.mails_naming(lo["id"])) == 1  # told once
    return str(lo["id"])


def _the_persons_data_travels(year: Year) -> None:
    """Party 2 selects an extract naming the person and downloads its signed package: the trail to answer."""
    year.run_until(date(2026, 6, 1))
    at, person = year.clock.at, year.person["nik"]
    assert deliver(year.runtime, [
        handover_signed("ho-dsr", at),
        access(11, action="select", resource_type="extract", resource_id="ext-dsr", niks=[person, nik(1)], at=at),
        access(12, action="download", resource_type="handover", resource_id="ho-dsr", niks=[person],
               at=at + timedelta(hours=2)),
        access(13, action="read", resource_type="extract", resource_id="ext-other", niks=[nik(2)], at=at)]) == []


def _data_balikan_received(year: Year) -> None:
    """The signed BAST started the data balikan (Art. 4(2), 5(1)); party 2's feedback batch fulfils it."""
    ob = year.get("balikan-ho-dsr")
    assert (ob["status"], ob["party"], ob["due_date"]) == ("open", "kemnaker", "2026-08-30")
    year.run_until(date(2026, 8, 3))
    data = FeedbackReceived(batch_id="fb-dsr", handover_id="ho-dsr", agreement_id="PKS-003", program="padat_karya",
                            rows=2, counts_by_match_class={"matched": 2},
                            submitted_by=Actor(org="kemnaker", subject="officer-1", roles=["program-officer"]),
                            received_at=year.clock.at)
    assert deliver(year.runtime, [CloudEvent.of(data, source="urn:p3ke:service:feedback", time=year.clock.at)]) == []
    ob = year.get("balikan-ho-dsr")
    assert ob["status"] == "fulfilled" and ob["fulfilment"]["evidence"] == "feedback-batch"
    assert ob["fulfilment"]["reference"] == "fb-dsr" and ob["fulfilment"]["late"] is False


def _forged_event_incident_closed_within_72_hours(year: Year) -> str:
    year.run_until(date(2026, 6, 10))
    year.at(date(2026, 6, 10), hour_utc=2)  # 09:00 WIB: a forged handover-signed event reaches the worker
    letters = deliver_forged(year.runtime, "ho-forged-year", 1)
    assert len(letters) == 1 and b"origin not proven" in dict(letters[0][3])["p3ke_dlq_reason"]
    year.at(date(2026, 6, 10), hour_utc=2, minute=1)  # the audit-incidents job's next scan
    [incident_id] = scan_now(year.runtime.context)
    assert scan_now(year.runtime.context) == []
    incident = year.client.get(f"/v1/incidents/{incident_id}", headers=year.auth("kemnaker")).json()
    assert incident["source"] == "forged-event" and incident["status"] == "open"
    discovered = datetime.fromisoformat(incident["discovered_at"])
    assert discovered == year.clock.at and datetime.fromisoformat(incident["due_at"]) == discovered + timedelta(
        hours=72)
    [(_day, rcpt, mail)] = year.mails_naming(incident_id)
    assert sorted(rcpt) == sorted([KEMNAKER, KEMENKOPMK])
    assert mail["Subject"].startswith(f"[P3KE] Insiden data pribadi dibuka: {incident_id}, pemberitahuan paling "
                                      f"lambat 2026-06-13 09:01 WIB")
    year.shots.take("2026-06-10-insiden-terbuka")

    for hours, recipient, org in ((6, "subjects", "kemnaker"), (20, "authority", "kemnaker"),
                                  (30, "liaison", "kemenkopmk")):
        year.clock.at = discovered + timedelta(hours=hours)
        notice = year.client.post(f"/v1/incidents/{incident_id}/notices", headers=year.auth(org), json={
            "recipient": recipient, "sent_at": (year.clock.at - timedelta(minutes=30)).isoformat(),
            "channel": "surat", "reference": f"B-{recipient}/PDP/VI/2026",
            "addressee": "Lembaga PDP" if recipient == "authority" else None,
            "summary": "Pemberitahuan insiden: peristiwa palsu ditolak, tidak ada data pribadi yang terungkap."})
        assert notice.status_code == 201, notice.text
    year.clock.at = discovered + timedelta(hours=48)
    closed = year.client.post(f"/v1/incidents/{incident_id}/closure", headers=year.auth("kemnaker"), json={
        "summary": "Peristiwa palsu ditolak oleh semua konsumen; pemberitahuan terkirim dalam 3x24 jam."})
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert body["status"] == "closed" and body["notices_missing"] == [] and body["notices_late"] == []
    assert datetime.fromisoformat(body["closed_at"]) - discovered == timedelta(hours=48)
    assert [h["change"] for h in body["history"]] == ["opened", "notice", "notice", "notice", "closed"]
    assert body["history"][-1]["detail"]["within_deadline"] is True
    year.at(date(2026, 6, 12))
    return str(incident_id)


def _answer_with_record_and_trail(year: Year, request_id: str) -> dict[str, Any]:
    """The full answer (`POST /v1/subject-requests/{id}/response`, the NIK in the body): the person's record as the
    real ingest API holds it in the current snapshot, and their trail from the log; the NIK is not answered back."""
    person = year.person
    response = year.client.post(f"/v1/subject-requests/{request_id}/response", headers=year.auth("kemnaker"),
                                json={"nik": person["nik"], "format": "json"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    assert person["nik"] not in response.text
    document = response.json()
    assert document["format"] == "p3ke.subject-access-response.v1"
    assert (document["scope"], document["complete"]) == ("full", True)
    assert document["request"]["subject_ref"] == year.runtime.context.subject_ref(person["nik"])
    [ingest] = document["records"]
    assert (ingest["source"], ingest["status"]) == ("ingest", "answered")
    [individual] = [r for r in ingest["records"] if r["title"].endswith("data individu")]
    assert (individual["resource_id"], individual["current"]) == (year.snapshot_version, True)
    assert (individual["fields"]["nama"], individual["fields"]["alamat"]) == (person["nama"], person["alamat"])
    trail = [(e["action"], e["resource_id"], e["bast_number"]) for e in document["trail"]]
    assert trail[:2] == [("select", "ext-dsr", None), ("download", "ho-dsr", "BAST-ho-dsr")]
    assert all(e["resource_id"] != "ext-other" for e in document["trail"])  # another person's
    assert document["trail_complete"] is True
    return document


def _subject_access_request_answered(year: Year) -> None:
    year.run_until(date(2026, 7, 6))  # the person comes to the Disnaker office
    response = year.client.post("/v1/subject-requests", headers=year.auth("kemnaker"), json={
        "nik": year.person["nik"], "kind": "access", "office": "Dinas Tenaga Kerja Kabupaten Bogor",
        "identity_check": {"document_type": "ktp-el", "checked_by": "petugas-7"},
        "details": "Meminta salinan data dan siapa saja yang mengaksesnya."})
    assert response.status_code == 201, response.text
    request = response.json()
    assert request["status"] == "open" and request["hours_left"] == 72.0 and year.person["nik"] not in response.text
    year.shots.take("2026-07-06-permintaan-subjek")
    year.clock.at += timedelta(hours=20)
    _answer_with_record_and_trail(year, request["request_id"])
    answered = year.client.post(f"/v1/subject-requests/{request['request_id']}/answer", headers=year.auth("kemnaker"),
                                json={"channel": "in-person", "sent": "Berkas jawaban diserahkan langsung di kantor."})
    assert answered.status_code == 200, answered.text
    body = answered.json()
    assert (body["status"], body["answered_late"], body["overdue"]) == ("answered", False, False)
    relay_own_records(year.runtime)  # the request's own records, into the log: it is in the person's trail
    own = year.client.post("/v1/subjects/trail", headers=year.auth("kemnaker"),
                           json={"nik": year.person["nik"], "limit": 100})
    assert {("upload", "subject-request"), ("export", "subject-request")} <= {
        (e["action"], e["resource_type"]) for e in own.json()}


def _expiry_reminders_each_once(year: Year) -> None:
    assert {r["code"]: r["on"] for r in year.get(EXPIRY)["reminders"]} == {
        "reminder-90d": "2026-11-30", "reminder-60d": "2026-12-30", "reminder-30d": "2027-01-29"}
    year.run_until(date(2027, 1, 29))
    for days, on in ((90, date(2026, 11, 30)), (60, date(2026, 12, 30)), (30, date(2027, 1, 29))):
        [(day, rcpt, mail)] = year.mails_naming(f"Pengingat {days} hari sebelum perjanjian berakhir")
        assert (day, sorted(rcpt)) == (on, sorted([KEMNAKER, KEMENKOPMK])), days
        assert "jatuh tempo 2027-01-29" in _text(mail) and f"ends in {days} days" in mail["Subject"]
    assert len(year.mails_naming("Pengingat")) == 3
    # the written notice of extension goes out on the last day of the window
    done = _fulfil(year, EXPIRY, "kemenkopmk", evidence="letter", reference="B-12/KEMENKOPMK/I/2027")
    assert done["status"] == "fulfilled" and done["fulfilment"]["late"] is False


def _published_events_validate(year: Year, bootstrap: str) -> list[dict[str, Any]]:
    """The relay publishes the outbox; each announcement read back from Kafka validates against its schema."""
    relay = year.runtime.relay()
    deadline = time.monotonic() + 60
    while relay.pending() and time.monotonic() < deadline:
        relay.run_once()
    assert relay.pending() == 0
    outbox = year.runtime.spec.tables.outbox
    with year.runtime.engine.connect() as conn:
        rows = conn.execute(select(outbox.c.headers, outbox.c.event_type).where(
            outbox.c.event_type.in_(ANNOUNCED))).all()
        announced = conn.execute(select(notifications.c.key, notifications.c.mail_status)).all()
    expected = {dict(json.loads(h))["ce_id"]: t for h, t in rows}
    assert len(expected) == len(announced)  # one event per announcement, none twice
    assert {status for _key, status in announced} == {"sent"}  # and each one emailed
    found = _read_back(bootstrap, expected, deadline)
    assert set(found) == set(expected), f"missing on Kafka: {set(expected) - set(found)}"
    datas = []
    for event_id, (topic, headers, data) in found.items():
        assert topic == expected[event_id] == headers["ce_type"]
        jsonschema.validate(data, json.loads((CONTRACT_DIR / "jsonschema" / f"{topic}.json").read_text()))
        datas.append(data)
    return datas


def _read_back(bootstrap: str, expected: dict[str, str], deadline: float) -> dict[str, tuple[str, dict, dict]]:
    found: dict[str, tuple[str, dict, dict]] = {}
    while set(found) != set(expected) and time.monotonic() < deadline:
        consumer = KafkaConsumer(*ANNOUNCED, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                 enable_auto_commit=False, group_id=None, consumer_timeout_ms=2000)
        try:
            for message in consumer:
                headers = {k: v.decode() for k, v in message.headers}
                if headers.get("ce_id") in expected:
                    found[headers["ce_id"]] = (message.topic, headers, json.loads(message.value))
        finally:
            consumer.close()
    return found


def test_a_year_of_the_agreement_on_the_desk(year: Year, kafka_bootstrap: str) -> None:
    # 27 February 2026: the job's first sweep creates the agreement's obligations; year 3's M&E is due tomorrow
    year.run_until(date(2026, 2, 27))
    _me_due_and_fulfilled_by_the_report(year, ME_Y3, date(2026, 2, 28), emailed=False)

    fm = _force_majeure_the_day_before_the_cuti_bersama(year)
    _calendar_feed(year, fm)
    _force_majeure_notified_on_its_last_day(year, fm)
    liaison = _liaison_change_notified_late(year)
    _the_persons_data_travels(year)
    incident = _forged_event_incident_closed_within_72_hours(year)
    _subject_access_request_answered(year)
    _data_balikan_received(year)
    _expiry_reminders_each_once(year)

    # February 2027: year 4's M&E due soon on the 14th, its report issued on the 20th
    year.run_until(date(2027, 2, 20))
    _me_due_and_fulfilled_by_the_report(year, ME_Y4, date(2027, 2, 28), emailed=True)
    year.run_until(date(2027, 3, 1))
    listed = year.client.get("/v1/obligations", headers=year.auth("kemnaker"), params={"limit": 1000}).json()
    overdue = sorted(o["id"] for o in listed if o["status"] == "overdue")
    # the year ends with nothing of its own left overdue; years 1 and 2's M&E, from before the desk, were found
    # overdue at its first sweep (created so: never announced) and stay so until someone records their evidence
    assert overdue == ["me-pks-p3ke-2023-y1", "me-pks-p3ke-2023-y2"], overdue
    year.shots.take("2027-03-01-akhir-tahun")

    published = _published_events_validate(year, kafka_bootstrap)
    changes = {(d.get("obligation_id") or d.get("incident_id"), d.get("change"),
                d.get("status") if d.get("change") == "status" else d.get("reminder_days_before_end"))
               for d in published}
    # what changed status is announced (year 3's M&E and the liaison notice were created due soon: not announced
    # as such), the reminders on their days, the incident as it opened: each once
    assert changes == {(fm["id"], "status", "due-soon"), (liaison, "status", "overdue"),
                       (ME_Y4, "status", "due-soon"), (EXPIRY, "status", "due-soon"), (EXPIRY, "reminder", 90),
                       (EXPIRY, "reminder", 60), (EXPIRY, "reminder", 30), (incident, None, None)}
    assert len(published) == len(changes)
    assert [d["source"] for d in published if "incident_id" in d] == ["forged-event"]
    year.mails_naming()  # every email the year produced, checked against the announcements above
    assert len(year.mails) == len(published)
