"""Calendar feeds of the obligations desk on real PostgreSQL: a secret URL per feed that a calendar app fetches
without a bearer token, serving exactly the party's authenticated feed (read back by two independent parsers,
vobject and icalendar), revoked by the party that made it, listed without its token, absent from the logs of the
real `python -m p3ke_audit api` process, and run by the application role `p3ke audit grant-sql` provisions."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import icalendar
import pytest
import vobject
from sqlalchemy import text
from sqlalchemy.engine import make_url

from p3ke_audit.adapters.grants import grant_sql
from p3ke_audit.service_layer import obligations
from p3ke_platform import purpose_text
from p3ke_platform.auth import DevIssuer
from tests.integration.audit.desk_support import open_desk
from tests.integration.audit.helpers import SUBJECT_KEY, audit_runtime
from tests.integration.helpers.processes import ApiProcess

FEEDS = "/v1/obligations/calendar-feeds"
OFFICER_EMAIL = "pusdatik.penghubung@kemnaker.go.id"


@pytest.fixture
def desk(postgres_url: str, tmp_path: Path) -> Iterator[SimpleNamespace]:
    yield from open_desk(postgres_url, tmp_path)


def _obligations_of_both_parties(desk: SimpleNamespace) -> None:
    """20 March 2026: the agreement's obligations, a force majeure of each party and a liaison change of party 2."""
    desk.clock.at = datetime(2026, 3, 20, 3, tzinfo=UTC)
    assert obligations.sweep(desk.runtime.context).created >= 6
    for org, day, summary in (("kemnaker", "2026-03-20", "Gangguan listrik berkepanjangan di gedung Pusdatik"),
                              ("kemenkopmk", "2026-03-19", "Gempa bumi merusak ruang server Kemenko PMK")):
        response = desk.client.post("/v1/force-majeure", headers=desk.auth(org),
                                    json={"occurred_on": day, "summary": summary})
        assert response.status_code == 201, response.text
    change = desk.client.post("/v1/liaison-officers", headers=desk.auth("kemnaker"), json={
        "position": "Kepala Pusat Data dan Teknologi Informasi", "office": "Pusdatik Kemnaker",
        "address": "Jl. Jend. Gatot Subroto Kav. 51, Jakarta Selatan", "email": OFFICER_EMAIL,
        "phone": "+62 21 5255733", "effective_from": "2026-03-16"})
    assert change.status_code == 201, change.text


def _create(desk: SimpleNamespace, org: str, party: str, label: str) -> dict[str, Any]:
    response = desk.client.post(FEEDS, headers=desk.auth(org, subject=f"auditor-{org}"),
                                json={"party": party, "label": label})
    assert response.status_code == 201, response.text
    return response.json()


def _token(url: str) -> str:
    found = re.fullmatch(r".*/v1/calendar-feeds/([A-Za-z0-9_-]+)\.ics", url)
    assert found, url
    return found.group(1)


def _events(body: str) -> dict[str, tuple[str, date]]:
    """UID -> (SUMMARY, DTSTART) by two independent parsers, which must agree."""
    by_vobject = {e.uid.value: (e.summary.value, e.dtstart.value)
                  for e in vobject.readOne(body).contents.get("vevent", [])}
    by_icalendar = {str(e["uid"]): (str(e["summary"]), e.decoded("dtstart"))
                    for e in icalendar.Calendar.from_ical(body).walk("VEVENT")}
    assert by_vobject == by_icalendar
    return by_vobject


