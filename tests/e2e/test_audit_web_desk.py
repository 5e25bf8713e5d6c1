"""The obligations desk on the compliance web page (/ui) in headless Chromium: the audit API runs for real (uvicorn
on a loopback port, SQLite, relay off) with its clock injected at 15 April 2026, 10:00 in Jakarta; the agreement's
obligations are swept as the `audit-obligations` job does, and a force majeure (its notice overdue), a liaison
officer change (due soon), two incidents and two data-subject requests are recorded through the API over HTTP.

Covered: the panels "Kewajiban dan tenggat" (overdue, due soon, open), open incidents with their 72-hour clock and
missing notices, open requests with their due time, in Indonesian and in English; no NIK anywhere in the HTML;
the read of the incident register and of the requests recorded in the log. The browser, the server and sign-in
are test_audit_web.py's.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from p3ke_audit.service_layer import obligations, queries
from p3ke_audit.service_layer.queries import Filters
from p3ke_platform.agreement import WIB
from p3ke_platform.auth import DevIssuer
from tests.e2e import test_audit_web as web_e2e
from tests.integration.audit.desk_support import Clock, relay_own_records
from tests.integration.audit.helpers import audit_runtime, nik

# the browser, a fresh context per test and the Chromium check, as the page's own end-to-end test has them
browser = web_e2e.browser
visit = web_e2e.visit
_chromium_installed = web_e2e._chromium_installed
sign_in = web_e2e.sign_in

NOW = datetime(2026, 4, 15, 3, 0, tzinfo=UTC)  # 10:00 WIB
INCIDENT_NIK, LATE_INCIDENT_NIK, REQUEST_NIK, LATE_REQUEST_NIK = nik(7101), nik(7102), nik(7103), nik(7104)
NIKS = (INCIDENT_NIK, LATE_INCIDENT_NIK, REQUEST_NIK, LATE_REQUEST_NIK)


def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("audit-web-desk")
    runtime = audit_runtime(f"sqlite:///{data / 'audit.db'}", data, rate_limit_per_minute=0)
    runtime.context.clock = Clock(NOW)
    assert obligations.sweep(runtime.context).created >= 4  # the agreement's obligations, as the job creates them
    issuer = DevIssuer(runtime.settings)
    auditor = issuer.mint("dpo-1", "kemnaker", ["compliance-auditor"])
    with web_e2e.Server(runtime) as server, httpx.Client(base_url=server.url, timeout=30,
                                                         headers={"Authorization": f"Bearer {auditor}"}) as api:
        # Art. 12(3): a force majeure on 2 March 2026, its notice due 14 working days later (overdue by now)
        fm = _created(api.post("/v1/force-majeure", json={
            "org": "kemnaker", "occurred_on": "2026-03-02",
            "summary": "Banjir merendam ruang server Pusdatin Kemnaker di Jakarta Selatan"}))["obligation"]
        # Art. 13(2): a new liaison officer from 14 April, the notice due in 6 working days (due soon)
        lo = _created(api.post("/v1/liaison-officers", json={
            "org": "kemnaker", "position": "Kepala Pusat Data dan Informasi Ketenagakerjaan",
            "office": "Pusdatinaker Kemnaker", "address": "Jl. Jend. Gatot Subroto Kav. 51, Jakarta",
            "email": "pusdatin@kemnaker.go.id", "effective_from": "2026-04-14"}))["obligation"]
        # UU PDP Art. 46: one incident discovered 10 hours ago (the liaison officer told), one 80 hours ago
        incident = _created(api.post("/v1/incidents", json={
            "title": "Berkas ekstrak terkirim ke alamat surel yang salah", "niks": [INCIDENT_NIK],
            "data_kinds": ["nik", "nama"], "subject_count": 1,
            "discovered_at": (NOW - timedelta(hours=10)).isoformat()}))
        _created(api.post(f"/v1/incidents/{incident['incident_id']}/notices", json={
            "recipient": "liaison", "channel": "surat", "reference": "B.123/PUSDATIN/IV/2026",
            "summary": "Pemberitahuan awal insiden kepada narahubung Kemenko PMK"}))
        late_incident = _created(api.post("/v1/incidents", json={
            "title": "Akses tidak sah ke paket serah terima", "niks": [LATE_INCIDENT_NIK],
            "discovered_at": (NOW - timedelta(hours=80)).isoformat()}))
        # UU PDP Art. 32: an erasure request received 5 hours ago, an access request 75 hours ago
        erase = _created(api.post("/v1/subject-requests", json={
            "nik": REQUEST_NIK, "kind": "erase", "office": "Dinas Sosial Kabupaten Bogor",
            "identity_check": {"document_type": "ktp-el"}, "received_at": (NOW - timedelta(hours=5)).isoformat()}))
        access = _created(api.post("/v1/subject-requests", json={
            "nik": LATE_REQUEST_NIK, "kind": "access", "office": "Disnaker Kota Bandung",
            "identity_check": {"document_type": "ikd"}, "received_at": (NOW - timedelta(hours=75)).isoformat()}))
        yield {"url": server.url, "runtime": runtime, "auditor": auditor, "fm": fm, "lo": lo, "incident": incident,
               "late_incident": late_incident, "erase": erase, "access": access}


MONTHS = {"id": ["Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"],
          "en": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]}


def _day(value: str | date, lang: str = "id") -> str:
    """A day as the page writes it: "28 Feb 2026" (Indonesian month abbreviations by default)."""
    d = date.fromisoformat(value) if isinstance(value, str) else value
    return f"{d.day} {MONTHS[lang][d.month - 1]} {d.year}"


def _wib(value: str, lang: str = "id") -> str:
    """An instant as the page writes it: "15 Apr 2026 00:00 WIB" (Jakarta time)."""
    local = datetime.fromisoformat(value).astimezone(WIB)
    return f"{_day(local.date(), lang)} {local:%H:%M} WIB"


def _utc_hover(page: Any, row_id: str) -> list[tuple[str | None, str | None]]:
    """The `datetime` and `title` of each `<time>` of a row: the UTC instant."""
    return [(t.get_attribute("datetime"), t.get_attribute("title")) for t in page.locator(f"tr#{row_id} time").all()]


def _cells(page: Any, row_id: str) -> list[str]:
    row = page.locator(f"tr#{row_id}")
    assert row.count() == 1, row_id
    return [c.inner_text() for c in row.locator("th, td").all()]


def _assert_no_nik(page: Any) -> None:
    html = page.content()
    assert not any(n in html for n in NIKS)


def test_the_desk_shows_deadlines_incidents_and_requests_in_both_languages(visit: Any, site: dict[str, Any],
                                                                           tmp_path: Path) -> None:
    page, urls = visit
    landing = sign_in(page, site["auditor"])
    assert landing.status == 200 and page.locator("html").get_attribute("lang") == "id"

    # Kewajiban dan tenggat: the force majeure notice overdue, the liaison notice due soon, the next M&E open
    desk = page.locator("section[aria-labelledby='desk-obligations']")
    assert desk.get_by_role("heading", name="Kewajiban dan tenggat").is_visible()
    fm, lo = site["fm"], site["lo"]
    assert fm["status"] == "overdue" and lo["status"] == "due-soon"  # as the API has them on the same clock
    overdue = desk.get_by_role("region", name="Lewat tenggat")
    assert desk.get_by_role("heading", name="Lewat tenggat").inner_text().startswith("Lewat tenggat (")
    cells = _cells(overdue, f"obligation-{fm['id']}")
    assert cells[0].startswith("Pemberitahuan keadaan kahar\n" + fm["id"])
    assert cells[1:3] == ["Pasal 12 ayat (3)", "kemnaker"]
    assert cells[3] == f"{_day(fm['due_date'])}\nlewat {-fm['days_left']} hari" and cells[4] == "Lewat tenggat"
    assert overdue.locator(f"tr#obligation-{fm['id']} .bad").count() == 1
    soon = _cells(desk.get_by_role("region", name="Segera jatuh tempo"), f"obligation-{lo['id']}")
    assert soon[1:] == ["Pasal 13 ayat (2)", "kemnaker", f"{_day(lo['due_date'])}\n{lo['days_left']} hari lagi",
                        "Segera jatuh tempo"]
    open_me = _cells(desk.get_by_role("region", name=re.compile(r"^Terbuka \(")), "obligation-me-pks-p3ke-2023-y4")
    assert open_me[0].startswith("Pemantauan dan evaluasi") and open_me[2] == "Para Pihak (keduanya)"
    assert open_me[4] == "Terbuka"

    # open incidents: the 72-hour clock, the notices missing, the one past its 72 hours in red
    incidents = page.locator("section[aria-labelledby='desk-incidents']")
    assert incidents.get_by_role("heading", name="Insiden terbuka (UU PDP Pasal 46)").is_visible()
    inc, late = site["incident"], site["late_incident"]
    assert _cells(incidents, f"incident-{inc['incident_id']}")[1:] == [
        _wib(inc["discovered_at"]), _wib(inc["due_at"]), "62 jam 0 menit lagi",
        "subjek data, Lembaga Pelindungan Data Pribadi", "Terbuka"]
    late_cells = _cells(incidents, f"incident-{late['incident_id']}")
    assert late_cells[0] == f"{late['incident_id']}\nAkses tidak sah ke paket serah terima"
    assert late_cells[3:] == ["lewat 8 jam 0 menit", "subjek data, Lembaga Pelindungan Data Pribadi, narahubung "
                              "pihak lain (Pasal 13 PKS)", "Pemberitahuan terlambat"]
    assert incidents.locator(f"tr#incident-{late['incident_id']} .bad").count() == 2
    due_utc = datetime.fromisoformat(inc["due_at"]).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert _utc_hover(incidents, f"incident-{inc['incident_id']}")[1] == (due_utc, f"{due_utc} (UTC)")

    # open data-subject requests: their due time; erasure routed to party 1, the register's steward
    requests = page.locator("section[aria-labelledby='desk-requests']")
    erase, access = site["erase"], site["access"]
    assert _cells(requests, f"request-{erase['request_id']}") == [
        erase["request_id"], "penghapusan data pribadi", "Dinas Sosial Kabupaten Bogor", _wib(erase["received_at"]),
        _wib(erase["due_at"]), "67 jam 0 menit lagi", "kemenkopmk"]
    assert _cells(requests, f"request-{access['request_id']}")[5:] == ["lewat 3 jam 0 menit", "pihak penerima"]
    assert [r.get_attribute("id") for r in requests.locator("tbody tr").all()] == [
        f"request-{access['request_id']}", f"request-{erase['request_id']}"]  # by due time
    _assert_no_nik(page)
    assert erase["subject_ref"] not in page.content()  # nor the keyed reference

    # English
    with page.expect_navigation():
        page.get_by_role("link", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", name="Obligations and deadlines").is_visible()
    overdue = page.get_by_role("region", name="Overdue")
    cells = _cells(overdue, f"obligation-{fm['id']}")
    assert cells[0].startswith("Notice of force majeure\n") and cells[1:3] == ["Art. 12(3)", "kemnaker"]
    assert cells[3:] == [f"{_day(fm['due_date'], 'en')}\n{-fm['days_left']} days overdue", "Overdue"]
    assert _cells(page, "obligation-me-pks-p3ke-2023-y4")[2] == "Both parties"
    assert page.get_by_role("heading", name="Open incidents (UU PDP Art. 46)").is_visible()
    assert _cells(page, f"incident-{late['incident_id']}")[3:] == [
        "8 h 0 min overdue", "the data subjects, the personal-data protection authority, the other party's liaison "
        "officer (PKS Art. 13)", "Notices overdue"]
    assert page.get_by_role("heading", name="Open data-subject requests (UU PDP Art. 32)").is_visible()
    assert _cells(page, f"request-{erase['request_id']}")[1] == "erasure of personal data"
    assert _cells(page, f"request-{access['request_id']}")[5:] == ["3 h 0 min overdue", "the receiving party"]
    _assert_no_nik(page)
    assert all(n not in url for n in NIKS for url in urls)

    shot = Path(os.environ.get("P3KE_E2E_SCREENSHOTS", tmp_path)) / "audit-desk-en.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_reading_the_desk_is_recorded_in_the_log(visit: Any, site: dict[str, Any]) -> None:
    page, _urls = visit
    sign_in(page, site["auditor"])
    runtime = site["runtime"]
    relay_own_records(runtime)  # the page's records, through the outbox, into the log
    ref = runtime.context.subject_ref(REQUEST_NIK)
    with runtime.context.sessions() as session:
        reads = queries.page(session, Filters(subject_ref=ref, resource_id="ui:list"), limit=50)
        incidents = queries.page(session, Filters(resource_id="ui:incidents", actor_subject="dpo-1"), limit=50)
    assert reads and all(r["action"] == "read" and r["resource_type"] == "subject-request" for r in reads)
    assert reads[-1]["record_count"] == 2  # both open requests, each subject by keyed reference
    assert incidents and incidents[-1]["record_count"] == 2 and incidents[-1]["action"] == "query"
