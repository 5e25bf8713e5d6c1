"""The compliance web page (/ui) end to end in headless Chromium: the audit API runs for real (uvicorn
on a loopback port, SQLite, relay off) over a log appended through the audit inbox and handler, with a
signed checkpoint and a recorded full verification; Playwright drives Debian's `chromium`.

Covered: sign-in with a bearer token (and its CSRF token), search and filters, an entry whose inclusion proof the page
checks against the signed checkpoint, the integrity status, Indonesian/English, a subject lookup by
NIK that never puts the NIK in a URL, refusal of a wrong role and of a bad token.
The page needs no JavaScript, so the browser runs with JavaScript off.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import playwright.sync_api as playwright_sync
import pytest

from p3ke_audit.service_layer.verification import record, verify_log
from p3ke_platform.api import create_app
from p3ke_platform.auth import DevIssuer
from p3ke_platform.service import Runtime
from tests.integration.audit.helpers import access, audit_runtime, deliver, nik
from tests.threaded_server import ThreadedServer

CHROMIUM = os.environ.get("P3KE_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ENTRIES = 20  # event i: actor ACTORS[i % 3], at T0 + i minutes, data subject nik(i % 4); plus one refusal


@pytest.fixture(autouse=True, scope="module")
def _chromium_installed() -> None:
    """A missing browser is a failed setup, not a reason to skip: .ci/run installs Debian's chromium."""
    assert Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM}: apt-get install chromium (.ci/run does)"


class Server(ThreadedServer):
    """The audit app under uvicorn in a background thread, on a free loopback port."""

    def __init__(self, runtime: Runtime, port: int | None = None) -> None:
        super().__init__(create_app(runtime), port=port, name=f"{runtime.spec.name}-api")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("audit-web")
    runtime = audit_runtime(f"sqlite:///{data / 'audit.db'}", data)
    events = [access(i, niks=[nik(i % 4)]) for i in range(ENTRIES)]
    events.append(access(ENTRIES, outcome="denied", reason="agreement expired"))
    assert deliver(runtime, events, batch=7) == []  # through the inbox and the audit handler
    runtime.context.issue_checkpoint()
    s = runtime.context.signer
    report = verify_log(runtime.engine, s.name, s.public_key)
    assert report.ok, report.summary()
    record(runtime.engine, report)
    issuer = DevIssuer(runtime.settings)
    with Server(runtime) as server:
        yield {"url": server.url, "runtime": runtime, "data": data,
               "auditor": issuer.mint("dpo-1", "kemnaker", ["compliance-auditor"]),
               "officer": issuer.mint("officer-1", "kemnaker", ["program-officer"])}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def visit(browser: Any, site: dict[str, Any]) -> Iterator[tuple[Any, list[str]]]:
    """A fresh browser context (no cookies) with JavaScript off; yields the page and every URL it requested."""
    context = browser.new_context(base_url=site["url"], java_script_enabled=False, locale="id-ID")
    page = context.new_page()
    page.set_default_timeout(15_000)
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    try:
        yield page, urls
    finally:
        context.close()


def sign_in(page: Any, token: str) -> Any:
    page.goto("/ui")
    page.get_by_label("Token akses (bearer)").fill(token)
    with page.expect_navigation() as navigation:
        page.locator("form[action^='/ui/login']").get_by_role("button").click()
    return navigation.value


def result_rows(page: Any) -> Any:
    return page.locator("main [aria-live] table tbody tr")


