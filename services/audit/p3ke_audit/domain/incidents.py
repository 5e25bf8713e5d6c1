"""Personal-data incidents (UU PDP Art. 46): the 3×24-hour clock, the notices it requires, and closure.

Pure rules, no I/O. An incident is discovered at an instant; the written notices to the data subjects, to the
authority (the personal-data protection agency, *Lembaga PDP*) and to the other party's liaison officer (PKS
Art. 13) are due within 3×24 calendar hours of it (Art. 46(1): "paling lambat 3 x 24 jam"). Its status:

* `open`: notices may still be missing, but the clock has not run out (or every required notice is recorded);
* `notices-overdue`: 72 hours have passed and a required notice is still missing;
* `closed`: closed with a summary, which is refused while a required notice is missing.

When the closure says the investigation found no breach of personal data (`breach_confirmed` false: e.g. a
forged event that every consumer refused), only the liaison officer must have been told; Art. 46 notices to the
subjects and the authority are then not owed, and the summary must say why.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Literal

from p3ke_audit.domain.messages import Explained, M
from p3ke_platform.refusal import Joined, Message

NOTICE_WINDOW = timedelta(hours=72)
"""UU PDP Art. 46(1): 3×24 hours, in calendar hours (not working days)."""

Recipient = Literal["subjects", "authority", "liaison"]
RECIPIENTS: tuple[Recipient, ...] = ("subjects", "authority", "liaison")
RECIPIENT_LABELS: dict[str, tuple[str, str]] = {
    "subjects": ("subjek data", "the data subjects"),
    "authority": ("Lembaga Pelindungan Data Pribadi", "the personal-data protection authority"),
    "liaison": ("narahubung pihak lain (Pasal 13 PKS)", "the other party's liaison officer (PKS Art. 13)"),
}
Status = Literal["open", "notices-overdue", "closed"]
STATUSES: tuple[Status, ...] = ("open", "notices-overdue", "closed")
Source = Literal["manual", "violation", "forged-event", "log-tamper", "witness-fork"]
"""Who opened it: staff by hand, or the audit-incidents job from a violation, a forged-event refusal, a tamper alarm
of the log's own integrity checks, or a fork or rollback alarm seen when asking the witnesses to cosign."""
MIN_NO_BREACH_SUMMARY = 40
"""A closure that finds no breach must explain it in at least this many characters."""


class IncidentRuleError(Explained, ValueError):
    """A change the incident rules refuse; its catalogue message says what is wrong and how to fix it (`str()`:
    Indonesian / English)."""

    def __init__(self, message: Message, code: str) -> None:
        super().__init__(message)
        self.code = code  # stable, machine-readable


def due_at(discovered_at: datetime) -> datetime:
    """When the notices are due: 72 calendar hours after discovery."""
    return discovered_at + NOTICE_WINDOW


def required_notices(breach_confirmed: bool = True) -> tuple[Recipient, ...]:
    """Who must be told: everyone of Art. 46 and the PKS; the liaison officer only when no breach was found."""
    return RECIPIENTS if breach_confirmed else ("liaison",)


def missing_notices(sent: Iterable[str], breach_confirmed: bool = True) -> list[Recipient]:
    """The required recipients no notice was recorded for, in the order of RECIPIENTS."""
    done = set(sent)
    return [r for r in required_notices(breach_confirmed) if r not in done]


def status_at(*, closed: bool, due: datetime, missing: Iterable[str], now: datetime) -> Status:
    """The incident's status at `now`."""
    if closed:
        return "closed"
    return "notices-overdue" if list(missing) and now >= due else "open"


def late_notices(first_sent: dict[str, datetime], due: datetime) -> list[str]:
    """The recipients whose first notice was sent after the deadline."""
    return [r for r in RECIPIENTS if r in first_sent and first_sent[r] > due]


def check_closure(*, closed: bool, sent: Iterable[str], breach_confirmed: bool, summary: str) -> None:
    """IncidentRuleError unless the incident may be closed now."""
    if closed:
        raise IncidentRuleError(M("incident.already_closed"), "already-closed")
    missing = missing_notices(sent, breach_confirmed)
    if missing:
        recipients = Joined(tuple(M(f"incident.recipient.{r}") for r in missing), sep=", ")
        raise IncidentRuleError(M("incident.notices_missing", recipients=recipients), "notices-missing")
    if not breach_confirmed and len(summary.strip()) < MIN_NO_BREACH_SUMMARY:
        raise IncidentRuleError(M("incident.summary_too_short", chars=MIN_NO_BREACH_SUMMARY), "summary-too-short")


def check_open(closed: bool) -> None:
    """IncidentRuleError if the incident is closed (notices and facts are recorded on open incidents only)."""
    if closed:
        raise IncidentRuleError(M("incident.closed"), "closed")


def check_not_future(when: datetime, now: datetime, field: str) -> None:
    """IncidentRuleError if `when` lies in the future (a notice or a discovery is recorded after the fact)."""
    if when > now + timedelta(minutes=5):  # clocks of the staff's machines may run a little ahead
        raise IncidentRuleError(M("incident.future_time", field=field), "future-time")


VIOLATION_KINDS = ("refused", "outside_agreement_validity", "download_without_signed_bast",
                   "purpose_outside_programs", "unusual_volume")
"""The lists of GET /v1/violations (service_layer/queries.py)."""
INCIDENT_VIOLATION_KINDS = ("outside_agreement_validity", "download_without_signed_bast", "purpose_outside_programs",
                            "unusual_volume")
"""Those that open an incident by default: data that moved where it should not have. A refused attempt is the
policy holding (it opens none by default); a refusal of an event whose origin is not proven opens one by itself."""
