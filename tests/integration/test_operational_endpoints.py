"""The operational endpoints (p3ke_platform.ops_endpoints, issue #20): the API description (/docs, /redoc,
/openapi.json) and /metrics are public, authenticated or off; Swagger UI's assets come from the app, not a CDN;
behind the ingress (P3KE_FORWARDED_ALLOW_IPS) the caller's address and https come from X-Forwarded-*, and only
from the trusted proxy; the rate limit keys on the token's principal, the address only for anonymous calls.

The apps are real (SQLite, migrated; Kafka unreachable, nothing here needs it); the proxy tests run the real
`python -m p3ke_targeting api` process under uvicorn, with this test in the ingress's place.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from p3ke_platform.api import create_app
from p3ke_platform.auth import DevIssuer
from p3ke_platform.migrations import upgrade
from p3ke_platform.ops_endpoints import DOCS_PATHS, assets_dir
from p3ke_platform.service import Runtime, installed_service
from p3ke_platform.settings import Settings, load_settings
from p3ke_schemas import DataAccess
from tests.integration.helpers.processes import ApiProcess, migrate, service_env

SERVICE = "targeting"
PROTECTED = "/v1/datasets"  # program officers may read it


def make_client(tmp_path: Path, **overrides: Any) -> TestClient:
    spec = installed_service(SERVICE)
    settings = load_settings(service=SERVICE, data_dir=tmp_path, kafka_bootstrap="127.0.0.1:1", env="test",
                             relay_in_api=False, **overrides)
    upgrade(spec, settings)
    client = TestClient(create_app(Runtime(spec, settings)))
    client.issuer = DevIssuer(settings)  # type: ignore[attr-defined]
    return client


def bearer(client: TestClient, role: str, subject: str = "someone", org: str = "kemenkopmk") -> dict[str, str]:
    return {"Authorization": f"Bearer {client.issuer.mint(subject, org, [role])}"}  # type: ignore[attr-defined]


def test_defaults_public_for_development_authenticated_in_production() -> None:
    assert (load_settings().effective_api_docs, load_settings().effective_metrics) == ("public", "public")
    production = Settings.model_construct(env="production")  # the production checks need real keys; not here
    assert (production.effective_api_docs, production.effective_metrics) == ("authenticated", "authenticated")
    chosen = Settings.model_construct(env="production", api_docs="off", metrics="public")
    assert (chosen.effective_api_docs, chosen.effective_metrics) == ("off", "public")


def test_bad_values_stop_start_up_naming_the_setting() -> None:
    from p3ke_platform.settings import ConfigurationError

    with pytest.raises(ConfigurationError, match="P3KE_API_DOCS"):
        load_settings(api_docs="private")
    with pytest.raises(ConfigurationError, match=r"P3KE_FORWARDED_ALLOW_IPS.*ingress-nginx"):
        load_settings(forwarded_allow_ips="10.244.0.0/16, ingress-nginx")
    assert load_settings(forwarded_allow_ips=" 10.244.0.0/16 ,::1").forwarded_allow_ips == "10.244.0.0/16,::1"


def test_public_docs_are_served_from_the_package_not_a_cdn(tmp_path: Path) -> None:
    client = make_client(tmp_path)
    page = client.get("/docs")
    assert page.status_code == 200
    assert '<script src="/docs/assets/swagger-ui-bundle.js">' in page.text
    assert 'href="/docs/assets/swagger-ui.css"' in page.text
    redoc = client.get("/redoc")
    assert redoc.status_code == 200 and '<script src="/docs/assets/redoc.standalone.js">' in redoc.text
    for html in (page.text, redoc.text):
        assert "cdn." not in html and "fonts.googleapis" not in html and "https://" not in html
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png"):
        asset = client.get(f"/docs/assets/{name}")
        assert asset.status_code == 200, name
        assert asset.content == (assets_dir() / name).read_bytes()
    assert PROTECTED in client.get("/openapi.json").json()["paths"]
    assert "p3ke_http_requests_total" in client.get("/metrics").text


def test_off_removes_the_routes(tmp_path: Path) -> None:
    client = make_client(tmp_path, api_docs="off", metrics="off")
    for path in (*DOCS_PATHS, "/docs/assets/swagger-ui-bundle.js", "/metrics"):
        assert client.get(path, headers=bearer(client, "operator")).status_code == 404, path
    assert client.get("/healthz").status_code == 200  # the probes stay


def _denials(client: TestClient) -> list[DataAccess]:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    outbox = runtime.spec.tables.outbox
    with runtime.engine.connect() as conn:
        events = [DataAccess.model_validate_json(v) for v in conn.execute(
            select(outbox.c.value).where(outbox.c.event_type == "p3ke.data-access.v1")).scalars()]
    return [e for e in events if e.outcome == "denied"]


def test_authenticated_docs_and_metrics(tmp_path: Path) -> None:
    client = make_client(tmp_path, api_docs="authenticated", metrics="authenticated")
    for path in (*DOCS_PATHS, "/metrics"):
        anonymous = client.get(path)
        assert anonymous.status_code == 401, path
        assert anonymous.headers["www-authenticate"] == 'Bearer realm="p3ke"'
        assert anonymous.headers["content-language"] == "id"
        assert "hanya untuk" in anonymous.json()["detail"] and "Authorization: Bearer" in anonymous.json()["detail"]
        english = client.get(path, headers={"Accept-Language": "en-US,en;q=0.9"})
        assert english.status_code == 401 and "signed-in" in english.json()["detail"], path
        forged = client.get(path, headers={"Authorization": "Bearer not.a.token"})
        assert forged.status_code == 401 and "error=\"invalid_token\"" in forged.headers["www-authenticate"]
        assert forged.json()["detail"].startswith("Token bearer tidak sah atau sudah kedaluwarsa")

    steward = bearer(client, "data-steward", "steward-7")
    for path in (*DOCS_PATHS, "/metrics"):
        refused = client.get(path, headers=steward)
        assert refused.status_code == 403, path
        assert "Diperlukan salah satu peran" in refused.json()["detail"]
    assert "service-account" in client.get("/metrics", headers=steward).json()["detail"]
    denials = _denials(client)  # each refusal by role is audited, like any other
    assert len(denials) == len(DOCS_PATHS) + 2
    assert {(d.actor.subject, d.resource_id) for d in denials} >= {("steward-7", "GET /docs"),
                                                                     ("steward-7", "GET /metrics")}

    auditor = bearer(client, "compliance-auditor", org="kemnaker")
    assert client.get("/metrics", headers=auditor).status_code == 403  # metrics: operators and monitoring only
    operator = bearer(client, "operator")
    for who in (operator, auditor, bearer(client, "service-account", org="kemnaker")):
        assert PROTECTED in client.get("/openapi.json", headers=who).json()["paths"]
        docs = client.get("/docs", headers=who)
        assert docs.status_code == 200 and docs.headers["cache-control"] == "no-store"
        assert client.get("/redoc", headers=who).status_code == 200
    for who in (operator, bearer(client, "service-account")):
        metrics = client.get("/metrics", headers=who)
        assert metrics.status_code == 200 and "p3ke_http_requests_total" in metrics.text
    # the assets are the library's files, the same for everyone: no token needed
    assert client.get("/docs/assets/swagger-ui.css").status_code == 200


# -- behind the ingress: the real API process under uvicorn, this test in the ingress's place ---------------------
RATE = 4  # requests a minute per caller: far below what the test sends in a minute


@pytest.fixture(scope="module")
def proxy_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("ops-proxy")
    env = service_env(P3KE_ENV="test", P3KE_SERVICE=SERVICE, P3KE_DATA_DIR=str(data))
    migrate("p3ke_targeting", env)
    return data


def api(data: Path, log: Path, forwarded_allow_ips: str) -> ApiProcess:
    return ApiProcess("p3ke_targeting", SERVICE, log, {
        "P3KE_DATA_DIR": str(data), "P3KE_RATE_LIMIT_PER_MINUTE": str(RATE),
        "P3KE_FORWARDED_ALLOW_IPS": forwarded_allow_ips})


@pytest.fixture(scope="module")
def behind_ingress(proxy_data: Path) -> Iterator[ApiProcess]:
    with api(proxy_data, proxy_data / "trusted.log", "127.0.0.1") as process:  # the "ingress" is this test
        yield process


def _issuer(data: Path) -> DevIssuer:
    return DevIssuer(load_settings(service=SERVICE, data_dir=data, env="test"))


def _get(process: ApiProcess, path: str, client_address: str, token: str | None = None,
         proto: str = "http") -> httpx.Response:
    headers = {"X-Forwarded-For": client_address, "X-Forwarded-Proto": proto}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.get(f"{process.url}{path}", headers=headers, timeout=30, follow_redirects=False)


def test_behind_the_ingress_the_scheme_is_https(behind_ingress: ApiProcess) -> None:
    # the slash redirect is built from request.url: it shows the scheme the app sees
    redirect = _get(behind_ingress, "/healthz/", "203.0.113.9", proto="https")
    assert redirect.status_code == 307
    assert redirect.headers["location"].startswith("https://"), redirect.headers["location"]
    plain = _get(behind_ingress, "/healthz/", "203.0.113.9", proto="http")
    assert plain.headers["location"].startswith("http://")


def test_rate_limit_keys_on_the_principal_not_the_ingress_address(behind_ingress: ApiProcess,
                                                                    proxy_data: Path) -> None:
    issuer = _issuer(proxy_data)
    alice = issuer.mint("officer-alice", "kemnaker", ["program-officer"])
    bob = issuer.mint("officer-bob", "kemnaker", ["program-officer"])
    # one principal from two client addresses: one bucket
    statuses = [_get(behind_ingress, PROTECTED, f"203.0.113.{1 + i % 2}", alice).status_code for i in range(RATE)]
    assert statuses == [200] * RATE
    throttled = _get(behind_ingress, PROTECTED, "203.0.113.77", alice)
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) >= 1
    # another principal behind the same proxy and from the same client address: a bucket of its own
    assert [_get(behind_ingress, PROTECTED, "203.0.113.1", bob).status_code for _ in range(RATE)] == [200] * RATE
    assert _get(behind_ingress, PROTECTED, "203.0.113.1", bob).status_code == 429
    # anonymous callers: by the client address the ingress reports, not the ingress's own
    assert {_get(behind_ingress, PROTECTED, "198.51.100.1").status_code for _ in range(RATE)} == {401}
    assert _get(behind_ingress, PROTECTED, "198.51.100.1").status_code == 429
    assert _get(behind_ingress, PROTECTED, "198.51.100.2").status_code == 401


def test_forwarded_headers_from_an_untrusted_peer_are_ignored(proxy_data: Path) -> None:
    with api(proxy_data, proxy_data / "untrusted.log", "192.0.2.10") as process:  # the ingress is elsewhere
        redirect = _get(process, "/healthz/", "203.0.113.9", proto="https")
        assert redirect.status_code == 307 and redirect.headers["location"].startswith("http://")
        # a caller cannot escape its bucket by inventing addresses: all count as this peer (the redirect too)
        statuses = [_get(process, PROTECTED, f"198.51.100.{i}").status_code for i in range(RATE)]
        assert statuses == [401] * (RATE - 1) + [429]