def test_a_secret_url_serves_the_partys_feed_without_a_token_until_revoked(desk: SimpleNamespace) -> None:
    _obligations_of_both_parties(desk)
    mine = _create(desk, "kemnaker", "kemnaker", "Kalender tim kepatuhan Pusdatik Kemnaker")
    desk.clock.at += timedelta(minutes=5)
    theirs = _create(desk, "kemenkopmk", "kemenkopmk", "Kalender Deputi")
    assert mine["token_shown_once"] is True and mine["party"] == "kemnaker"
    assert mine["url"].startswith("http://testserver/v1/calendar-feeds/") and mine["url"] != theirs["url"]
    token = _token(mine["url"])
    assert len(token) >= 43  # secrets.token_urlsafe(32)

    # the calendar app: no Authorization header at all
    feed = desk.client.get(mine["url"])
    assert feed.status_code == 200, feed.text
    assert feed.headers["content-type"] == "text/calendar; charset=utf-8"
    assert feed.headers["cache-control"] == "private, max-age=300"
    authenticated = desk.client.get("/v1/obligations/calendar.ics", params={"party": "kemnaker"},
                                    headers=desk.auth("kemnaker", role="operator"))
    assert authenticated.status_code == 200
    events = _events(feed.text)
    assert events == _events(authenticated.text) and feed.content == authenticated.content
    assert any("Pasal 12 ayat (3)" in s and "(kemnaker)" in s for s, _ in events.values())
    assert any("Pasal 13 ayat (2)" in s for s, _ in events.values())
    other = desk.client.get(theirs["url"])
    assert other.status_code == 200
    their_events = _events(other.text)
    assert set(their_events) != set(events)
    assert any("(kemenkopmk)" in s for s, _ in their_events.values())
    assert not any("(kemenkopmk)" in s for s, _ in events.values())

    # no personal data: no NIK-like number, no person's name, the liaison officer by job title only
    for body in (feed.text, other.text):
        assert not re.search(r"(?<!\d)\d{16}(?!\d)", body)
        assert OFFICER_EMAIL not in body and "5255733" not in body and "Gatot Subroto" not in body
        for event in icalendar.Calendar.from_ical(body).walk("VEVENT"):
            for line in [str(event["summary"]), *str(event["description"]).splitlines()]:
                assert [p for p in purpose_text.problems(line, min_chars=0, max_chars=10_000)
                        if "nama orang" in p] == [], line

    # the listing: both feeds with their history, never a token nor its hash
    listing = desk.client.get(FEEDS, headers=desk.auth("kemenkopmk"))
    assert listing.status_code == 200, listing.text
    assert {f["id"] for f in listing.json()} == {mine["id"], theirs["id"]}
    for secret in (token, _token(theirs["url"]), hashlib.sha256(token.encode()).hexdigest()):
        assert secret not in listing.text
    newest = desk.client.get(FEEDS, params={"limit": 1}, headers=desk.auth("kemenkopmk")).json()
    assert [f["id"] for f in newest] == [theirs["id"]]
    listed = next(f for f in listing.json() if f["id"] == mine["id"])
    assert (listed["created_by_org"], listed["created_by"], listed["revoked_at"]) == (
        "kemnaker", "auditor-kemnaker", None)
    assert [h["change"] for h in listed["history"]] == ["created"]
    assert listed["history"][0]["detail"] == {"party": "kemnaker", "label": mine["label"]}

    # a wrong token: 404, in Indonesian unless English is asked for, with a stable code
    wrong = desk.client.get(f"/v1/calendar-feeds/{token[:-4]}AAAA.ics")
    assert wrong.status_code == 404 and wrong.json()["code"] == "calendar_feed.not_found"
    assert wrong.json()["detail"] == ("Umpan kalender tidak ditemukan atau sudah dicabut; minta alamat baru kepada "
                                      "auditor kepatuhan.")
    english = desk.client.get(f"/v1/calendar-feeds/{token[:-4]}AAAA.ics", headers={"Accept-Language": "en"})
    assert english.status_code == 404 and english.json() == {
        "detail": "no such calendar feed, or it was revoked; ask a compliance auditor for a new address",
        "code": "calendar_feed.not_found"}

    # the other party may not revoke it (refused and recorded); its maker may, once
    refused = desk.client.delete(f"{FEEDS}/{mine['id']}", headers=desk.auth("kemenkopmk"))
    assert refused.status_code == 403, refused.text
    assert refused.json()["detail"].startswith("Umpan kalender ini dibuat oleh kemnaker")
    assert refused.json()["code"] == "calendar_feed.of_another_party"
    assert refused.json()["rule"] == "feed-of-another-party"
    assert desk.client.get(mine["url"]).status_code == 200
    desk.clock.at = datetime(2026, 3, 21, 3, tzinfo=UTC)
    revoked = desk.client.delete(f"{FEEDS}/{mine['id']}", headers=desk.auth("kemnaker", subject="auditor-9"))
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] == "2026-03-21T03:00:00Z" and revoked.json()["revoked_by"] == "auditor-9"
    assert [(h["change"], h["actor_org"]) for h in revoked.json()["history"]] == [
        ("created", "kemnaker"), ("revoked", "kemnaker")]
    gone = desk.client.get(mine["url"])
    assert (gone.status_code, gone.json()) == (404, wrong.json())  # revoked and unknown: the same answer
    assert desk.client.get(theirs["url"]).status_code == 200
    again = desk.client.delete(f"{FEEDS}/{mine['id']}", headers=desk.auth("kemnaker"))
    assert again.status_code == 409 and "sudah dicabut" in again.json()["detail"]
    assert desk.client.delete(f"{FEEDS}/cal-missing", headers=desk.auth("kemnaker")).status_code == 404
    with desk.runtime.engine.connect() as conn:
        stored = conn.execute(text("SELECT token_sha256 FROM audit_calendar_feeds WHERE id = :id"),
                              {"id": mine["id"]}).scalar_one()
        assert stored == hashlib.sha256(token.encode()).hexdigest()
        assert conn.execute(text("SELECT count(*) FROM audit_calendar_feeds WHERE token_sha256 LIKE :t"),
                            {"t": f"%{token}%"}).scalar_one() == 0


