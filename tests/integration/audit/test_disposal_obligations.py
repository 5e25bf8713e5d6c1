"""Party 2's disposal certificate on the obligations desk, over a real database: delivery's `disposal-status-changed`
(due) starts the obligation with delivery's deadline, the clock makes it overdue, `certified` fulfils it (late) with
the signed certificate's number and SHA-256; a certificate that came before anything was due starts and fulfils it
at once; a repeated event changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from p3ke_audit.service_layer import obligations
from p3ke_platform.api import create_app
from p3ke_platform.auth import DevIssuer
from p3ke_platform.service import Runtime
from p3ke_schemas import CloudEvent, DisposalStatusChanged, Signer
from tests.integration.audit.helpers import audit_runtime, deliver, verify


def _event(handover_id: str, status: str, at: datetime, *, due_since: datetime | None = None,
           days: int = 30) -> CloudEvent:
    signed = status == "certified"
    data = DisposalStatusChanged(
        handover_id=handover_id, bast_number=f"BAST-{handover_id}", agreement_id="PKS-003", program="padat_karya",
        status=status, due_reason="purpose-ended" if due_since else None, due_since=due_since,
        due_by=due_since + timedelta(days=days) if due_since else None,
        certificate_number=f"001/BAP-P3KE/PK/{handover_id}" if signed else None,
        certificate_sha256="ab" * 32 if signed else None, issued_sha256="cd" * 32 if signed else None,
        signer=Signer(party=2, org="kemnaker", signatory_id="sig-kemnaker-kabarenbang", certificate_sha256="ef" * 32,
                      signed_at=at) if signed else None,
        destroyed_at=at - timedelta(days=1) if signed else None, occurred_at=at)
    return CloudEvent.of(data, source="urn:p3ke:service:delivery", time=at)


class Desk:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.now = [datetime(2026, 3, 2, 3, tzinfo=UTC)]
        runtime.context.clock = lambda: self.now[0]
        self.client = TestClient(create_app(runtime))
        self.issuer = DevIssuer(runtime.settings)

    def get(self, obligation_id: str) -> dict[str, Any]:
        token = self.issuer.mint("auditor", "kemenkopmk", ["compliance-auditor"])
        got = self.client.get(f"/v1/obligations/{obligation_id}", headers={"Authorization": f"Bearer {token}"})
        assert got.status_code == 200, got.text
        return got.json()


@pytest.fixture
def desk(database_url: str, tmp_path: Path) -> Iterator[Desk]:
    runtime = audit_runtime(database_url, tmp_path, agreement_dir=None, rate_limit_per_minute=0)
    yield Desk(runtime)
    runtime.engine.dispose()


def test_due_then_overdue_then_certified(desk: Desk) -> None:
    ended = datetime(2026, 3, 2, 3, tzinfo=UTC)
    due = _event("ho-d1", "due", ended, due_since=ended)
    assert deliver(desk.runtime, [due, due]) == []  # a redelivery changes nothing
    ob = desk.get("disposal-ho-d1")
    assert (ob["kind"], ob["party"], ob["start_date"], ob["due_date"], ob["status"]) == (
        "disposal-certificate", "kemnaker", "2026-03-02", "2026-04-01", "open")
    assert ob["article"] == "UU PDP Pasal 43-44; PKS Pasal 8 ayat (3)"
    assert "Berita acara pemusnahan" in ob["title"] and "BAST-ho-d1" in ob["title"]

    desk.now[0] = datetime(2026, 4, 3, 3, tzinfo=UTC)
    obligations.sweep(desk.runtime.context)
    assert desk.get("disposal-ho-d1")["status"] == "overdue"

    certified = _event("ho-d1", "certified", desk.now[0], due_since=ended)
    assert deliver(desk.runtime, [certified]) == []
    ob = desk.get("disposal-ho-d1")
    assert ob["status"] == "fulfilled"
    assert ob["fulfilment"]["evidence"] == "disposal-certificate"
    assert ob["fulfilment"]["reference"] == "001/BAP-P3KE/PK/ho-d1" and ob["fulfilment"]["document_sha256"] == "ab" * 32
    assert ob["fulfilment"]["late"] is True and ob["fulfilment"]["on"] == "2026-04-03"
    assert verify(desk.runtime).ok


def test_a_certificate_before_anything_was_due(desk: Desk) -> None:
    at = datetime(2026, 3, 5, 3, tzinfo=UTC)
    assert deliver(desk.runtime, [_event("ho-d2", "certified", at)]) == []
    ob = desk.get("disposal-ho-d2")
    assert (ob["start_date"], ob["due_date"], ob["status"]) == ("2026-03-05", "2026-03-05", "fulfilled")
    assert ob["fulfilment"]["late"] is False
    assert date.fromisoformat(ob["fulfilment"]["on"]) == date(2026, 3, 5)
