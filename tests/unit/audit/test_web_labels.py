"""The compliance page's labels and times (p3ke_audit.entrypoints.web_text): every code of the contract an official
filters by has a label in both languages of the `web` catalogue (a new action, outcome, role or event type needs its
web.po entries before it reaches the page), and so has every kind of obligation and of data-subject request the desk
panels show and every purpose of the agreement as a whole (Indonesian: the same words the rules use); an instant is
shown in WIB with its UTC time on hover."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import get_args

import pytest

from p3ke_audit.domain import obligations as obligation_rules
from p3ke_audit.domain import subject_requests as request_rules
from p3ke_audit.entrypoints import desk_panels, web_text
from p3ke_platform import i18n
from p3ke_platform.agreement import purposes
from p3ke_platform.auth import ROLES
from p3ke_schemas.events import AccessAction
from p3ke_schemas.topics import EVENTS


@pytest.mark.parametrize("lang", i18n.LANGS)
def test_every_contract_code_has_a_label(lang: i18n.Lang) -> None:
    codes = ([f"action.{a}" for a in get_args(AccessAction)] + ["outcome.allowed", "outcome.denied"]
             + [f"role.{r}" for r in ROLES] + [f"event_type.{e.name}" for e in EVENTS])
    missing = [c for c in codes if c not in i18n.catalogue("web", lang)]
    assert not missing, f"web.po ({lang}) lacks {missing}"
    assert web_text.OUTCOMES == ("allowed", "denied")


def test_an_instant_in_wib_with_utc_on_hover() -> None:
    at = datetime(2026, 6, 12, 7, 5, 9, tzinfo=UTC)
    assert web_text.when(at, "id") == (
        '<time datetime="2026-06-12T07:05:09Z" title="2026-06-12T07:05:09Z (UTC)">12 Jun 2026 14:05 WIB</time>')
    # another zone, the Jakarta day after UTC's, and the Indonesian month names
    late = datetime(2026, 8, 31, 20, 30, tzinfo=timezone(timedelta(hours=2)))
    assert web_text.when(late, "id").endswith(">1 Sep 2026 01:30 WIB</time>")
    assert web_text.when(datetime(2026, 5, 1, 0, 0), "id").endswith(">1 Mei 2026 07:00 WIB</time>")  # naive: UTC
    assert web_text.when(datetime(2026, 5, 1, 0, 0, tzinfo=UTC), "en").endswith(">1 May 2026 07:00 WIB</time>")
    assert web_text.day(date(2026, 12, 24), "id") == '<time datetime="2026-12-24">24 Des 2026</time>'
    assert web_text.when(None, "id") == "—"


def test_labels_are_escaped_and_unknown_codes_shown_as_themselves() -> None:
    assert web_text.label("id", "outcome", "denied") == "Ditolak"
    assert web_text.label("en", "action", "release-key") == "Release the package password"
    assert web_text.label("id", "resource_type", "no-such-type") == "no-such-type"
    assert web_text.t("id", "bad_time", field="<b>") == (
        "Waktu “&lt;b&gt;” tidak terbaca: pilih tanggal dan jam pada kolomnya (contoh 2026-03-02 10:00).")
    html = web_text.options("id", ["allowed", "denied"], lambda c: web_text.label("id", "outcome", c), "x\"<")
    assert '<option value="denied">Ditolak (denied)</option>' in html
    assert '<option value="x&quot;&lt;" selected>x&quot;&lt;</option>' in html  # an unknown value kept, escaped


@pytest.mark.parametrize("lang", i18n.LANGS)
def test_every_obligation_and_request_kind_and_agreement_purpose_has_a_label(lang: i18n.Lang) -> None:
    codes = ([f"{desk_panels.OBLIGATION_KIND}.{k}" for k in obligation_rules.KINDS]
             + [f"{desk_panels.REQUEST_KIND}.{k}" for k in request_rules.KINDS]
             + [f"purpose.{p}" for p in purposes.AGREEMENT_PURPOSES])
    assert "disposal-certificate" in obligation_rules.KINDS and purposes.MONITORING_EVALUATION in codes[-1]
    missing = [c for c in codes if c not in i18n.catalogue("web", lang)]
    assert not missing, f"web.po ({lang}) lacks {missing}"


def test_the_indonesian_labels_are_the_names_the_rules_use() -> None:
    """The page, the calendar feed, the command line and the PDFs name a kind or a purpose in the same words."""
    for kind, name in obligation_rules.KIND_NAMES.items():
        assert web_text.label("id", desk_panels.OBLIGATION_KIND, kind) == name
    for kind, words in request_rules.KIND_LABELS.items():
        assert web_text.label("id", desk_panels.REQUEST_KIND, kind) == words
    for code, title in purposes.TITLES_ID.items():
        assert web_text.label("id", "purpose", code) == title
    assert web_text.label("id", "purpose", purposes.MONITORING_EVALUATION) == (
        "Monitoring dan evaluasi Perjanjian Kerja Sama (Pasal 7), agregat saja")
    assert web_text.label("en", desk_panels.OBLIGATION_KIND, "disposal-certificate") == (
        "Certificate of data disposal (berita acara pemusnahan)")


def test_the_desk_panels_name_each_kind_in_the_reader_s_language() -> None:
    today = date(2026, 12, 4)
    obligation = {"id": "ob-1", "kind": "disposal-certificate", "party": "kemnaker", "title": "BAP <serah terima>",
                  "article": "Pasal 12 ayat (3)", "due_date": today + timedelta(days=3)}
    at = datetime(2026, 12, 4, 3, tzinfo=UTC)
    request = {"request_id": "sr-1", "kind": "erase", "office": "Disnaker Kota Bandung", "received_at": at,
               "due_at": at + timedelta(hours=72), "hours_left": 70.5, "overdue": False, "routed_to_org": "kemenkopmk"}
    desk = desk_panels.Desk(today=today, obligations=[(obligation, "due-soon")], incidents=[], requests=[request])
    id_html = desk_panels.obligations_panel(desk, "id", web_text.t) + desk_panels.requests_panel(desk, "id", web_text.t)
    en_html = desk_panels.obligations_panel(desk, "en", web_text.t) + desk_panels.requests_panel(desk, "en", web_text.t)
    assert '<th scope="row">Berita acara pemusnahan data<br>' in id_html
    assert "<td>penghapusan data pribadi</td>" in id_html
    assert '<th scope="row">Certificate of data disposal (berita acara pemusnahan)<br>' in en_html
    assert "<td>erasure of personal data</td>" in en_html and "Pasal" not in en_html
    assert "BAP &lt;serah terima&gt;" in id_html  # the obligation's own title, escaped
    unknown = desk_panels.Desk(today=today, obligations=[({**obligation, "kind": "new-kind"}, "open")], incidents=[],
                               requests=[{**request, "kind": "object"}])
    html = desk_panels.obligations_panel(unknown, "en", web_text.t) + desk_panels.requests_panel(unknown, "en",
                                                                                                web_text.t)
    assert '<th scope="row">new-kind<br>' in html and "<td>object</td>" in html  # a kind with no label: its code
