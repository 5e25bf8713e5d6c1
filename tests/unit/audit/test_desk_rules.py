"""The rules of the compliance desk's cases, without I/O: the 3×24-hour clock of incidents (UU PDP Art. 46) and
of data-subject requests (Art. 32), the notices closure requires, routing to party 1, and the setting that says
which violations open an incident."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from p3ke_audit.config import AuditSettings
from p3ke_audit.domain import incidents as inc
from p3ke_audit.domain import subject_requests as dsr
from p3ke_platform.settings import ConfigurationError, load_settings

DISCOVERED = datetime(2026, 3, 19, 16, 30, tzinfo=UTC)  # the eve of Idul Fitri 2026: calendar hours still count


def test_the_incident_clock_is_72_calendar_hours() -> None:
    due = inc.due_at(DISCOVERED)
    assert due == datetime(2026, 3, 22, 16, 30, tzinfo=UTC)  # holidays and weekends do not stop it
    missing = inc.missing_notices(["liaison"])
    assert missing == ["subjects", "authority"]
    assert inc.status_at(closed=False, due=due, missing=missing, now=due - timedelta(seconds=1)) == "open"
    assert inc.status_at(closed=False, due=due, missing=missing, now=due) == "notices-overdue"
    assert inc.status_at(closed=False, due=due, missing=[], now=due + timedelta(days=9)) == "open"
    assert inc.status_at(closed=True, due=due, missing=missing, now=due + timedelta(days=9)) == "closed"
    assert inc.late_notices({"subjects": due + timedelta(minutes=1), "liaison": due}, due) == ["subjects"]


def test_closure_needs_the_notices_and_says_which_are_missing() -> None:
    with pytest.raises(inc.IncidentRuleError) as refused:
        inc.check_closure(closed=False, sent=["subjects"], breach_confirmed=True, summary="ditutup")
    assert refused.value.code == "notices-missing"
    text = str(refused.value)
    assert "Lembaga Pelindungan Data Pribadi, narahubung pihak lain" in text and "subjek data" not in text.split("/")[0]
    assert "the personal-data protection authority, the other party's liaison officer" in text
    inc.check_closure(closed=False, sent=["subjects", "authority", "liaison"], breach_confirmed=True, summary="x")
    # no breach found: the liaison officer must still have been told, and the summary must explain
    with pytest.raises(inc.IncidentRuleError, match="liaison"):
        inc.check_closure(closed=False, sent=[], breach_confirmed=False, summary="x" * 100)
    with pytest.raises(inc.IncidentRuleError) as short:
        inc.check_closure(closed=False, sent=["liaison"], breach_confirmed=False, summary="tidak ada")
    assert short.value.code == "summary-too-short"
    inc.check_closure(closed=False, sent=["liaison"], breach_confirmed=False,
                      summary="Peristiwa palsu ditolak oleh setiap konsumen; tidak ada data yang keluar.")
    with pytest.raises(inc.IncidentRuleError, match="sudah ditutup"):
        inc.check_closure(closed=True, sent=inc.RECIPIENTS, breach_confirmed=True, summary="x")


def test_requests_are_due_in_72_hours_and_party_1_answers_changes_to_the_register() -> None:
    received = datetime(2026, 3, 20, 2, 0, tzinfo=UTC)
    assert {k: dsr.due_at(k, received) - received for k in dsr.KINDS} == {k: timedelta(hours=72) for k in dsr.KINDS}
    assert dsr.routed_to("access", "kemenkopmk") is None
    assert [dsr.routed_to(k, "kemenkopmk") for k in ("correct", "restrict", "erase")] == ["kemenkopmk"] * 3
    with pytest.raises(dsr.RequestRuleError) as other:
        dsr.check_answer(kind="erase", answered=False, routed_org="kemenkopmk", caller_org="kemnaker",
                         outcome="fulfilled", reason=None, response_made=False)
    assert other.value.status == 403 and "PIHAK KESATU" in str(other.value)
    dsr.check_answer(kind="erase", answered=False, routed_org="kemenkopmk", caller_org="kemenkopmk",
                     outcome="fulfilled", reason=None, response_made=False)
    with pytest.raises(dsr.RequestRuleError, match="alasan"):
        dsr.check_answer(kind="access", answered=False, routed_org=None, caller_org="kemnaker", outcome="refused",
                         reason=" ", response_made=False)
    with pytest.raises(dsr.RequestRuleError, match=r"response\.pdf"):
        dsr.check_answer(kind="access", answered=False, routed_org=None, caller_org="kemnaker", outcome="fulfilled",
                         reason=None, response_made=False)
    with pytest.raises(dsr.RequestRuleError, match="lebih dari satu hari"):
        dsr.check_received(received, received, received - timedelta(days=2))
    assert dsr.is_overdue(answered=False, due=received, now=received) and not dsr.is_overdue(
        answered=True, due=received, now=received + timedelta(days=1))


def test_the_violation_kinds_that_open_incidents_are_checked(tmp_path: object) -> None:
    settings = load_settings(AuditSettings, service="audit", env="test", data_dir=tmp_path)
    assert settings.audit_incident_violation_kinds == inc.INCIDENT_VIOLATION_KINDS
    assert "refused" not in settings.audit_incident_violation_kinds
    chosen = load_settings(AuditSettings, service="audit", env="test", data_dir=tmp_path,
                           audit_incident_violation_kinds="refused, unusual_volume")
    assert chosen.audit_incident_violation_kinds == ("refused", "unusual_volume")
    with pytest.raises(ConfigurationError, match="bogus"):
        load_settings(AuditSettings, service="audit", env="test", data_dir=tmp_path,
                      audit_incident_violation_kinds="bogus")
