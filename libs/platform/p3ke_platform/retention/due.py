"""When an artefact is due for disposal under its rule, and why: a pure function of the rule and the times of the
artefact's life events (no clock, no I/O), shared by `p3ke retention show` and the disposal jobs.

Counting, precisely (the agreement's days are Jakarta calendar days, `p3ke_platform.agreement`):
- the period starts at the first of the rule's `starts` events that has happened (an event absent or None has
  not happened: without any, the artefact is not due under its own rule);
- years and months are added on the Jakarta calendar (31 January + 1 month = 28/29 February), then days;
- the artefact is kept to the end of the Jakarta day on which the period runs out, and is due at 00:00 WIB of the
  next day; an end falling exactly on 00:00 WIB is due then. So "30 days after a download on 1 March at 10:00
  WIB" is due on 1 April 00:00 WIB, and period 0 is due at the end of the event's own day;
- `ends_with_agreement`: due at the agreement's end at the latest (`agreement_end`: 00:00 WIB of the day after
  its last day in force, as the terms now stand, addenda and termination notices included), even when its own
  event has not happened yet (UU PDP Art. 43-44; PKS Art. 8);
- `until_certificate`: never before party 2's disposal certificate (`disposal-certified`); without one, the due
  time stands but `awaiting_certificate` is set and a disposal job must wait.
The times returned are in UTC.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from p3ke_platform.agreement import WIB, Agreement

from .schedule import TRIGGER_TEXT, Kind, Period, Rule, Trigger


@dataclass(frozen=True)
class Due:
    """When an artefact of `kind` is due, from which event (`trigger` at `started_at`) and why, in words."""

    kind: Kind
    at: datetime
    trigger: Trigger
    started_at: datetime
    capped_by_agreement: bool = False
    awaiting_certificate: bool = False

    def reason_id(self) -> str:
        day = self.at.astimezone(WIB).date().isoformat()
        start = self.started_at.astimezone(WIB).date().isoformat()
        text = (f"perjanjian berakhir ({start}), sebelum periodenya sendiri habis" if self.capped_by_agreement
                else f"{TRIGGER_TEXT[self.trigger][0]} ({start})")
        text = f"jatuh tempo {day}: {text}"
        return text + ("; menunggu berita acara pemusnahan pihak kedua" if self.awaiting_certificate else "")

    def reason_en(self) -> str:
        day = self.at.astimezone(WIB).date().isoformat()
        start = self.started_at.astimezone(WIB).date().isoformat()
        text = (f"the agreement ends ({start}) before its own period does" if self.capped_by_agreement
                else f"{TRIGGER_TEXT[self.trigger][1]} ({start})")
        text = f"due {day}: {text}"
        return text + ("; waiting for party 2's disposal certificate" if self.awaiting_certificate else "")


def _aware(at: datetime, name: str) -> datetime:
    if at.tzinfo is None:
        raise ValueError(f"{name}: waktu tanpa zona waktu / a time without a time zone ({at.isoformat()})")
    return at


def _add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def start_of_day(day: date) -> datetime:
    """00:00 WIB of a Jakarta calendar day, in UTC."""
    return datetime.combine(day, time(0), WIB).astimezone(UTC)


def add_period(start: datetime, period: Period) -> datetime:
    """The moment an artefact kept `period` after `start` is due (see the module's counting rules)."""
    local = _aware(start, "start").astimezone(WIB)
    day = _add_months(local.date(), period.years * 12 + period.months) + timedelta(days=period.days)
    end = datetime.combine(day, local.timetz())
    return end.astimezone(UTC) if end.timetz() == time(0, tzinfo=WIB) else start_of_day(day + timedelta(days=1))


def agreement_end(agreement: Agreement) -> datetime:
    """When the agreement ends as its records now stand: 00:00 WIB of the day after its last day in force."""
    last = agreement.timeline()[-1][1].validity.last_day
    return start_of_day(last + timedelta(days=1))


def due_at(rule: Rule, events: Mapping[Trigger, datetime | None]) -> Due | None:
    """When an artefact under `rule` is due, given the times of its life events; None when nothing has started
    its period yet (and, for a rule that ends with the agreement, the agreement's end is not given)."""
    happened = sorted((_aware(at, str(t)), t) for t in rule.starts if (at := events.get(t)) is not None)
    due: Due | None = None
    if happened:
        started, trigger = happened[0]
        due = Due(rule.kind, add_period(started, rule.period), trigger, started.astimezone(UTC))
    end = events.get(Trigger.AGREEMENT_ENDED) if rule.ends_with_agreement else None
    if end is not None and (due is None or _aware(end, "agreement-ended") < due.at):
        due = Due(rule.kind, end.astimezone(UTC), Trigger.AGREEMENT_ENDED, end.astimezone(UTC),
                  capped_by_agreement=Trigger.AGREEMENT_ENDED not in rule.starts)
    if due is None or not rule.until_certificate:
        return due
    certified = events.get(Trigger.DISPOSAL_CERTIFIED)
    if certified is None:
        return Due(due.kind, due.at, due.trigger, due.started_at, due.capped_by_agreement, awaiting_certificate=True)
    certified = _aware(certified, "disposal-certified").astimezone(UTC)
    if certified > due.at:
        return Due(due.kind, certified, Trigger.DISPOSAL_CERTIFIED, certified, due.capped_by_agreement)
    return due
