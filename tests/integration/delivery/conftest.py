"""A delivery service on a real database (SQLite and PostgreSQL), driven through its HTTP API."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from p3ke_delivery.adapters.signing import sign_bast
from p3ke_delivery.bootstrap import SERVICE
from p3ke_delivery.config import DeliverySettings
from p3ke_delivery.service_layer.context import DeliveryContext
from p3ke_delivery.service_layer.preparation import Preparer
from p3ke_platform.api import create_app
from p3ke_platform.auth import DevIssuer
from p3ke_platform.messaging.inbox import Delivered
from p3ke_platform.migrations import upgrade
from p3ke_platform.service import Runtime
from p3ke_platform.settings import load_settings
from tests.integration.helpers.agreement_terms import far_agreement_dir
from tests.unit.delivery.support import extract_event, make_dev_ca, signer, synthetic_extract

WHO = {
    "officer": ("kemnaker", "program-officer", "officer-1"),
    "officer-2": ("kemnaker", "program-officer", "officer-2"),
    "officer-3": ("kemnaker", "program-officer", "officer-3"),
    "signatory-1": ("kemenkopmk", "signatory", "deputi-account"),
    "signatory-2": ("kemnaker", "signatory", "kabarenbang-account"),
    "steward-1": ("kemenkopmk", "data-steward", "steward-1"),
    "auditor-2": ("kemnaker", "compliance-auditor", "auditor-2"),
}


@dataclass
class Harness:
    runtime: Runtime
    client: TestClient
    issuer: DevIssuer
    data: Path
    ca: Path
    extracts: dict[str, tuple[Path, str, int]] = field(default_factory=dict)

    @property
    def ctx(self) -> DeliveryContext:
        context: DeliveryContext = self.runtime.context
        return context

    def headers(self, who: str) -> dict[str, str]:
        org, role, subject = WHO[who]
        return {"Authorization": f"Bearer {self.issuer.mint(subject, org, [role])}"}

    def open_handover(self, rows: int = 200, fmt: str = "parquet", prepare: bool = True, **asked: Any) -> str:
        """A handover of a synthetic extract; `asked` goes to extract-prepared (requester, recipient...)."""
        path, sha = synthetic_extract(self.data, rows, fmt=fmt)
        event = extract_event(path, sha, rows, **asked)
        rejected = self.runtime.inbox("test").apply_batch(
            [Delivered("p3ke.extract-prepared.v1", 0, 0, event)])
        assert rejected == []
        handovers = self.runtime.spec.metadata.tables["handovers"]
        with self.runtime.engine.connect() as conn:
            handover_id = conn.execute(select(handovers.c.handover_id).where(
                handovers.c.request_id == event.data.request_id)).scalar_one()
        self.extracts[handover_id] = (path, sha, rows)
        if prepare:
            Preparer(self.ctx).run_once()
        return handover_id

    def get(self, handover_id: str, who: str = "officer") -> dict[str, Any]:
        response = self.client.get(f"/v1/handovers/{handover_id}", headers=self.headers(who))
        assert response.status_code == 200, response.text
        return response.json()

    def bast(self, handover_id: str, version: str = "current", who: str = "signatory-1") -> bytes:
        response = self.client.get(f"/v1/handovers/{handover_id}/bast", params={"version": version},
                                   headers=self.headers(who))
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/pdf"
        return response.content

    def signed(self, pdf: bytes, signatory_id: str, party: int) -> bytes:
        return sign_bast(pdf, signer(self.ca, signatory_id), party=party)

    def upload(self, handover_id: str, pdf: bytes, who: str) -> Any:
        return self.client.post(f"/v1/handovers/{handover_id}/signatures", content=pdf,
                                headers={**self.headers(who), "Content-Type": "application/pdf"})

    def events(self, event_type: str) -> list[dict[str, Any]]:
        outbox = self.runtime.spec.tables.outbox
        with self.runtime.engine.connect() as conn:
            values = conn.execute(select(outbox.c.value).where(outbox.c.event_type == event_type)
                                  .order_by(outbox.c.seq)).scalars().all()
        return [json.loads(v) for v in values]

    def access(self, handover_id: str, outcome: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.events("p3ke.data-access.v1")
                if e["resource_id"] == handover_id and (outcome is None or e["outcome"] == outcome)]


def make_harness(database_url: str, tmp_path: Path, **overrides: Any) -> Harness:
    """A migrated delivery service with its development CA; `overrides` are settings (e.g. agreement_dir).

    The agreement is the bundled one plus a test addendum that keeps it in force to 2099 (`far_agreement_dir`: the
    terms in force today are unchanged), so that tests on real time do not fail once the example addendum's term
    ends (28 February 2027); a test about that end asks for the bundled records with `agreement_dir=None`."""
    data = tmp_path / "data"
    settings = load_settings(DeliverySettings, **{
        "service": "delivery", "database_url": database_url, "data_dir": data, "env": "test",
        "relay_in_api": False, "delivery_prepare_in_api": False, "agreement_include_examples": True,
        "agreement_dir": far_agreement_dir(tmp_path),
        "kafka_bootstrap": "127.0.0.1:1", "consumer_group": f"test-{uuid.uuid4().hex[:6]}", **overrides})
    upgrade(SERVICE, settings)
    runtime = Runtime(SERVICE, settings)
    make_dev_ca(settings.dev_ca_dir)
    client = TestClient(create_app(runtime))
    return Harness(runtime, client, DevIssuer(settings), data, settings.dev_ca_dir)


@pytest.fixture
def harness(database_url: str, tmp_path: Path) -> Iterator[Harness]:
    h = make_harness(database_url, tmp_path)
    yield h
    h.runtime.engine.dispose()
