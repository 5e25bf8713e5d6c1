"""The compliance page's labels and times (p3ke_audit.entrypoints.web_text): every code of the contract an official
filters by has a label in both languages of the `web` catalogue (a new action, outcome, role or event type needs its
web.po entries before it reaches the page), and an instant is shown in WIB with its UTC time on hover."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import get_args

import pytest

from p3ke_audit.entrypoints import web_text
from p3ke_platform import i18n
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
