"""Each service's API: health, readiness, metrics, OpenAPI, and deny-by-default authentication."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from p3ke_platform.api import create_app
from p3ke_platform.auth import DevIssuer
from p3ke_platform.migrations import upgrade
from p3ke_platform.service import Runtime, installed_service
from p3ke_platform.settings import load_settings
from p3ke_schemas import DataAccess

SERVICES = ["ingest", "targeting", "delivery", "feedback", "audit"]
PROTECTED = {"ingest": "/v1/dataset-versions", "targeting": "/v1/datasets", "delivery": "/v1/handovers",
             "feedback": "/v1/handovers", "audit": "/v1/entries"}
ALLOWED = {"ingest": ("kemenkopmk", "data-steward"), "targeting": ("kemnaker", "program-officer"),
           "delivery": ("kemnaker", "program-officer"), "feedback": ("kemnaker", "program-officer"),
           "audit": ("kemenkopmk", "compliance-auditor")}


@pytest.fixture(params=SERVICES)
def client(request: pytest.FixtureRequest, tmp_path: Path, kafka_bootstrap: str) -> TestClient:
    name = request.param
    spec = installed_service(name)
    settings = load_settings(service=name, data_dir=tmp_path, kafka_bootstrap=kafka_bootstrap, env="test",
                             relay_in_api=False)
    upgrade(spec, settings)
    test_client = TestClient(create_app(Runtime(spec, settings)))
    test_client.service = name  # type: ignore[attr-defined]
    test_client.issuer = DevIssuer(settings)  # type: ignore[attr-defined]
    return test_client


def test_health_readiness_metrics_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert "p3ke_http_requests_total" in client.get("/metrics").text
    paths = client.get("/openapi.json").json()["paths"]
    assert PROTECTED[client.service] in paths  # type: ignore[attr-defined]


def test_deny_by_default(client: TestClient) -> None:
    path = PROTECTED[client.service]  # type: ignore[attr-defined]
    issuer: DevIssuer = client.issuer  # type: ignore[attr-defined]
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer not-a-token"}).status_code == 401
    wrong_role = issuer.mint("x", "kemnaker", ["operator" if client.service == "audit" else "signatory"])  # type: ignore[attr-defined]
    if client.service in ("delivery",):  # type: ignore[attr-defined]
        wrong_role = issuer.mint("x", "kemnaker", ["compliance-auditor"])
    assert client.get(path, headers={"Authorization": f"Bearer {wrong_role}"}).status_code == 403
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    outbox = runtime.spec.tables.outbox
    with runtime.engine.connect() as conn:  # the refusal is audited: a data-access event, outcome denied
        refusals = [DataAccess.model_validate_json(v) for v in conn.execute(
            select(outbox.c.value).where(outbox.c.event_type == "p3ke.data-access.v1")).scalars()]
    assert [(r.outcome, r.actor.subject) for r in refusals if r.outcome == "denied"] == [("denied", "x")]
    org, role = ALLOWED[client.service]  # type: ignore[attr-defined]
    good = issuer.mint("officer-1", org, [role])
    response = client.get(path, headers={"Authorization": f"Bearer {good}"})
    assert response.status_code == 200, response.text
    assert response.json() == []


def test_readiness_reports_a_dead_kafka(tmp_path: Path) -> None:
    spec = installed_service("audit")
    settings = load_settings(service="audit", data_dir=tmp_path, kafka_bootstrap="127.0.0.1:1", env="test",
                             relay_in_api=False)
    upgrade(spec, settings)
    with TestClient(create_app(Runtime(spec, settings))) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["problems"][0].startswith("kafka")
