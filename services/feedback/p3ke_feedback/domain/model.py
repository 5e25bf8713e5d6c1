"""Small pure rules shared by the use cases (refusals: `p3ke_platform.refusal.Refused`)."""

from __future__ import annotations

from datetime import UTC, datetime

from p3ke_platform.agreement import agreement_day


def aware(value: datetime) -> datetime:
    """A stored time as UTC-aware (SQLite hands back naive datetimes; every time stored here is UTC)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def period_of(at: datetime) -> str:
    """The report period (YYYY-MM) of a moment: its calendar month in Jakarta (the agreement's days)."""
    day = agreement_day(aware(at))
    return f"{day.year:04d}-{day.month:02d}"
