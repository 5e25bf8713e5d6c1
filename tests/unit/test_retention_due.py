"""When an artefact is due: each starting event, Jakarta day boundaries, calendar months, the agreement's end as
the latest date for artefacts whose basis is the agreement, and the wait for party 2's disposal certificate."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from p3ke_platform.agreement import WIB, load_agreement
from p3ke_platform.retention import (
    DEFAULT_SCHEDULE,
    Kind,
    Rule,
    Trigger,
    add_period,
    agreement_end,
    due_at,
    load_schedule,
    start_of_day,
)

SCHEDULE = load_schedule(DEFAULT_SCHEDULE)


def wib(*args: int) -> datetime:
    return datetime(*args, tzinfo=WIB)  # type: ignore[misc]


def rule(**changes: object) -> Rule:
    base = {"kind": "package", "period": "P30D", "starts": ["package-downloaded"], "owner": "delivery",
            "basis_id": "PKS Pasal 6 ayat (1)", "basis_en": "PKS Art. 6(1) and more"}
    return Rule.model_validate({**base, **changes})


def test_the_period_ends_at_the_start_of_the_jakarta_day_after_the_last_day_kept() -> None:
    due = due_at(rule(), {Trigger.PACKAGE_DOWNLOADED: wib(2026, 3, 1, 10, 0)})
    assert due is not None and due.at == wib(2026, 4, 1) and due.at.tzinfo == UTC
    assert due.trigger is Trigger.PACKAGE_DOWNLOADED and due.started_at == wib(2026, 3, 1, 10, 0)
    # 23:30 WIB on 1 March is 16:30 UTC: still 1 March in Jakarta
    assert due_at(rule(), {Trigger.PACKAGE_DOWNLOADED: datetime(2026, 3, 1, 16, 30, tzinfo=UTC)}).at == wib(2026, 4, 1)
    # 00:30 WIB on 2 March is 17:30 UTC on 1 March: a Jakarta day later
    assert due_at(rule(), {Trigger.PACKAGE_DOWNLOADED: datetime(2026, 3, 1, 17, 30, tzinfo=UTC)}).at == wib(2026, 4, 2)
    # an event at 00:00 WIB exactly: due 30 whole days later
    assert due_at(rule(), {Trigger.PACKAGE_DOWNLOADED: wib(2026, 3, 1)}).at == wib(2026, 3, 31)
    # period 0: the end of the event's own day
    assert due_at(rule(period=0), {Trigger.PACKAGE_DOWNLOADED: wib(2026, 3, 1, 9)}).at == wib(2026, 3, 2)


def test_months_and_years_on_the_calendar() -> None:
    assert add_period(wib(2026, 1, 31, 8), rule(period="P1M").period) == wib(2026, 3, 1)  # kept to 28 February
    assert add_period(wib(2028, 1, 31, 8), rule(period="P1M").period) == wib(2028, 3, 1)  # 29 February (leap)
    assert add_period(wib(2026, 5, 10, 8), rule(period="P1Y2W").period) == wib(2027, 5, 25)
    with pytest.raises(ValueError, match="tanpa zona waktu"):
        add_period(datetime(2026, 1, 1), rule().period)


@pytest.mark.parametrize("trigger", list(Trigger))
def test_each_starting_event_starts_its_rule_and_no_other(trigger: Trigger) -> None:
    at = wib(2026, 6, 1, 12)
    assert due_at(rule(starts=[trigger.value], period=10), {trigger: at}).at == wib(2026, 6, 12)
    other = next(t for t in Trigger if t is not trigger)
    assert due_at(rule(starts=[trigger.value], period=10), {other: at}) is None
    assert due_at(rule(starts=[trigger.value]), {trigger: None}) is None  # None: has not happened


def test_with_several_starting_events_the_first_to_happen_counts() -> None:
    r = SCHEDULE.rule(Kind.EXTRACT)
    events = {Trigger.PACKAGE_DOWNLOADED: wib(2026, 6, 20, 8), Trigger.HANDOVER_REVOKED: wib(2026, 6, 5, 8)}
    due = due_at(r, events)
    assert due.trigger is Trigger.HANDOVER_REVOKED and due.at == wib(2026, 7, 6)
    assert due.reason_id() == "jatuh tempo 2026-07-06: serah terima dicabut (2026-06-05)"
    assert due.reason_en() == "due 2026-07-06: the handover is revoked (2026-06-05)"


def test_the_agreements_end_is_the_latest_date_for_what_it_is_the_basis_of() -> None:
    ends = start_of_day(date(2026, 7, 1))
    r = SCHEDULE.rule(Kind.PACKAGE)
    capped = due_at(r, {Trigger.PACKAGE_DOWNLOADED: wib(2026, 6, 20, 8), Trigger.AGREEMENT_ENDED: ends})
    assert capped.at == ends and capped.capped_by_agreement and capped.trigger is Trigger.AGREEMENT_ENDED
    assert capped.reason_id().startswith("jatuh tempo 2026-07-01: perjanjian berakhir (2026-07-01)")
    early = due_at(r, {Trigger.PACKAGE_DOWNLOADED: wib(2026, 5, 1, 8), Trigger.AGREEMENT_ENDED: ends})
    assert early.at == wib(2026, 6, 1) and not early.capped_by_agreement
    # never downloaded: due when the agreement ends all the same
    assert due_at(r, {Trigger.AGREEMENT_ENDED: ends}).at == ends
    # the current snapshot: at the agreement's end, which is its own event
    current = due_at(SCHEDULE.rule(Kind.CURRENT_SNAPSHOT), {Trigger.AGREEMENT_ENDED: ends})
    assert current.at == ends and not current.capped_by_agreement
    # party 2's raw feedback outlives the agreement (PKS Art. 8(3)): not cut short
    feedback = due_at(SCHEDULE.rule(Kind.FEEDBACK_RAW), {Trigger.BATCH_RECEIVED: wib(2026, 6, 20, 8),
                                                         Trigger.AGREEMENT_ENDED: ends})
    assert feedback.at == wib(2026, 9, 19) and not feedback.capped_by_agreement


def test_the_agreement_ends_after_its_last_day_in_force() -> None:
    agreement = load_agreement(None)
    last = agreement.timeline()[-1][1].validity.last_day
    assert agreement_end(agreement) == wib(last.year, last.month, last.day) + timedelta(days=1)


def test_subject_references_wait_for_party_2s_disposal_certificate() -> None:
    r = SCHEDULE.rule(Kind.SUBJECT_REFERENCES)
    disposed = wib(2026, 6, 1, 9)
    waiting = due_at(r, {Trigger.INDEXED_DISPOSED: disposed})
    assert waiting.awaiting_certificate and waiting.at == wib(2026, 6, 2)
    assert waiting.reason_id().endswith("; menunggu berita acara pemusnahan pihak kedua")
    later = due_at(r, {Trigger.INDEXED_DISPOSED: disposed, Trigger.DISPOSAL_CERTIFIED: wib(2026, 8, 3, 14)})
    assert not later.awaiting_certificate and later.at == wib(2026, 8, 3, 14)
    assert later.trigger is Trigger.DISPOSAL_CERTIFIED
    earlier = due_at(r, {Trigger.INDEXED_DISPOSED: disposed, Trigger.DISPOSAL_CERTIFIED: wib(2026, 5, 3)})
    assert earlier.at == wib(2026, 6, 2) and not earlier.awaiting_certificate
    assert due_at(r, {Trigger.DISPOSAL_CERTIFIED: wib(2026, 5, 3)}) is None  # its artefact is still there


def test_a_time_without_a_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="package-downloaded: waktu tanpa zona waktu"):
        due_at(rule(), {Trigger.PACKAGE_DOWNLOADED: datetime(2026, 3, 1, 10)})
