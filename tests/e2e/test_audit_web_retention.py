"""The retention schedule after the agreement's end (issue #18), on the compliance page in headless Chromium.

Real components over real HTTP: the audit API and the ingest API each run under uvicorn on a loopback port (SQLite,
relay off, one data directory as in `make run`, so the development issuer's tokens are accepted by both); the audit
service is configured with P3KE_AUDIT_RETENTION_SOURCES = ingest's address and a targeting address where nothing
listens. Ingest publishes a version (synthetic data) on 3 June 2024 through its API under an injected clock, and
asks the audit service for the legal holds as its disposal job does (P3KE_LEGAL_HOLDS_URL); an incident opened
through the audit API holds one of the raw uploads.

The agreement's terms are the signed PKS alone (no example extension): its last day in force is 28 February 2025,
so it ends on 1 March 2025 00:00 WIB. On 20 February 2025 the current snapshot (kept until the agreement ends) is
listed as due within 30 days, not yet past due; on 2 March 2025 every artefact of ingest whose rule ends with the
agreement is past due (the current snapshot, the raw uploads, the findings file), in the API's answer and on the
page, the held upload with its incident, and targeting is named as a service that did not answer. Both reads are
recorded in the log. No NIK, no file path on the page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from p3ke_ingest.bootstrap import SERVICE as INGEST
from p3ke_ingest.config import IngestSettings
from p3ke_ingest.synth import generate
from p3ke_platform.auth import DevIssuer
from p3ke_platform.devstack.ports import free_port
from p3ke_platform.migrations import upgrade
from p3ke_platform.retention import agreement_end
from p3ke_platform.service import Runtime
from p3ke_platform.settings import load_settings
from p3ke_schemas import from_kafka
from tests.e2e import test_audit_web as web_e2e
from tests.integration.audit.desk_support import Clock
from tests.integration.audit.helpers import audit_runtime
from tests.integration.ingest.test_retention_inventory import FIRST, _publish

browser = web_e2e.browser
_chromium_installed = web_e2e._chromium_installed
sign_in = web_e2e.sign_in

BEFORE_END = datetime(2025, 2, 20, 3, 0, tzinfo=UTC)  # 10:00 WIB, 9 days before the agreement ends
AFTER_END = datetime(2025, 3, 2, 3, 0, tzinfo=UTC)  # the day after it ended
AGREEMENT_ENDS = datetime(2025, 2, 28, 17, 0, tzinfo=UTC)  # 1 March 2025 00:00 WIB


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("retention-web")
    made = generate(tmp_path_factory.mktemp("retention-web-synth") / "v1", individuals=300, seed=18)
    audit_port, ingest_port, nobody = free_port(), free_port(), free_port()
    assert len({audit_port, ingest_port, nobody}) == 3
    clock = Clock(BEFORE_END)
    audit = audit_runtime(f"sqlite:///{data / 'audit.db'}", data, rate_limit_per_minute=0,
                          audit_retention_sources=f"ingest=http://127.0.0.1:{ingest_port},"
                                                  f"targeting=http://127.0.0.1:{nobody}",
                          audit_retention_source_timeout_s=20)
    audit.context.clock = clock
    settings = load_settings(IngestSettings, service="ingest", database_url=f"sqlite:///{data / 'ingest.db'}",
                             data_dir=data, env="test", relay_in_api=False, jobs_in_api=False,
                             ingest_engine_memory_mb=256, rate_limit_per_minute=0,
                             legal_holds_url=f"http://127.0.0.1:{audit_port}")
    assert not settings.agreement_include_examples  # the signed PKS alone: it ended on 1 March 2025
    upgrade(INGEST, settings)
    ingest = Runtime(INGEST, settings)
    version, uploads, submission = _publish(ingest, (made.individual_path, made.family_path), FIRST)
    ingest.context.clock = clock
    assert agreement_end(ingest.context.policy.agreement) == AGREEMENT_ENDS
    issuer = DevIssuer(audit.settings)
    auditor = issuer.mint("dpo-1", "kemenkopmk", ["compliance-auditor"])
    with web_e2e.Server(audit, audit_port) as audit_server, web_e2e.Server(ingest, ingest_port) as ingest_server:
        r = httpx.post(f"{audit_server.url}/v1/incidents", headers={"Authorization": f"Bearer {auditor}"}, json={
            "title": "Sengketa isi unggahan data P3KE", "resources": [
                {"resource_type": "dataset-upload", "resource_id": uploads[0]}]}, timeout=30)
        assert r.status_code == 201, r.text
        yield {"url": audit_server.url, "ingest_url": ingest_server.url, "audit": audit, "ingest": ingest,
               "clock": clock, "auditor": auditor, "version": version, "uploads": uploads,
               "submission": submission, "incident": r.json()["incident_id"], "issuer": issuer}


def _due(site: dict[str, Any], token: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{site['ingest_url']}/v1/retention/due", params=params,
                     headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _accesses(runtime: Runtime) -> list[dict[str, Any]]:
    """The service's `data-access` records in its outbox (no Kafka here)."""
    outbox = runtime.spec.tables.outbox
    with runtime.engine.connect() as conn:
        rows = conn.execute(select(outbox.c.key, outbox.c.value, outbox.c.headers).order_by(outbox.c.seq)).all()
    events = [from_kafka(r.key.encode(), r.value, [(k, v.encode()) for k, v in json.loads(r.headers)]) for r in rows]
    return [e.data.model_dump(mode="json") for e in events if e.type == "p3ke.data-access.v1"]


