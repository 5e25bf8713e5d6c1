"""The compliance page's search (/ui) in headless Chromium, as an official uses it: the audit API runs for real
(uvicorn on a loopback port, SQLite, relay off) over a log appended through the audit inbox and handler; Playwright
drives Debian's `chromium` with JavaScript off. The browser, the server and sign-in are test_audit_web.py's.

Covered: the filters are choices of the known values (the agreement's organisations and programs, the contract's
actions and outcomes, the roles, the log's resource types) with Indonesian labels (English on request, by `?lang=en`
or by the browser's Accept-Language); times in WIB with the UTC instant on hover; the message when nothing matches;
paging forward and back; the violations of the period; the CSV button downloading the matching entries (formula
cells escaped). And the sign-in form's CSRF protection and the cookies' flags, over plain HTTP and behind a proxy
that forwarded https.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, get_args

import httpx
import pytest

from p3ke_audit.service_layer import queries
from p3ke_audit.service_layer.queries import Filters
from p3ke_platform.agreement import WIB
from p3ke_platform.auth import ROLES, DevIssuer
from p3ke_schemas import ProgramCode
from p3ke_schemas.events import AccessAction
from tests.e2e import test_audit_web as web_e2e
from tests.integration.audit.desk_support import relay_own_records
from tests.integration.audit.helpers import ACTORS, T0, access, audit_runtime, deliver

browser = web_e2e.browser
visit = web_e2e.visit
_chromium_installed = web_e2e._chromium_installed
sign_in = web_e2e.sign_in

ACTIONS = ["read", "export", "download", "match", "query"]
N = 27  # event i: ACTORS[i % 3], action ACTIONS[i % 5], at T0 + i minutes (T0 = 2 March 2026, 10:00 WIB)
DENIED = (4, 11, 19)  # refused, with a reason
ODD_PROGRAM = 23  # a program outside the agreement
FORMULA = 25  # a resource id that starts like a spreadsheet formula
MONTHS_ID = ["Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"]
RANGE = {"since": "2026-03-02T09:00", "until": "2026-03-02T12:00"}  # Jakarta time, as the fields take it


def _event(i: int) -> Any:
    kw: dict[str, Any] = {"action": ACTIONS[i % 5], "record_count": 10 + i}
    if i in DENIED:
        kw |= {"outcome": "denied", "reason": f"rule {i}: outside the role's grants"}
    if i == ODD_PROGRAM:
        kw |= {"program": "bantuan_lain", "action": "export"}
    if i == FORMULA:
        kw |= {"resource_id": "=HYPERLINK(\"http://x\")"}
    return access(i, **kw)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("audit-web-filters")
    runtime = audit_runtime(f"sqlite:///{data / 'audit.db'}", data, rate_limit_per_minute=0)
    assert deliver(runtime, [_event(i) for i in range(N)], batch=9) == []
    runtime.context.issue_checkpoint()
    issuer = DevIssuer(runtime.settings)
    with web_e2e.Server(runtime) as server:
        yield {"url": server.url, "runtime": runtime,
               "auditor": issuer.mint("dpo-1", "kemnaker", ["compliance-auditor"])}


def _rows(page: Any) -> Any:
    return page.locator("section[aria-labelledby='results'] table tbody tr")


def _search(page: Any) -> None:
    with page.expect_navigation():
        page.locator("form.grid").get_by_role("button").click()


def _option_values(page: Any, name: str) -> list[str]:
    return [o.get_attribute("value") for o in page.locator(f"select#{name} option").all()]


def _wib(at: datetime) -> str:
    local = at.astimezone(WIB)
    return f"{local.day} {MONTHS_ID[local.month - 1]} {local.year} {local:%H:%M} WIB"


def test_filters_are_choices_with_indonesian_labels_and_wib_times(visit: Any, site: dict[str, Any],
                                                                  tmp_path: Path) -> None:
    page, _urls = visit
    sign_in(page, site["auditor"])
    # the choices: from the agreement, the event contract, the roles, the log
    assert _option_values(page, "actor_org") == ["", "kemenkopmk", "kemnaker"]
    assert page.locator("select#actor_org option[value=kemnaker]").inner_text() == (
        "Kementerian Ketenagakerjaan (kemnaker)")
    assert _option_values(page, "action") == ["", *get_args(AccessAction)]
    assert _option_values(page, "outcome") == ["", "allowed", "denied"]
    assert page.locator("select#outcome option[value=denied]").inner_text() == "Ditolak (denied)"
    assert _option_values(page, "role") == ["", *ROLES]
    assert {p.value for p in ProgramCode} <= set(_option_values(page, "program"))
    assert page.locator("select#program option[value=padat_karya]").inner_text() == "Program padat karya (padat_karya)"
    assert "extract" in _option_values(page, "resource_type")
    assert page.locator("select#resource_type option[value=extract]").inner_text() == "Ekstrak data (extract)"
    # every option has a label other than its code (the "(semua)" choice aside)
    for name in ("action", "outcome", "role"):
        texts = [o.inner_text() for o in page.locator(f"select#{name} option").all()]
        assert texts[0] == "(semua)" and all(re.fullmatch(r".+ \([a-z-]+\)", t) for t in texts[1:]), texts

    # choose: party 2's refused attempts
    page.get_by_label("Instansi").select_option("kemnaker")
    page.get_by_label("Hasil", exact=True).select_option("denied")
    _search(page)
    assert "actor_org=kemnaker" in page.url and "outcome=denied" in page.url
    assert page.get_by_label("Hasil", exact=True).input_value() == "denied"  # the form keeps the choice
    kemnaker_denied = [i for i in DENIED if ACTORS[i % 3].org == "kemnaker"]
    assert _rows(page).count() == len(kemnaker_denied) == 2
    first = kemnaker_denied[0]
    cells = [c.inner_text() for c in _rows(page).first.locator("td").all()]
    assert cells[0] == f"#{first}"
    assert cells[1] == _wib(T0 + timedelta(minutes=first)) == "2 Mar 2026 10:04 WIB"
    assert cells[3] == "Menelusuri (kueri)" and cells[4] == "Ditolak"  # ACTIONS[4] = query
    assert cells[5].startswith("Ekstrak data: ext-") and cells[6] == "Program padat karya"
    hover = _rows(page).first.locator("time")
    assert hover.get_attribute("datetime") == "2026-03-02T03:04:00Z"
    assert hover.get_attribute("title") == "2026-03-02T03:04:00Z (UTC)"
    assert page.get_by_role("columnheader", name="Waktu (WIB)").count() == 1

    # English on request: the same search, labels and months in English
    with page.expect_navigation():
        page.get_by_role("link", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"
    cells = [c.inner_text() for c in _rows(page).first.locator("td").all()]
    assert cells[3:5] == ["Query", "Denied"] and cells[6] == "Labour-intensive work"
    assert page.locator("select#outcome option[value=denied]").inner_text() == "Denied (denied)"
    shot = Path(os.environ.get("P3KE_E2E_SCREENSHOTS", tmp_path)) / "audit-filters-en.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_the_browser_language_chooses_english(browser: Any, site: dict[str, Any]) -> None:
    context = browser.new_context(base_url=site["url"], java_script_enabled=False, locale="en-GB")
    try:
        page = context.new_page()
        page.goto("/ui")
        assert page.locator("html").get_attribute("lang") == "en"
        page.get_by_label("Access token (bearer)").fill(site["auditor"])
        with page.expect_navigation():
            page.locator("form[action^='/ui/login']").get_by_role("button").click()
        assert page.get_by_role("heading", name="Search entries").is_visible()
        assert page.locator("select#action option[value=download]").inner_text() == "Download (download)"
    finally:
        context.close()


def test_an_empty_search_says_so_and_pages_go_forward_and_back(visit: Any, site: dict[str, Any]) -> None:
    page, _urls = visit
    sign_in(page, site["auditor"])
    page.get_by_label("Akun pelaku").fill("no-such-officer")
    _search(page)
    message = page.locator("#no-match")
    assert message.get_attribute("role") == "status"
    assert message.inner_text().startswith("Tidak ada catatan akses yang cocok dengan filter ini.")
    assert _rows(page).count() == 0 and page.locator("nav.pages").count() == 0

    # every entry, 10 to a page, oldest first
    page.get_by_label("Akun pelaku").fill("")
    page.get_by_label("Baris per halaman").select_option("10")
    _search(page)
    pages = page.get_by_role("navigation", name="Halaman hasil")

    def leaves() -> list[str]:
        return [a.inner_text() for a in _rows(page).locator("td:first-child a").all()]

    assert leaves() == [f"#{i}" for i in range(10)]
    assert pages.get_by_role("link", name="Halaman sebelumnya").count() == 0
    with page.expect_navigation():
        pages.get_by_role("link", name="Halaman berikutnya").click()
    assert leaves() == [f"#{i}" for i in range(10, 20)]
    assert page.get_by_label("Baris per halaman").input_value() == "10"  # the page size is kept
    with page.expect_navigation():
        page.get_by_role("navigation", name="Halaman hasil").get_by_role("link", name="Halaman berikutnya").click()
    assert leaves() == [f"#{i}" for i in range(20, N)]
    pages = page.get_by_role("navigation", name="Halaman hasil")
    assert pages.get_by_role("link", name="Halaman berikutnya").count() == 0  # the last page
    with page.expect_navigation():
        pages.get_by_role("link", name="Halaman sebelumnya").click()
    assert leaves() == [f"#{i}" for i in range(10, 20)]
    with page.expect_navigation():
        page.get_by_role("navigation", name="Halaman hasil").get_by_role("link", name="Halaman sebelumnya").click()
    assert leaves() == [f"#{i}" for i in range(10)]

    # paging keeps the filters: kemenkopmk's entries (every third), 5 to a page
    page.goto("/ui?actor_org=kemenkopmk&limit=5")
    assert leaves() == ["#2", "#5", "#8", "#11", "#14"]
    with page.expect_navigation():
        page.get_by_role("link", name="Halaman berikutnya").click()
    assert "actor_org=kemenkopmk" in page.url and leaves() == ["#17", "#20", "#23", "#26"]
    with page.expect_navigation():
        page.get_by_role("link", name="Halaman sebelumnya").click()
    assert leaves() == ["#2", "#5", "#8", "#11", "#14"]

    # a page address that cannot be read: a precise message, a 4xx
    response = page.goto("/ui?after=abc")
    assert response.status == 422
    assert page.get_by_role("alert").inner_text().startswith("Alamat halaman tidak sah")


def test_the_violations_of_the_period_are_listed(visit: Any, site: dict[str, Any]) -> None:
    page, _urls = visit
    sign_in(page, site["auditor"])
    page.get_by_label("Sejak").fill(RANGE["since"])
    page.get_by_label("Sampai").fill(RANGE["until"])
    _search(page)
    violations = page.locator("section[aria-labelledby='violations']")
    assert violations.get_by_role("heading", name="Pelanggaran dan kejanggalan").is_visible()
    assert "2 Mar 2026 09:00 WIB sampai 2 Mar 2026 12:00 WIB" in violations.locator("p").first.inner_text()
    refused = violations.get_by_role("heading", name=f"Upaya yang ditolak ({len(DENIED)})")
    assert refused.is_visible()
    table = violations.get_by_role("region", name=f"Upaya yang ditolak ({len(DENIED)})")
    assert [a.inner_text() for a in table.locator("tbody td:first-child a").all()] == [f"#{i}" for i in DENIED]
    assert "rule 4: outside the role's grants" in table.locator("tbody tr").first.inner_text()
    outside = violations.get_by_role("region", name="Akses untuk program di luar cakupan PKS (1)")
    assert outside.locator("tbody td:first-child").inner_text() == f"#{ODD_PROGRAM}"
    assert "bantuan_lain" in outside.inner_text()
    assert violations.get_by_role("heading", name=re.compile(r"^Unduhan paket tanpa BAST")).is_visible()

    # a range with none: said so
    page.goto("/ui?since=2026-01-01T00:00&until=2026-01-02T00:00")
    assert page.locator("#v-refused").inner_text() == "Upaya yang ditolak (0)"
    none = page.locator("section[aria-labelledby='violations']").get_by_text("Tidak ada dalam rentang ini.")
    assert none.count() >= 4


def test_the_csv_button_downloads_the_matching_entries(visit: Any, site: dict[str, Any], tmp_path: Path) -> None:
    page, _urls = visit
    sign_in(page, site["auditor"])
    # no time range yet: the page says what the export needs
    page.get_by_label("Instansi").select_option("kemnaker")
    _search(page)
    assert page.get_by_role("link", name="Unduh CSV").count() == 0
    assert page.locator("#csv-help").inner_text().startswith("Untuk mengunduh CSV, isi Sejak dan Sampai")

    page.get_by_label("Sejak").fill(RANGE["since"])
    page.get_by_label("Sampai").fill(RANGE["until"])
    _search(page)
    button = page.get_by_role("link", name="Unduh CSV")
    assert "actor_org=kemnaker" in (button.get_attribute("href") or "")
    with page.expect_download() as download:
        button.click()
    saved = tmp_path / "audit.csv"
    download.value.save_as(saved)
    assert download.value.suggested_filename == "audit-entries.csv"
    rows = list(csv.DictReader(io.StringIO(saved.read_text("utf-8"))))
    expected = [i for i in range(N) if ACTORS[i % 3].org == "kemnaker"]
    assert [int(r["leaf_index"]) for r in rows] == expected
    assert all(r["actor_org"] == "kemnaker" for r in rows)
    formula = next(r for r in rows if int(r["leaf_index"]) == FORMULA)
    assert formula["resource_id"] == "'=HYPERLINK(\"http://x\")"  # escaped: Excel shows it, never runs it

    # the export is itself recorded in the log
    runtime = site["runtime"]
    relay_own_records(runtime)
    with runtime.context.sessions() as session:
        exports = queries.page(session, Filters(resource_id="ui:entries.csv", action="export"), limit=10)
    assert exports and exports[-1]["record_count"] == len(expected) and exports[-1]["actor_subject"] == "dpo-1"


def _cookie(response: httpx.Response, name: str) -> str:
    found = [v for v in response.headers.get_list("set-cookie") if v.startswith(f"{name}=")]
    assert len(found) == 1, response.headers.get_list("set-cookie")
    return found[0]


def _flags(header: str) -> set[str]:
    return {part.strip().lower() for part in header.split(";")[1:]}


def test_the_sign_in_form_needs_its_csrf_token(site: dict[str, Any]) -> None:
    with httpx.Client(base_url=site["url"], timeout=30) as client:
        # no token at all (a form posted from another site): refused, in Indonesian, no session cookie
        refused = client.post("/ui/login", data={"token": site["auditor"]})
        assert refused.status_code == 403
        assert "Permintaan ditolak: formulir ini tidak membawa token keamanan (CSRF) yang sah" in refused.text
        assert all(not v.startswith("p3ke_audit_token=") for v in refused.headers.get_list("set-cookie"))
        english = client.post("/ui/login?lang=en", data={"token": site["auditor"]})
        assert english.status_code == 403 and "Request refused: this form does not carry a valid security" in (
            english.text)
        client.cookies.clear()

        form = client.get("/ui")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token and _cookie(form, "p3ke_audit_csrf").startswith(f"p3ke_audit_csrf={token.group(1)};")
        # the cookie is there but the form's field is another value: refused
        wrong = client.post("/ui/login", data={"token": site["auditor"], "csrf": "x" * 43})
        assert wrong.status_code == 403 and "p3ke_audit_token" not in client.cookies
        # the page's own form: signed in, and a fresh CSRF token for the session
        ok = client.post("/ui/login", data={"token": site["auditor"], "csrf": token.group(1)})
        assert ok.status_code == 303
        assert "p3ke_audit_token" in client.cookies
        assert client.cookies["p3ke_audit_csrf"] != token.group(1)
        # signed in, a POST without the token is still refused (subject lookup, sign-out)
        assert client.post("/ui/subject", data={"nik": "3201000000000001"}).status_code == 403
        assert client.post("/ui/logout", data={"lang": "id"}).status_code == 403
        assert client.get("/ui").status_code == 200  # still signed in


def test_the_cookies_flags(site: dict[str, Any]) -> None:
    def signed_in(headers: dict[str, str]) -> tuple[str, str]:
        """Sign in as a browser would (the cookie sent by hand: a client keeps a Secure cookie off plain HTTP)."""
        with httpx.Client(base_url=site["url"], timeout=30, headers=headers) as client:
            form = client.get("/ui")
            csrf = _cookie(form, "p3ke_audit_csrf")
            token = re.search(r'name="csrf" value="([^"]+)"', form.text)
            assert token
            client.cookies.clear()
            response = client.post("/ui/login", data={"token": site["auditor"], "csrf": token.group(1)},
                                   headers={"Cookie": f"p3ke_audit_csrf={token.group(1)}"})
            assert response.status_code == 303
            return csrf, _cookie(response, "p3ke_audit_token")

    # plain HTTP (a developer's laptop): HttpOnly, SameSite=Strict, scoped to /ui, not Secure (it would be lost)
    csrf, session = signed_in({})
    for header in (csrf, session):
        assert {"httponly", "samesite=strict", "path=/ui"} <= _flags(header) and "secure" not in _flags(header)
    assert "max-age=28800" in _flags(session)
    # behind the ingress, which terminated TLS and forwarded the scheme: Secure too
    csrf, session = signed_in({"X-Forwarded-Proto": "https"})
    for header in (csrf, session):
        assert {"httponly", "samesite=strict", "path=/ui", "secure"} <= _flags(header)

