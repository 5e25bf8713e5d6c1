"""OWASP API4 (unrestricted resource consumption): request rates, page sizes, time ranges and body
sizes are bounded. Every list endpoint either takes a bounded `limit` or is named below with why not.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from p3ke_platform.api import MAX_JSON_BODY_BYTES, RateLimiter
from p3ke_platform.settings import Settings
from tests.security.support import SERVICES, make_app

# list endpoints without a page bound: each one a finding of the security suite, kept visible here (none left)
KNOWN_UNBOUNDED: dict[tuple[str, str], str] = {}
# arrays bounded another way
BOUNDED_OTHERWISE = {
    ("audit", "/v1/summary/monthly"): "a row per month, party and outcome of a range of at most P3KE_AUDIT_MAX_DAYS",
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_default_rate_limit_is_on_and_generous() -> None:
    settings = Settings()
    assert 600 <= settings.rate_limit_per_minute <= 100_000


def test_requests_beyond_the_rate_get_429_with_retry_after_per_caller(tmp_path: Path) -> None:
    app = make_app("audit", tmp_path, rate_limit_per_minute=5)
    clock = Clock()
    app.client.app.state.rate_limiter = RateLimiter(5, clock=clock)  # type: ignore[attr-defined]
    alice = app.auth("kemnaker", "compliance-auditor", "alice")
    bob = app.auth("kemenkopmk", "compliance-auditor", "bob")
    assert [app.client.get("/v1/public-key", headers=alice).status_code for _ in range(5)] == [200] * 5
    refused = app.client.get("/v1/public-key", headers=alice)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["code"] == "too_many_requests"  # in Indonesian by default, English on request
    assert refused.json()["detail"].startswith("Terlalu banyak permintaan: paling banyak 5 per menit")
    # another token of the same principal shares the bucket; another principal has its own
    assert app.client.get("/v1/public-key", headers=app.auth("kemnaker", "compliance-auditor", "alice")
                          ).status_code == 429
    assert app.client.get("/v1/public-key", headers=bob).status_code == 200
    # callers without a valid token are limited by address, and do not drain anyone else's bucket
    anonymous = [app.client.get("/v1/entries", headers={"Authorization": "Bearer forged"}).status_code
                 for _ in range(6)]
    assert anonymous == [401] * 5 + [429]
    # probes and scrapers are never limited
    assert {app.client.get(p).status_code for p in ("/healthz", "/metrics") for _ in range(10)} == {200}
    # the bucket refills: 5 a minute is one every 12 s
    clock.now += 12.5
    assert app.client.get("/v1/public-key", headers=alice).status_code == 200
    assert app.client.get("/v1/public-key", headers=alice).status_code == 429
    assert "p3ke_http_throttled_total" in app.client.get("/metrics").text


def test_a_rate_limit_of_zero_turns_it_off(tmp_path: Path) -> None:
    app = make_app("feedback", tmp_path, rate_limit_per_minute=0)
    headers = app.auth("kemnaker", "program-officer")
    assert {app.client.get("/v1/handovers", headers=headers).status_code for _ in range(50)} == {200}


def test_the_limiter_forgets_the_oldest_callers_beyond_its_bound() -> None:
    limiter = RateLimiter(1, max_callers=100)
    for i in range(1000):
        limiter.take(f"address:10.0.{i // 250}.{i % 250}")
    assert len(limiter._buckets) == 100


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("limits")
    yield {s: make_app(s, root / s, rate_limit_per_minute=0) for s in SERVICES}


ROLE_FOR = {"ingest": ("kemenkopmk", "data-steward"), "targeting": ("kemnaker", "program-officer"),
            "delivery": ("kemnaker", "program-officer"), "feedback": ("kemnaker", "program-officer"),
            "audit": ("kemnaker", "compliance-auditor"), "witness": ("kemnaker", "compliance-auditor")}


@pytest.mark.parametrize("service", SERVICES)
def test_every_list_endpoint_has_a_bounded_page_or_is_a_known_finding(service: str, apps: dict[str, Any]) -> None:
    app = apps[service]
    headers = app.auth(*ROLE_FOR[service])
    paths = app.client.get("/openapi.json").json()["paths"]
    unbounded = []
    for path, ops in paths.items():
        get = ops.get("get")
        if not get:
            continue
        ok = get.get("responses", {}).get("200", {}).get("content", {}).get("application/json", {}).get("schema", {})
        if ok.get("type") != "array":
            continue
        limit = next((p for p in get.get("parameters", []) if p["name"] == "limit"), None)
        maximum = (limit or {}).get("schema", {}).get("maximum")
        if maximum is None:
            if (service, path) not in BOUNDED_OTHERWISE:
                unbounded.append(path)
            continue
        over = app.client.get(path.replace("{submission_id}", "x"), params={"limit": int(maximum) + 1},
                              headers=headers)
        assert over.status_code == 422, (path, over.status_code, over.text[:300])
        assert "limit" in over.text
    assert {(service, p) for p in unbounded} == {k for k in KNOWN_UNBOUNDED if k[0] == service}


def test_time_ranges_of_aggregates_and_exports_are_bounded(apps: dict[str, Any]) -> None:
    app = apps["audit"]
    headers = app.auth("kemenkopmk", "compliance-auditor")
    max_days = app.runtime.settings.audit_max_days
    until = datetime(2026, 6, 1, tzinfo=UTC)
    for days, expected in ((max_days, 200), (max_days + 1, 422)):
        since = (until - timedelta(days=days)).isoformat()
        for path in ("/v1/entries/export.csv", "/v1/summary/monthly", "/v1/violations"):
            got = app.client.get(path, params={"since": since, "until": until.isoformat()}, headers=headers)
            assert got.status_code == expected, (path, days, got.text[:300])
        bundle = app.client.post("/v1/exports/bundle", json={"since": since, "until": until.isoformat()},
                                 headers=headers)
        assert (bundle.status_code == 422) == (expected == 422), (days, bundle.text[:300])  # 404: no checkpoint
    # and an export needs a range at all
    assert app.client.get("/v1/entries/export.csv", headers=headers).status_code == 422


def test_uploads_are_bounded_declared_or_streamed(tmp_path: Path) -> None:
    ingest = make_app("ingest", tmp_path / "ingest", ingest_max_upload_bytes=1000, rate_limit_per_minute=0)
    headers = {**ingest.auth("kemenkopmk", "data-steward"), "Content-Type": "text/csv"}
    assert ingest.client.post("/v1/uploads", content=b"x" * 1001, headers=headers).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while it streams
        for _ in range(20):
            yield b"y" * 100

    assert ingest.client.post("/v1/uploads", content=chunks(), headers=headers).status_code == 413
    assert ingest.client.post("/v1/uploads", content=b"nik\n1\n", headers=headers).status_code == 201
    assert not [p for p in (tmp_path / "ingest").rglob("*") if p.is_file() and p.stat().st_size > 1000
                and p.suffix not in (".db", ".db-wal", ".db-shm", ".pem")], "nothing over the limit is kept"

    delivery = make_app("delivery", tmp_path / "delivery", delivery_max_upload_bytes=65536, rate_limit_per_minute=0)
    headers = {**delivery.auth("kemnaker", "signatory"), "Content-Type": "application/pdf"}
    got = delivery.client.post(f"/v1/handovers/ho-{uuid.uuid4().hex[:8]}/signatures", content=b"%PDF" + b"0" * 65536,
                               headers=headers)
    assert got.status_code == 413


def test_json_bodies_are_bounded(apps: dict[str, Any]) -> None:
    app = apps["targeting"]
    headers = {**app.auth("kemnaker", "program-officer"), "Content-Type": "application/json"}
    codes = b'"32",' * (MAX_JSON_BODY_BYTES // 5)
    big = b'{"program": "padat_karya", "criteria": {"region_codes": [' + codes + b'"32"]}}'
    too_big = app.client.post("/v1/plans", content=big, headers=headers)
    assert too_big.status_code == 413 and too_big.json()["code"] == "too_large"
    assert too_big.json()["detail"].startswith("Isi JSON permintaan lebih besar dari 8.388.608 byte")
    english = app.client.post("/v1/plans", content=big, headers={**headers, "Accept-Language": "en"})
    assert english.json()["detail"].startswith("The JSON body is larger than 8,388,608 bytes")

    def chunks() -> Iterator[bytes]:
        yield big[: len(big) // 2]
        yield big[len(big) // 2:]

    assert app.client.post("/v1/plans", content=chunks(), headers=headers).status_code == 413
    small = app.client.post("/v1/plans", json={"program": "padat_karya"}, headers=headers)
    assert small.status_code not in (413, 500), small.text