def test_search_open_an_entry_with_its_proof_integrity_and_language(visit: Any, site: dict[str, Any],
                                                                    tmp_path: Path) -> None:
    page, _urls = visit
    landing = sign_in(page, site["auditor"])
    assert landing.status == 200 and page.locator("html").get_attribute("lang") == "id"
    assert page.get_by_role("heading", name="Cari entri").is_visible()

    # integrity status: the signed checkpoint over the whole log and the recorded full verification
    integrity = page.locator("section[aria-labelledby='integrity']")
    assert integrity.get_by_role("heading", name="Status integritas").is_visible()
    assert f"Jumlah entri: {ENTRIES + 1}" in integrity.inner_text()
    assert f"Checkpoint terakhir: {ENTRIES + 1}" in integrity.inner_text()
    assert integrity.locator("pre").inner_text().startswith(f"{site['runtime'].settings.audit_origin}\n{ENTRIES + 1}\n")
    assert integrity.locator(".ok").inner_text() == "Utuh"

    # filter: refused attempts only
    page.get_by_label("Hasil", exact=True).select_option("denied")
    page.locator("form.grid").get_by_role("button").click()
    assert result_rows(page).count() == 1 and "Ditolak" in result_rows(page).inner_text()
    assert "outcome=denied" in page.url

    # filter: an actor within a time range (Jakarta time in the datetime-local fields; T0 = 10:00 WIB)
    page.get_by_label("Hasil", exact=True).select_option("")
    page.get_by_label("Akun pelaku").fill("officer-1")
    page.get_by_label("Sejak").fill("2026-03-02T10:05")
    page.get_by_label("Sampai").fill("2026-03-02T10:10")
    page.locator("form.grid").get_by_role("button").click()
    assert result_rows(page).count() == 2  # events 6 and 9 (officer-1 is every third actor)
    assert page.get_by_label("Akun pelaku").input_value() == "officer-1"  # the form keeps the filters
    links = [a.inner_text() for a in result_rows(page).locator("a").all()]
    assert links == ["#6", "#9"]

    # open an entry: its fields and its inclusion proof, verified against the signed checkpoint
    with page.expect_navigation():
        result_rows(page).get_by_role("link", name="#9").click()
    assert re.search(r"/ui/entries/9\?lang=id$", page.url)
    assert page.get_by_role("heading", name="Entri #9").is_visible()
    verdict = page.locator("p[role=status].ok")
    assert verdict.inner_text() == f"Bukti inklusi sah terhadap checkpoint bertanda tangan ukuran {ENTRIES + 1}."
    assert page.locator("main ol li").count() == 5  # ceil(log2(21)) sibling hashes
    assert page.locator("th[scope=row]", has_text="actor_subject").is_visible()

    # English, and back
    with page.expect_navigation():
        page.get_by_role("link", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", name="Entry #9").is_visible()
    assert page.locator("p[role=status].ok").inner_text() == (
        f"The inclusion proof verifies against the signed checkpoint of size {ENTRIES + 1}.")
    shot = Path(os.environ.get("P3KE_E2E_SCREENSHOTS", tmp_path)) / "audit-entry-en.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    with page.expect_navigation():
        page.get_by_role("link", name="Back to search").click()
    assert page.get_by_role("heading", name="Integrity status").is_visible()
    assert page.locator("section[aria-labelledby='integrity'] .ok").inner_text() == "Intact"
    with page.expect_navigation():
        page.get_by_role("link", name="Bahasa Indonesia").click()
    assert page.locator("html").get_attribute("lang") == "id"
    assert page.get_by_role("heading", name="Status integritas").is_visible()

    # sign out: the cookie is gone, the page asks for a token again
    with page.expect_navigation():
        page.get_by_role("button", name="Keluar").click()
    assert page.get_by_label("Token akses (bearer)").is_visible()


def test_subject_lookup_keeps_the_nik_out_of_every_url(visit: Any, site: dict[str, Any]) -> None:
    page, urls = visit
    sign_in(page, site["auditor"])
    subject = nik(1)
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.post_data or "") if r.method == "POST" else None)
    page.get_by_label("NIK (16 digit)").fill(subject)
    with page.expect_navigation() as navigation:
        page.locator("form[action^='/ui/subject']").get_by_role("button").click()
    assert navigation.value.status == 200
    assert page.get_by_role("table").locator("caption").inner_text().startswith("Jejak subjek data")
    assert [a.inner_text() for a in result_rows(page).locator("a").all()] == ["#1", "#5", "#9", "#13", "#17"]
    assert any(f"nik={subject}" in body for body in posts)  # it did travel, in the POST body
    assert urls and all(subject not in url for url in urls), urls
    assert subject not in page.url and subject not in page.content()
    assert page.get_by_label("NIK (16 digit)").input_value() == ""


def test_a_wrong_role_and_a_bad_token_are_refused(visit: Any, site: dict[str, Any]) -> None:
    page, _urls = visit
    refused = sign_in(page, site["officer"])  # a valid token, but not the compliance-auditor role
    assert refused.status == 403
    assert page.get_by_role("alert").inner_text() == "Hanya untuk peran compliance-auditor."
    assert page.locator("section[aria-labelledby='integrity']").count() == 0
    assert page.locator("table").count() == 0
    response = page.goto("/ui/entries/0")
    assert response.status == 403 and page.locator("table").count() == 0
    with page.expect_navigation():
        page.get_by_role("button", name="Keluar").click()

    page.get_by_label("Token akses (bearer)").fill("not-a-token")
    with page.expect_navigation() as navigation:
        page.locator("form[action^='/ui/login']").get_by_role("button").click()
    assert navigation.value.status == 401
    assert page.get_by_role("alert").inner_text().startswith("Token tidak sah")
