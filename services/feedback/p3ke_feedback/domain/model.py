"""Refusals and small pure rules shared by the use cases."""

from __future__ import annotations

from datetime import UTC, datetime

from p3ke_platform.agreement import agreement_day


class Refused(Exception):
    """A request the rules do not allow: `status` is the HTTP status, `reason` says precisely why.

    Reasons go to the caller and to the audit log, so they carry ids, counts and dates, never
    personal data of data subjects.
    """

    def __init__(self, status: int, reason: str, *, rule: str = "refused") -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.rule = rule


def aware(value: datetime) -> datetime:
    """A stored time as UTC-aware (SQLite hands back naive datetimes; every time stored here is UTC)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def period_of(at: datetime) -> str:
    """The report period (YYYY-MM) of a moment: its calendar month in Jakarta (the agreement's days)."""
    day = agreement_day(aware(at))
    return f"{day.year:04d}-{day.month:02d}"
