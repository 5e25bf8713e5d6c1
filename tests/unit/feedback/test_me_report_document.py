"""The M&E report (Art. 7) as an official accepts it, read back with poppler's pdftotext as a reader sees it: an
approval block (who prepared it and who approves it for each party, with name, NIP, date and a signature line),
every status in Indonesian, and the test-document mark whenever the agreement's example records are loaded.

And the README walkthrough's own M&E download (party 2's program officer, no program: the report over every
program) is not flagged `purpose_outside_programs` by the audit's violations view: the exact event the feedback
service records for it is applied to a real audit service and its violations read back."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from p3ke_platform.agreement.purposes import MONITORING_EVALUATION
from p3ke_platform.api import create_app
from p3ke_platform.auth import DevIssuer
from p3ke_schemas import CloudEvent, DataAccess
from tests.integration.audit.helpers import audit_runtime, deliver
from tests.unit.feedback.conftest import World, auth, build_world
from tests.unit.runtime_events import emitted

PDFTOTEXT = shutil.which("pdftotext")
CAPTION = "CONTOH / BUKAN DOKUMEN RESMI: dibuat dari ketentuan contoh"
ENGLISH_STATUSES = ("Active", "Graduated", "Suspended", "Deceased", "enrolled", "completed", "dropped_out",
                    "benefit_paid")


def pages(pdf: bytes, tmp: Path) -> list[str]:
    assert PDFTOTEXT, "pdftotext is not installed (Debian: apt-get install poppler-utils)"
    path = tmp / "monev.pdf"
    path.write_bytes(pdf)
    out = subprocess.run([PDFTOTEXT, "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True, timeout=60,
                         check=True).stdout
    return [" ".join(p.split()) for p in out.split("\f") if p.strip()]


def me_report(client: TestClient, world: World, org: str = "kemnaker", role: str = "program-officer") -> bytes:
    """The M&E report as the walkthrough downloads it: no year, no program."""
    response = client.get("/v1/reports/monitoring-evaluation.pdf", headers=auth(world.runtime, org, role))
    assert response.status_code == 200, response.text
    return response.content


def test_the_report_ends_with_an_approval_block_and_speaks_indonesian(tmp_path: Path, snapshot: Path) -> None:
    world = build_world(tmp_path, snapshot, agreement_include_examples=False)  # the PKS as signed, nothing else
    try:
        with TestClient(create_app(world.runtime)) as client:
            text = " ".join(pages(me_report(client, world), world.tmp))
    finally:
        world.runtime.engine.dispose()
    approval = text[text.index("VIII. Pengesahan"):]
    assert approval.count("Disusun oleh") == 2 and approval.count("Disetujui oleh") == 2
    assert approval.count("NIP:") == 4 and approval.count("Tanggal:") == 4 and approval.count("(tanda tangan)") == 4
    for words in ("PIHAK KESATU", "PIHAK KEDUA", "Kementerian Koordinator Bidang Pembangunan Manusia dan Kebudayaan",
                  "Kementerian Ketenagakerjaan", "Asisten Deputi Jaminan Sosial (pejabat penghubung)",
                  "Kepala Pusat Data dan Teknologi Informasi Ketenagakerjaan (pejabat penghubung)",
                  "Nama: Andie Megantara", "Nama: Ismail Pakaya",
                  "Plt. Kepala Badan Perencanaan dan Pengembangan Ketenagakerjaan"):
        assert words in approval, words
    for label in ("Terdaftar/aktif", "Selesai/lulus", "Putus/keluar", "Manfaat dibayar", "Ditangguhkan",
                  "Meninggal dunia"):
        assert label in text, label
    assert "Selesai/lulus (status DCI 3, lulus)" in text
    assert not [w for w in ENGLISH_STATUSES if f" {w}" in text or f"({w}" in text], text
    assert "M&E" not in text and "Laporan Monev Data P3KE" in text
    assert CAPTION not in text and "CONTOH" not in text  # the signed PKS alone: a real document


def test_under_example_terms_every_page_is_marked(tmp_path: Path, snapshot: Path) -> None:
    world = build_world(tmp_path, snapshot, agreement_include_examples=True)
    try:
        with TestClient(create_app(world.runtime)) as client:
            found = pages(me_report(client, world), world.tmp)
    finally:
        world.runtime.engine.dispose()
    version = world.runtime.context.policy.terms_at(world.runtime.context.clock()).version
    assert len(found) >= 3
    for page in found:
        assert page.startswith(f"{CAPTION} {version}"), page[:200]
        assert "EXAMPLE / NOT AN OFFICIAL DOCUMENT: made from the example terms" in page


def _recorded(world: World) -> CloudEvent:
    [data] = [e for e in emitted(world.runtime, "p3ke.data-access.v1") if e["resource_type"] == "feedback-me-report"]
    access = DataAccess.model_validate(data)
    return CloudEvent.of(access, source="urn:p3ke:service:feedback", time=access.occurred_at)


def _violations(tmp: Path, events: list[CloudEvent]) -> dict[str, Any]:
    runtime = audit_runtime(f"sqlite:///{tmp / 'audit.db'}", tmp / "audit")
    try:
        assert deliver(runtime, events) == []
        at = min(e.data.occurred_at for e in events)  # type: ignore[union-attr]
        token = DevIssuer(runtime.settings).mint("auditor-1", "kemenkopmk", ["compliance-auditor"])
        params = {"since": (at - timedelta(days=1)).isoformat(), "until": (at + timedelta(days=1)).isoformat()}
        with TestClient(create_app(runtime)) as client:
            found = client.get("/v1/violations", params=params, headers={"Authorization": f"Bearer {token}"})
        assert found.status_code == 200, found.text
        return found.json()
    finally:
        runtime.engine.dispose()


def test_the_walkthroughs_me_download_is_no_violation(client: TestClient, world: World, tmp_path: Path) -> None:
    me_report(client, world)  # as README step 6: party 2's program officer, every program
    recorded = _recorded(world)
    data = recorded.data
    assert isinstance(data, DataAccess)
    assert data.actor.org == "kemnaker" and data.program is None and data.purpose == MONITORING_EVALUATION
    # the same download stating no purpose of the agreement is what the rule is there to catch
    other = data.model_copy(update={"access_id": f"{data.access_id}-x", "purpose": "keperluan lain",
                                    "occurred_at": data.occurred_at + timedelta(seconds=1)})
    unexplained = CloudEvent.of(other, source="urn:p3ke:service:feedback", time=other.occurred_at)
    found = _violations(tmp_path, [recorded, unexplained])
    flagged = {e["event_id"] for e in found["purpose_outside_programs"]}
    assert flagged == {unexplained.id}, found["purpose_outside_programs"]


def test_a_one_program_me_download_names_its_program(client: TestClient, world: World) -> None:
    response = client.get("/v1/reports/monitoring-evaluation.pdf", headers=auth(world.runtime),
                          params={"program": "padat_karya", "year": 2026})
    assert response.status_code == 200, response.text
    [data] = [e for e in emitted(world.runtime, "p3ke.data-access.v1") if e["resource_type"] == "feedback-me-report"]
    assert data["program"] == "padat_karya" and data["purpose"] == MONITORING_EVALUATION
    assert isinstance(datetime.fromisoformat(data["occurred_at"]), datetime)