def _items(answer: dict[str, Any]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for item in answer["items"]:
        out.setdefault((item["kind"], item["resource_id"]), []).append(item)
    return out


@pytest.fixture
def visit(browser: Any, site: dict[str, Any]) -> Iterator[Any]:
    context = browser.new_context(base_url=site["url"], java_script_enabled=False, locale="id-ID")
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        context.close()


def test_the_api_lists_what_is_due_with_reasons_and_holds_for_auditors_and_operators(site: dict[str, Any]) -> None:
    site["clock"].at = BEFORE_END
    operator = site["issuer"].mint("ops-1", "kemenkopmk", ["operator"])
    r = _due(site, operator)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["service"] == "ingest" and answer["holds_checked"] and answer["holds_problem"] is None
    assert answer["agreement_ends_at"].startswith("2025-02-28T17:00:00")
    items = _items(answer)
    snapshot = items[("current-snapshot", site["version"])]
    assert len(snapshot) == 2  # the individual and the family file
    for s in snapshot:
        assert s["status"] == "upcoming" and s["due_at"].startswith("2025-02-28T17:00:00")
        assert s["ends_with_agreement"] and s["trigger"] == "agreement-ended"
        assert s["reason_id"].startswith("jatuh tempo 2025-03-01: perjanjian berakhir")
        assert s["reason_en"].startswith("due 2025-03-01: the agreement ends")
        assert s["basis_id"] and s["basis_en"] and s["rule_id"] and s["held_by"] == []
    held, free = (items[("raw-upload", u)][0] for u in site["uploads"])
    assert held["status"] == free["status"] == "overdue"  # 30 days after the publication, long past
    assert held["held_by"] == [site["incident"]] and free["held_by"] == [] and answer["held"] == 1
    assert items[("findings", site["submission"])][0]["status"] == "overdue"
    assert answer["overdue"] == 3 and answer["upcoming"] == 2 and answer["artefacts"] == 5
    assert "path" not in json.dumps(answer) and "/" not in "".join(i["resource_id"] for i in answer["items"])

    # only what falls due within the window: on 20 February, 5 days ahead does not reach 1 March
    soon = _due(site, operator, within_days=5).json()
    assert {i["kind"] for i in soon["items"]} == {"raw-upload", "findings"} and soon["artefacts"] == 5
    assert _due(site, operator, limit=1001).status_code == 422

    # other roles are refused, and the refusal says which roles may ask
    steward = site["issuer"].mint("steward-1", "kemenkopmk", ["data-steward"])
    refused = _due(site, steward)
    assert refused.status_code == 403 and "compliance-auditor" in refused.text

    # the read is recorded in ingest's log as a `read` of `retention-due`
    reads = [a for a in _accesses(site["ingest"]) if a["resource_type"] == "retention-due"]
    assert reads and reads[-1]["action"] == "read" and reads[-1]["actor"]["subject"] == "ops-1"


def test_after_the_agreement_ends_everything_whose_basis_was_the_agreement_is_due(site: dict[str, Any]) -> None:
    site["clock"].at = AFTER_END
    answer = _due(site, site["auditor"], within_days=30).json()
    assert answer["artefacts"] == 5 and answer["overdue"] == 5 and answer["upcoming"] == 0
    by_agreement = [i for i in answer["items"] if i["ends_with_agreement"]]
    assert {i["kind"] for i in by_agreement} == {"current-snapshot", "raw-upload", "findings"}
    assert len(by_agreement) == 5 and all(i["status"] == "overdue" for i in by_agreement)


def test_the_compliance_page_lists_what_is_due_and_held_and_names_the_service_that_did_not_answer(
        visit: Any, site: dict[str, Any]) -> None:
    page = visit
    site["clock"].at = BEFORE_END
    sign_in(page, site["auditor"])
    panel = page.locator("section[aria-labelledby='retention']")
    assert panel.get_by_role("heading", level=2).inner_text() == "Jadwal retensi / pemusnahan"
    assert "Perjanjian berakhir 1 Mar 2025 00:00 WIB" in panel.inner_text()
    snapshot = panel.locator(f"tr[data-kind='current-snapshot'][data-resource='{site['version']}']")
    assert snapshot.count() == 2
    assert "Akan jatuh tempo" in snapshot.first.inner_text() and "1 Mar 2025 00:00 WIB" in snapshot.first.inner_text()

    site["clock"].at = AFTER_END
    page.goto("/ui")
    panel = page.locator("section[aria-labelledby='retention']")
    text = panel.inner_text()
    ingest = panel.locator("#ret-ingest-counts").inner_text()
    assert ingest.startswith("5 lewat jatuh tempo, 0 belum jatuh tempo"), ingest
    rows = panel.locator("tr[data-kind]")
    assert rows.count() == 5
    for kind in ("current-snapshot", "raw-upload", "findings"):
        for row in panel.locator(f"tr[data-kind='{kind}']").all():
            assert "Lewat jatuh tempo" in row.inner_text(), kind
    snapshot = panel.locator(f"tr[data-kind='current-snapshot'][data-resource='{site['version']}']").first
    assert "perjanjian berakhir" in snapshot.inner_text() and "snapshot yang berlaku" in snapshot.inner_text()
    held = panel.locator(f"tr[data-resource='{site['uploads'][0]}']")
    assert f"Ditahan: insiden {site['incident']}" in held.inner_text()
    assert "Tidak ditahan" in panel.locator(f"tr[data-resource='{site['uploads'][1]}']").inner_text()
    # the service that did not answer is named, never a silent gap
    assert panel.locator("#ret-unanswered").inner_text().startswith("Layanan yang tidak menjawab: targeting.")
    assert "Layanan targeting tidak menjawab: layanan tidak dapat dihubungi" in \
        panel.locator("#ret-targeting-problem").inner_text()
    html = page.content()
    assert not re.search(r"(?<!\d)\d{16}(?!\d)", html), "no NIK-shaped number on the page"
    assert str(site["ingest"].settings.data_dir) not in html, "no file path on the page"
    assert "Lewat jatuh tempo" in text

    # English on request
    page.goto("/ui?lang=en")
    panel = page.locator("section[aria-labelledby='retention']")
    assert panel.get_by_role("heading", level=2).inner_text() == "Retention / disposal schedule"
    assert "Past due" in panel.inner_text() and "the agreement ends" in panel.inner_text()
    assert "Service targeting did not answer" in panel.inner_text()

    # the page's read is recorded in the audit service's own log
    assert any(a["resource_id"] == "ui:retention" for a in _accesses(site["audit"]))


def test_without_sources_the_panel_says_so(tmp_path: Path) -> None:
    from p3ke_audit.entrypoints.retention_panel import panel

    html = panel([], "id", configured=False)
    assert "P3KE_AUDIT_RETENTION_SOURCES kosong" in html
