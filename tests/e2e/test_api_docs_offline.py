"""The API description pages work in a data centre without internet (issue #20): headless Chromium opens `/docs`
(Swagger UI) and `/redoc` of the real `python -m p3ke_targeting api` process, under a host name that is not
loopback (Swagger UI skips its online validator for localhost only), with every request to anything but the app
refused; both render the operations, and Swagger UI does not even try to reach another host (ReDoc only for its
vendor's logo, an image it leaves out when it does not load)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import playwright.sync_api as playwright_sync
import pytest

from tests.e2e.test_audit_web import CHROMIUM, CHROMIUM_ARGS
from tests.integration.helpers.processes import ApiProcess, migrate, service_env

HOST = "api.p3ke.invalid"  # resolved to the loopback address by Chromium alone
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    assert Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM}: apt-get install chromium (.ci/run does)"
    data = tmp_path_factory.mktemp("docs-offline")
    migrate("p3ke_targeting", service_env(P3KE_ENV="test", P3KE_SERVICE="targeting", P3KE_DATA_DIR=str(data)))
    with ApiProcess("p3ke_targeting", "targeting", data / "api.log", {"P3KE_DATA_DIR": str(data)}) as process:
        yield process


@pytest.fixture
def offline_page(api: ApiProcess) -> Iterator[tuple[Any, list[str]]]:
    """A page whose every request outside the app is aborted (and listed)."""
    origin = f"{HOST}:{urlsplit(api.url).port}"
    blocked: list[str] = []

    def only_the_app(route: Any) -> None:
        url = route.request.url
        if urlsplit(url).netloc == origin or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort("internetdisconnected")

    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {HOST} 127.0.0.1"])
        try:
            context = browser.new_context(base_url=f"http://{origin}")
            context.route("**/*", only_the_app)
            page = context.new_page()
            page.set_default_timeout(30_000)
            yield page, blocked
        finally:
            browser.close()


def test_swagger_ui_renders_the_operations_offline(offline_page: tuple[Any, list[str]]) -> None:
    page, blocked = offline_page
    assert page.goto("/docs").status == 200
    operations = page.locator(".opblock .opblock-summary-path")
    operations.first.wait_for()
    paths = {text.strip().replace("\u200b", "") for text in operations.all_inner_texts()}
    assert {"/v1/datasets", "/v1/plans", "/healthz"} <= paths
    assert page.locator(".swagger-ui .info .title").inner_text().startswith("P3KE Targeting")
    assert blocked == []


def test_redoc_renders_the_operations_offline(offline_page: tuple[Any, list[str]]) -> None:
    page, blocked = offline_page
    assert page.goto("/redoc").status == 200
    page.get_by_role("heading", name="P3KE Targeting").first.wait_for()
    page.get_by_text("/v1/datasets").first.wait_for(state="attached")
    assert set(blocked) <= {REDOC_LOGO}
