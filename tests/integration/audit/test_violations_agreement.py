"""The violations view reads the agreement as the policy does (SQLite and PostgreSQL).

- Art. 8(3): after the agreement has ended only its data actions are violations (an extract selected, a BAST
  signature accepted, a package password released, a package downloaded, a planning query); feedback, reports,
  reading a BAST and compliance queries are duties that outlive it.
- Art. 10(2) / 14: a program the parties added lawfully is not `purpose_outside_programs` while its written
  approval is valid; before it, or a program nothing covers, is.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from p3ke_platform.agreement import BUNDLED_DIR
from p3ke_platform.api import create_app
from p3ke_platform.auth import DevIssuer
from p3ke_platform.service import Runtime
from p3ke_schemas import Actor
from tests.integration.audit.helpers import access, audit_runtime, deliver

RANGE = {"since": "2026-03-01T00:00:00+07:00", "until": "2027-03-02T00:00:00+07:00"}
AFTER = datetime(2027, 2, 28, 17, 30, tzinfo=UTC)  # 1 Mar 2027 WIB: the example addendum ended the day before
OFFICER = Actor(org="kemnaker", subject="officer-1", roles=["program-officer"])
SIGNATORY = Actor(org="kemnaker", subject="kabarenbang-account", roles=["signatory"])


def violations(runtime: Runtime) -> dict[str, Any]:
    client = TestClient(create_app(runtime))
    token = DevIssuer(runtime.settings).mint("dpo-1", "kemnaker", ["compliance-auditor"])
    found = client.get("/v1/violations", params=RANGE, headers={"Authorization": f"Bearer {token}"})
    assert found.status_code == 200, found.text
    return found.json()


def test_after_the_agreement_ends_every_data_action_and_only_those_is_a_violation(database_url: str,
                                                                                  tmp_path: Path) -> None:
    runtime = audit_runtime(database_url, tmp_path, agreement_dir=None)
    forbidden = {
        "select": access(1, action="select", resource_type="extract", at=AFTER),
        "sign-bast": access(2, action="upload", resource_type="bast", resource_id="ho-9", actor=SIGNATORY, at=AFTER),
        "release-key": access(3, action="release-key", resource_type="package-password", resource_id="ho-9",
                              at=AFTER),
        "download": access(4, action="download", resource_type="package", resource_id="ho-9", at=AFTER),
        "planning": access(5, action="query", resource_type="dataset-version", resource_id="dv-1", at=AFTER),
        "plan": access(6, action="query", resource_type="plan", resource_id="dv-1", at=AFTER),
    }
    outliving = [
        access(10, action="match", resource_type="feedback-batch", resource_id="fb-1", at=AFTER),
        access(11, action="read", resource_type="feedback-batch", resource_id="fb-1", at=AFTER),
        access(12, action="read", resource_type="feedback-findings", resource_id="fb-1", at=AFTER),
        access(13, action="export", resource_type="feedback-findings", resource_id="fb-1", at=AFTER),
        access(14, action="export", resource_type="feedback-report-publication", resource_id="rp-1", at=AFTER),
        access(15, action="upload", resource_type="feedback-batch", resource_id="fb-2", at=AFTER),
        access(16, action="query", resource_type="feedback-batch", resource_id="list", at=AFTER),
        access(17, action="read", resource_type="bast", resource_id="ho-9", at=AFTER),
        access(18, action="query", resource_type="audit-log", resource_id="/v1/entries", at=AFTER),
        # on the last day (28 Feb 2027 WIB) every data action was still allowed
        access(19, action="upload", resource_type="bast", resource_id="ho-8", actor=SIGNATORY,
               at=AFTER - timedelta(hours=1)),
        access(20, action="select", resource_type="extract", at=AFTER - timedelta(hours=1)),
        # refused after the end: a refusal, not an access outside the agreement
        access(21, action="release-key", resource_type="package-password", outcome="denied", at=AFTER),
    ]
    assert deliver(runtime, [*forbidden.values(), *outliving], batch=7) == []
    found = violations(runtime)
    assert {e["event_id"] for e in found["outside_agreement_validity"]} == {e.id for e in forbidden.values()}


APPROVAL = """
kind: written-approval
schema_version: 1
id: appr-bsu-2026
agreement_id: pks-p3ke-2023
document: B-77/DEP.1/KEMENKO/PMK/05/2026
dated: 2026-05-20
granted_by: kemenkopmk
granted_to: kemnaker
program: bantuan_subsidi_upah
fields: [nik, nama, desil_kesejahteraan]
purpose: bsu_2026
purpose_title_id: Penyaluran bantuan subsidi upah 2026
eligibility:
  summary: pekerja berupah rendah / low-wage workers
  age: {min: 18, max: 60}
valid_from: 2026-06-01
last_day: 2026-12-31
"""


def test_a_program_added_by_written_approval_is_not_outside_the_programs(database_url: str, tmp_path: Path) -> None:
    terms = tmp_path / "agreement"
    terms.mkdir()
    for name in ("pks-p3ke-2023.yaml", "example-addendum-extension.yaml"):
        shutil.copy(BUNDLED_DIR / name, terms / name)
    (terms / "approval-bsu.yaml").write_text(APPROVAL, encoding="utf-8")
    runtime = audit_runtime(database_url, tmp_path, agreement_dir=terms)
    july = datetime(2026, 7, 1, 3, 0, tzinfo=UTC)
    lawful = [
        access(1, action="select", program="bantuan_subsidi_upah", actor=OFFICER, at=july),
        access(2, action="download", resource_type="package", program="bantuan_subsidi_upah", actor=OFFICER,
               at=datetime(2026, 12, 31, 16, 0, tzinfo=UTC)),  # 31 Dec 2026 23:00 WIB: the approval's last day
        access(3, action="read", program="padat_karya", actor=OFFICER, at=july),
    ]
    flagged = [
        access(4, action="select", program="bantuan_subsidi_upah", actor=OFFICER,
               at=datetime(2026, 5, 31, 16, 59, tzinfo=UTC)),  # 31 May 2026 23:59 WIB: the day before
        access(5, action="download", resource_type="package", program="bantuan_subsidi_upah", actor=OFFICER,
               at=datetime(2026, 12, 31, 17, 0, tzinfo=UTC)),  # 1 Jan 2027 WIB: the approval has ended
        access(6, action="read", program="bantuan_lain", actor=OFFICER, at=july),
        access(7, action="export", program=None, actor=OFFICER, at=july),
    ]
    assert deliver(runtime, [*lawful, *flagged], batch=7) == []
    found = violations(runtime)
    assert {e["event_id"] for e in found["purpose_outside_programs"]} == {e.id for e in flagged}