def test_only_compliance_auditors_make_feeds_and_labels_hold_no_personal_data(desk: SimpleNamespace) -> None:
    auditor = desk.auth("kemnaker")
    cases = [
        ({"party": "kemnaker", "label": "Kalender 3201010101010001"}, "angka mirip NIK"),
        ({"party": "kemnaker", "label": "Kalender Bapak Budi"}, "nama orang"),
        ({"party": "kemnaker", "label": "K"}, "paling sedikit 2 karakter"),
        ({"party": "kemnaker", "label": "K" * 101}, "paling banyak 100"),
        ({"party": "both", "label": "Kalender bersama"}, "kemenkopmk"),
        ({"party": "kemnaker", "label": "Kalender\nkedua"}, "pattern"),
    ]
    for body, message in cases:
        response = desk.client.post(FEEDS, headers=auditor, json=body)
        assert response.status_code == 422 and message in response.text, (body, response.text)
    assert desk.client.post(FEEDS, headers=desk.auth("kemnaker", role="operator"),
                            json={"party": "kemnaker", "label": "Kalender operator"}).status_code == 403
    assert desk.client.get(FEEDS, headers=desk.auth("kemnaker", role="operator")).status_code == 403
    assert desk.client.get(FEEDS).status_code == 401
    assert desk.client.get(FEEDS, headers=auditor).json() == []  # the listing, not /v1/obligations/{id}


def test_the_token_never_reaches_the_logs_of_the_api_process(postgres_url: str, tmp_path: Path) -> None:
    runtime = audit_runtime(postgres_url, tmp_path)  # migrated; its data dir holds the development token key
    bearer = DevIssuer(runtime.settings).mint("auditor-1", "kemnaker", ["compliance-auditor"])
    auditor = {"Authorization": f"Bearer {bearer}"}
    runtime.engine.dispose()
    base = "https://kalender.p3ke.example/audit"
    api = ApiProcess("p3ke_audit", "audit", tmp_path / "api.log", {
        "P3KE_DATA_DIR": str(tmp_path), "P3KE_DATABASE_URL": postgres_url, "P3KE_SUBJECT_HASH_KEY": SUBJECT_KEY,
        "P3KE_AGREEMENT_INCLUDE_EXAMPLES": "true", "P3KE_LOG_LEVEL": "DEBUG", "P3KE_AUDIT_PUBLIC_BASE_URL": base})
    with api:
        made = httpx.post(f"{api.url}{FEEDS}", headers=auditor, json={"party": "kemnaker", "label": "Outlook tim"})
        assert made.status_code == 201, made.text
        url = made.json()["url"]
        assert url.startswith(f"{base}/v1/calendar-feeds/")  # P3KE_AUDIT_PUBLIC_BASE_URL
        token = _token(url)
        fetched = httpx.get(f"{api.url}/v1/calendar-feeds/{token}.ics")
        assert fetched.status_code == 200 and "BEGIN:VCALENDAR" in fetched.text
        assert httpx.get(f"{api.url}/v1/calendar-feeds/{token}x.ics").status_code == 404
        assert httpx.get(f"{api.url}/v1/calendar-feeds/{token}.ics/extra").status_code == 404
        metrics = httpx.get(f"{api.url}/metrics").text
    assert 'route="/v1/calendar-feeds/{token}.ics"' in metrics and token not in metrics
    log = (tmp_path / "api.log").read_text()
    assert "api started" in log  # the log was captured, at DEBUG
    assert token not in log and token[:20] not in log


def test_the_application_role_makes_and_revokes_feeds_and_cannot_rewrite_them(postgres_url: str,
                                                                                tmp_path: Path) -> None:
    owner = audit_runtime(postgres_url, tmp_path / "owner", agreement_dir=None)
    role = f"audit_app_{make_url(postgres_url).database}"
    with owner.engine.begin() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN PASSWORD 'app-pass'"))
        conn.exec_driver_sql(grant_sql(role))  # exactly what `p3ke audit grant-sql` prints
    app_url = make_url(postgres_url).set(username=role, password="app-pass").render_as_string(hide_password=False)
    opened = open_desk(app_url, tmp_path / "app")
    desk = next(opened)
    try:
        feed = _create(desk, "kemnaker", "kemnaker", "Kalender Google tim Pusdatik")
        assert desk.client.get(feed["url"]).status_code == 200
        assert desk.client.delete(f"{FEEDS}/{feed['id']}", headers=desk.auth("kemnaker")).status_code == 200
        assert desk.client.get(feed["url"]).status_code == 404
        for sql in ("UPDATE audit_calendar_feeds SET token_sha256 = 'x'", "UPDATE audit_calendar_feeds SET party = 'x'",
                    "DELETE FROM audit_calendar_feeds"):
            with desk.runtime.engine.connect() as conn, pytest.raises(Exception, match="permission denied"):
                conn.execute(text(sql))
    finally:
        next(opened, None)
        owner.engine.dispose()
