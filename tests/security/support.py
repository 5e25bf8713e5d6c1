"""Shared by the security tests: a service's app in-process (SQLite, no broker needed), tokens for
every role of both parties, and the figures `make chaos` collects (P3KE_CHAOS_REPORT_DIR)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from p3ke_platform.api import create_app
from p3ke_platform.auth import ORGS, ROLES, DevIssuer
from p3ke_platform.migrations import upgrade
from p3ke_platform.service import Runtime, ServiceSpec, installed_service
from p3ke_platform.settings import load_settings
from tests.integration.helpers.agreement_terms import far_agreement_dir

SERVICES = ["ingest", "targeting", "delivery", "feedback", "audit", "witness"]


def spec_of(service: str) -> ServiceSpec:
    return installed_service(service)


@dataclass
class App:
    service: str
    runtime: Runtime
    client: TestClient
    issuer: DevIssuer

    def token(self, org: str, role: str, subject: str | None = None) -> str:
        return self.issuer.mint(subject or f"{org}.{role}", org, [role], service_account=role == "service-account")

    def auth(self, org: str, role: str, subject: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(org, role, subject)}"}


def make_app(service: str, data_dir: Path, **overrides: Any) -> App:
    """The service's API over SQLite in `data_dir`; Kafka unreachable (nothing here needs it), the relay,
    background jobs and lifespans off (TestClient is not entered)."""
    spec = spec_of(service)
    options: dict[str, Any] = {"service": service, "data_dir": data_dir, "env": "test", "relay_in_api": False,
                               "kafka_bootstrap": "127.0.0.1:1", "agreement_include_examples": True,
                               # the bundled agreement kept in force to 2099: tests on real time outlive its term
                               # (beside the data directory, whose files some tests count)
                               "agreement_dir": far_agreement_dir(data_dir.parent / f"{data_dir.name}-terms"),
                               **overrides}
    settings = load_settings(spec.settings_class, **options)
    upgrade(spec, settings)
    runtime = Runtime(spec, settings)
    return App(service, runtime, TestClient(create_app(runtime)), DevIssuer(settings))


def principals() -> list[tuple[str, str]]:
    """Every role of both parties."""
    return [(org, role) for org in ORGS for role in ROLES]


def record_figures(name: str, figures: dict[str, Any]) -> None:
    """Merge figures into <P3KE_CHAOS_REPORT_DIR>/<name>.json (read by `make chaos`)."""
    target = os.environ.get("P3KE_CHAOS_REPORT_DIR")
    if not target:
        return
    path = Path(target) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    current = json.loads(path.read_text()) if path.exists() else {}
    current.update(figures)
    path.write_text(json.dumps(current, indent=2, default=str) + "\n")
