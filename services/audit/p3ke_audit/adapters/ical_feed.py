"""The iCalendar feed (RFC 5545) of a party's open deadlines, written with the maintained `icalendar` library.

One all-day VEVENT per unfulfilled obligation on its due date; its UID is the obligation's id (stable across
fetches, so a subscribed calendar updates the event instead of adding another) and its DTSTAMP the time the
obligation was recorded. SUMMARY and DESCRIPTION are Indonesian first; an alarm fires a week before.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, timedelta

from icalendar import Alarm, Calendar, Event

from p3ke_audit.adapters.obligation_store import Row
from p3ke_audit.domain.obligations import KIND_NAMES

PRODID = "-//P3KE//Tenggat kewajiban PKS//ID"
UID_DOMAIN = "kewajiban.p3ke"
STATUS_NAMES = {"open": "terbuka", "due-soon": "segera jatuh tempo", "overdue": "TERLAMBAT", "fulfilled": "dipenuhi"}


def uid(obligation_id: str) -> str:
    return f"{obligation_id}@{UID_DOMAIN}"


def feed(rows: Iterable[tuple[Row, str]], *, party: str, today: date) -> bytes:
    """The calendar of `rows` (each an obligation with its status today) for `party`."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"Tenggat kewajiban PKS P3KE - {party}")
    cal.add("x-wr-timezone", "Asia/Jakarta")
    for row, status in rows:
        event = Event()
        event.add("uid", uid(row["id"]))
        stamp = row["created_at"]
        event.add("dtstamp", stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC))  # SQLite: naive UTC
        event.add("dtstart", row["due_date"])
        event.add("dtend", row["due_date"] + timedelta(days=1))
        marker = " [TERLAMBAT]" if status == "overdue" else ""
        who = " (para pihak)" if row["party"] == "both" else f" ({row['party']})"
        event.add("summary", f"Tenggat: {KIND_NAMES.get(row['kind'], row['kind'])}{who}, {row['article']}{marker}")
        event.add("description", "\n".join([
            row["title"],
            f"Status per {today.isoformat()}: {STATUS_NAMES.get(status, status)}",
            f"Perhitungan / how the date was computed: {row['due_rule']}",
            f"Kewajiban / obligation: {row['id']}"]))
        event.add("categories", [row["kind"]])
        event.add("transp", "TRANSPARENT")
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", f"Tenggat dalam 7 hari: {KIND_NAMES.get(row['kind'], row['kind'])}")
        alarm.add("trigger", timedelta(days=-7))
        event.add_component(alarm)
        cal.add_component(event)
    return bytes(cal.to_ical())
