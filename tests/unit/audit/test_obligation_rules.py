"""The obligations' pure rules: when each is due, its status on a day, its reminders, the evidence it takes;
and the calendar setting that stops start-up when its file is bad."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from p3ke_audit.config import AuditSettings
from p3ke_audit.domain import obligations as rules
from p3ke_platform.settings import ConfigurationError, load_settings
from p3ke_platform.workdays import workday_calendar


@pytest.mark.parametrize(("today", "fulfilled", "expected"), [
    (date(2026, 1, 1), None, "open"),
    (date(2026, 1, 17), None, "open"),  # 15 days before
    (date(2026, 1, 18), None, "due-soon"),  # 14 days before
    (date(2026, 2, 1), None, "due-soon"),  # the due day itself
    (date(2026, 2, 2), None, "overdue"),
    (date(2026, 3, 1), date(2026, 2, 20), "fulfilled"),
])
def test_status_on_a_day(today: date, fulfilled: date | None, expected: str) -> None:
    assert rules.status_on(today, date(2026, 2, 1), fulfilled, 14) == expected


def test_late_is_after_the_due_day() -> None:
    assert not rules.is_late(date(2026, 2, 1), date(2026, 2, 1))
    assert rules.is_late(date(2026, 2, 1), date(2026, 2, 2))
    assert not rules.is_late(date(2026, 2, 1), None)


def test_m_and_e_is_due_each_agreement_year() -> None:
    # the PKS extended to 28 February 2027 (anniversary reading): four years, each due on its anniversary
    found = rules.monitoring_evaluations("pks", "PKS 1 / 2", date(2023, 2, 28), date(2027, 2, 28))
    assert [(o.id, o.start, o.due) for o in found] == [
        ("me-pks-y1", date(2023, 2, 28), date(2024, 2, 28)),
        ("me-pks-y2", date(2024, 2, 28), date(2025, 2, 28)),
        ("me-pks-y3", date(2025, 2, 28), date(2026, 2, 28)),
        ("me-pks-y4", date(2026, 2, 28), date(2027, 2, 28)),
    ]
    assert all(o.party == rules.BOTH and o.article == "Pasal 7" for o in found)
    # the strict reading ends a day earlier: the last year is cut at the last day in force
    strict = rules.monitoring_evaluations("pks", "PKS", date(2023, 2, 28), date(2025, 2, 27))
    assert [o.due for o in strict] == [date(2024, 2, 28), date(2025, 2, 27)]
    assert "dipotong pada hari terakhir berlaku" in strict[-1].due_rule
    # signed on 29 February: the anniversaries fall on 28 February
    leap = rules.monitoring_evaluations("pks", "PKS", date(2024, 2, 29), date(2026, 2, 28))
    assert [o.due for o in leap] == [date(2025, 2, 28), date(2026, 2, 28)]


def test_the_expiry_notice_and_its_reminders() -> None:
    ob = rules.expiry_notice("pks", "PKS 1 / 2", date(2027, 2, 28))
    assert (ob.id, ob.due, ob.article) == ("expiry-pks-20270228", date(2027, 1, 29), "Pasal 8 ayat (2)")
    assert [(r.code, r.on) for r in ob.reminders] == [
        ("reminder-90d", date(2026, 11, 30)), ("reminder-60d", date(2026, 12, 30)), ("reminder-30d", date(2027, 1, 29))]
    due = rules.reminders_due(ob.reminders, date(2026, 12, 31), None)
    assert [r.days_before_end for r in due] == [90, 60]
    assert [r.days_before_end for r in rules.reminders_due(ob.reminders, date(2026, 12, 31), 90)] == [60]
    assert rules.reminders_due(ob.reminders, date(2026, 12, 31), 60) == []
    assert rules.reminders_due(ob.reminders, date(2026, 11, 29), None) == []


def test_notices_counted_in_working_days() -> None:
    calendar = workday_calendar()
    fm = rules.force_majeure_notice("abc", "kemnaker", "pks", date(2026, 3, 20), calendar)
    assert (fm.id, fm.due, fm.party, fm.article) == ("fm-abc", date(2026, 4, 14), "kemnaker", "Pasal 12 ayat (3)")
    lo = rules.liaison_change_notice("x", "kemenkopmk", "pks", date(2026, 5, 4), calendar)
    assert (lo.due, lo.article) == (date(2026, 5, 12), "Pasal 13 ayat (2)")
    # across Kenaikan Yesus Kristus (14 May) and its cuti bersama (15 May)
    assert rules.liaison_change_notice("y", "kemnaker", None, date(2026, 5, 11), calendar).due == date(2026, 5, 21)
    balikan = rules.data_balikan("ho-1", "BAST-1", "pks", "kemnaker", date(2026, 3, 2), 90)
    assert (balikan.id, balikan.due, balikan.party) == ("balikan-ho-1", date(2026, 5, 31), "kemnaker")


def test_the_evidence_each_obligation_takes() -> None:
    assert rules.evidence_problem("monitoring-evaluation", "me-report") is None
    assert rules.evidence_problem("data-balikan", "feedback-batch") is None
    problem = rules.evidence_problem("force-majeure-notice", "me-report")
    assert problem is not None and problem.key == "obligation.wrong_evidence"
    assert problem.render("id").startswith("Kewajiban force-majeure-notice (Pasal 12 ayat (3)) dipenuhi dengan bukti")
    assert problem.render("en").startswith("An obligation of kind force-majeure-notice (Pasal 12 ayat (3)) is "
                                           "fulfilled")
    assert set(rules.EVIDENCE_FOR) == set(rules.KINDS) == set(rules.ARTICLES) == set(rules.KIND_NAMES)


def test_a_bad_calendar_file_stops_start_up(tmp_path: Path) -> None:
    bad = tmp_path / "hari_libur.yaml"
    bad.write_text("schema_version: 1\nadded:\n  - {date: 2026-04-13, kind: libur}\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="P3KE_CALENDAR_FILE") as caught:
        load_settings(AuditSettings, service="audit", calendar_file=bad, data_dir=tmp_path)
    assert "added.0.kind" in str(caught.value)
    good = tmp_path / "ok.yaml"
    good.write_text("schema_version: 1\n", encoding="utf-8")
    assert load_settings(AuditSettings, service="audit", calendar_file=good, data_dir=tmp_path).calendar_file == good


def test_a_disposal_certificate_is_owed_by_party_2_by_delivery_s_deadline() -> None:
    ob = rules.disposal_certificate("ho-1", "001/BAST-P3KE/PK/III/2026", "PKS-003", "kemnaker",
                                             date(2026, 3, 2), date(2026, 4, 1), "purpose-ended")
    assert (ob.id, ob.kind, ob.party, ob.source_type, ob.source_id) == (
        "disposal-ho-1", "disposal-certificate", "kemnaker", "handover", "ho-1")
    assert ob.article == "UU PDP Pasal 43-44; PKS Pasal 8 ayat (3)" and ob.due == date(2026, 4, 1)
    assert "tujuan serah terima berakhir" in ob.due_rule and "2026-04-01" in ob.due_rule
    assert rules.evidence_problem("disposal-certificate", "disposal-certificate") is None
    assert rules.evidence_problem("disposal-certificate", "letter") is None
    assert rules.evidence_problem("disposal-certificate", "feedback-batch") is not None
    assert rules.evidence_problem("data-balikan", "disposal-certificate") is not None
    assert rules.status_on(date(2026, 4, 2), ob.due, None, 7) == "overdue"
