"""The M&E of Art. 7 is a purpose of the agreement as a whole: party 2's report over every program (no program,
purpose `monitoring_evaluasi`) is not `purpose_outside_programs`; the same access for any other purpose, or one
that only mentions the code elsewhere, still is (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from p3ke_platform.agreement.purposes import MONITORING_EVALUATION
from p3ke_schemas import Actor
from tests.integration.audit.helpers import access, audit_runtime, deliver
from tests.integration.audit.test_violations_agreement import violations

OFFICER = Actor(org="kemnaker", subject="officer-1", roles=["program-officer"])
JULY = datetime(2026, 7, 1, 3, 0, tzinfo=UTC)


def test_the_me_report_over_every_program_is_no_access_outside_the_programs(database_url: str,
                                                                              tmp_path: Path) -> None:
    runtime = audit_runtime(database_url, tmp_path)
    lawful = [
        access(1, action="export", resource_type="feedback-me-report", resource_id="all", program=None,
               purpose=MONITORING_EVALUATION, actor=OFFICER, at=JULY),
        access(2, action="export", resource_type="feedback-report", resource_id="all", program=None,
               purpose=MONITORING_EVALUATION, actor=OFFICER, at=JULY),
    ]
    flagged = [
        access(3, action="export", resource_type="feedback-me-report", resource_id="all", program=None,
               purpose="monitoring and evaluation (PKS Art. 7), aggregates only", actor=OFFICER, at=JULY),
        access(4, action="export", resource_type="feedback-me-report", resource_id="all", program=None,
               purpose=None, actor=OFFICER, at=JULY),
        access(5, action="read", resource_type="extract", program=None, purpose="monitoring_evaluasi_lain",
               actor=OFFICER, at=JULY),
        access(6, action="read", resource_type="extract", program=None, purpose="lain",
               reason=f'"purpose":"{MONITORING_EVALUATION}"', actor=OFFICER, at=JULY),
        access(7, action="read", resource_type="extract", program=None, purpose="monitoringXevaluasi",
               actor=OFFICER, at=JULY),  # `_` is no wildcard here
    ]
    assert deliver(runtime, [*lawful, *flagged], batch=7) == []
    found = violations(runtime)
    assert {e["event_id"] for e in found["purpose_outside_programs"]} == {e.id for e in flagged}
