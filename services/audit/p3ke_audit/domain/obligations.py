"""Obligations of the PKS with deadlines: what starts each one, when it is due, and its status on a day.

Pure rules (no I/O): the service layer stores what these functions return and asks them for the status.

* monitoring-evaluation (Pasal 7): started by the agreement, due at the end of each agreement year, fulfilled
  by an M&E report (or its minutes, a letter);
* expiry-notice (Pasal 8 ayat (2)): started by each last day in force, due 30 calendar days before it, with
  reminders 90/60/30 days before; fulfilled by a notice letter, an addendum or a termination notice;
* data-balikan (Pasal 4 ayat (2), Pasal 5 ayat (1)): started by a BAST signed, due a setting's calendar days
  later, fulfilled by a feedback batch (or the written report);
* force-majeure-notice (Pasal 12 ayat (3)): started by a force majeure, due 14 working days later, fulfilled by
  a notice letter with the competent authority's statement;
* liaison-change-notice (Pasal 13 ayat (2)): started by a liaison officer replaced, due 6 working days later,
  fulfilled by a notice letter;
* disposal-certificate (UU PDP Pasal 43-44, PKS Pasal 8 ayat (3)): started when a handover's purpose or the agreement
  ended (delivery's `disposal-status-changed` due), due by the deadline delivery sets
  (P3KE_DELIVERY_DISPOSAL_CERTIFICATE_DAYS), fulfilled by party 2's signed disposal certificate (the same event,
  certified) or a letter.

Working days are those of p3ke_platform.workdays (day 0: the day it happened).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal, get_args

from p3ke_audit.domain.messages import M
from p3ke_platform.refusal import Message
from p3ke_platform.workdays import WorkdayCalendar

Kind = Literal["monitoring-evaluation", "expiry-notice", "data-balikan", "force-majeure-notice",
               "liaison-change-notice", "disposal-certificate"]
KINDS: tuple[str, ...] = get_args(Kind)
Status = Literal["open", "due-soon", "overdue", "fulfilled"]
STATUSES: tuple[str, ...] = get_args(Status)
EvidenceKind = Literal["letter", "me-report", "feedback-batch", "addendum", "termination-notice",
                       "disposal-certificate"]
EVIDENCE_KINDS: tuple[str, ...] = get_args(EvidenceKind)
BOTH = "both"
"""The responsible party of an obligation of PARA PIHAK (both parties)."""

NOTICE_DAYS = 30  # Art. 8(2): calendar days
FORCE_MAJEURE_WORKING_DAYS = 14  # Art. 12(3)
LIAISON_WORKING_DAYS = 6  # Art. 13(2)
EXPIRY_REMINDER_DAYS = (90, 60, 30)  # days before the last day in force

ARTICLES: dict[str, str] = {
    "monitoring-evaluation": "Pasal 7",
    "expiry-notice": "Pasal 8 ayat (2)",
    "data-balikan": "Pasal 4 ayat (2), Pasal 5 ayat (1)",
    "force-majeure-notice": "Pasal 12 ayat (3)",
    "liaison-change-notice": "Pasal 13 ayat (2)",
    "disposal-certificate": "UU PDP Pasal 43-44; PKS Pasal 8 ayat (3)",
}

EVIDENCE_FOR: dict[str, tuple[str, ...]] = {
    "monitoring-evaluation": ("me-report", "letter"),
    "expiry-notice": ("letter", "addendum", "termination-notice"),
    "data-balikan": ("feedback-batch", "letter"),
    "force-majeure-notice": ("letter",),
    "liaison-change-notice": ("letter",),
    "disposal-certificate": ("disposal-certificate", "letter"),
}
"""The evidence that fulfils each kind (`letter`: a signed letter, by its number, with its PDF's SHA-256)."""

KIND_NAMES: dict[str, str] = {
    "monitoring-evaluation": "Pemantauan dan evaluasi",
    "expiry-notice": "Pemberitahuan perpanjangan/pengakhiran",
    "data-balikan": "Laporan dan data balikan",
    "force-majeure-notice": "Pemberitahuan keadaan kahar",
    "liaison-change-notice": "Pemberitahuan penggantian pejabat penghubung",
    "disposal-certificate": "Berita acara pemusnahan data",
}
"""Short Indonesian names (calendar entries, the command line)."""


@dataclass(frozen=True)
class Reminder:
    """A reminder that appears on `on`: `days_before_end` days before the agreement's last day."""

    days_before_end: int
    on: date

    @property
    def code(self) -> str:
        return f"reminder-{self.days_before_end}d"

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "on": self.on.isoformat(), "days_before_end": self.days_before_end}


@dataclass(frozen=True)
class NewObligation:
    """An obligation as its start creates it."""

    id: str
    kind: Kind
    party: str
    agreement_id: str | None
    source_type: str
    source_id: str
    title: str
    start: date
    due: date
    due_rule: str
    reminders: tuple[Reminder, ...] = field(default=())

    @property
    def article(self) -> str:
        return ARTICLES[self.kind]


def status_on(today: date, due: date, fulfilled_on: date | None, due_soon_days: int) -> Status:
    """The status on `today`: fulfilled once evidence is recorded; else overdue after the due day, due soon within
    `due_soon_days` calendar days of it, open before."""
    if fulfilled_on is not None:
        return "fulfilled"
    if today > due:
        return "overdue"
    if (due - today).days <= due_soon_days:
        return "due-soon"
    return "open"


def is_late(due: date, fulfilled_on: date | None) -> bool:
    """Fulfilled after the due day (or not yet fulfilled: never late until it is, see status_on)."""
    return fulfilled_on is not None and fulfilled_on > due


def reminders_due(reminders: tuple[Reminder, ...], today: date, recorded_days: int | None) -> list[Reminder]:
    """The reminders reached by `today` and not recorded yet (`recorded_days`: the last one recorded), in order."""
    reached = [r for r in sorted(reminders, key=lambda r: -r.days_before_end) if r.on <= today]
    return [r for r in reached if recorded_days is None or r.days_before_end < recorded_days]


def _anniversary(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def monitoring_evaluations(agreement_id: str, reference: str, first_day: date, last_day: date
                           ) -> list[NewObligation]:
    """Art. 7: M&E at least once in each agreement year, from the first day in force to the last: year k runs from
    the (k-1)-th anniversary and is due on the k-th (or the last day in force, if earlier)."""
    found = []
    k = 1
    while _anniversary(first_day, k - 1) < last_day:
        start = _anniversary(first_day, k - 1)
        due = min(_anniversary(first_day, k), last_day)
        found.append(NewObligation(
            id=f"me-{agreement_id}-y{k}", kind="monitoring-evaluation", party=BOTH, agreement_id=agreement_id,
            source_type="agreement", source_id=agreement_id,
            title=f"Pemantauan dan evaluasi pelaksanaan {reference}, tahun perjanjian ke-{k} ({start.isoformat()} s.d. "
                  f"{due.isoformat()}), paling sedikit 1 kali dalam 1 tahun / monitoring and evaluation, agreement "
                  f"year {k}",
            start=start, due=due,
            due_rule=f"akhir tahun perjanjian ke-{k}: {start.isoformat()} + 1 tahun"
                     f"{' (dipotong pada hari terakhir berlaku)' if due == last_day else ''} = {due.isoformat()} / the "
                     f"end of agreement year {k}"))
        k += 1
    return found


def expiry_notice(agreement_id: str, reference: str, last_day: date) -> NewObligation:
    """Art. 8(2): a party that wants to extend or end the agreement tells the other in writing at least 30 calendar
    days before its end; reminders 90, 60 and 30 days before the last day in force."""
    due = last_day - timedelta(days=NOTICE_DAYS)
    return NewObligation(
        id=f"expiry-{agreement_id}-{last_day:%Y%m%d}", kind="expiry-notice", party=BOTH, agreement_id=agreement_id,
        source_type="agreement", source_id=agreement_id,
        title=f"Pemberitahuan tertulis perpanjangan atau pengakhiran {reference} yang berakhir {last_day.isoformat()}"
              f", paling lambat {NOTICE_DAYS} hari kalender sebelumnya / written notice of extension or termination",
        start=last_day - timedelta(days=max(EXPIRY_REMINDER_DAYS)), due=due,
        due_rule=f"{last_day.isoformat()} (hari terakhir berlaku) - {NOTICE_DAYS} hari kalender = {due.isoformat()} "
                 f"/ {NOTICE_DAYS} calendar days before the last day in force",
        reminders=tuple(Reminder(d, last_day - timedelta(days=d)) for d in EXPIRY_REMINDER_DAYS))


def data_balikan(handover_id: str, bast_number: str, agreement_id: str, party_2: str, signed_on: date,
                 days: int) -> NewObligation:
    """Art. 4(2), 5(1): party 2 reports the use of the data in writing with the BNBA feedback of the recipients."""
    due = signed_on + timedelta(days=days)
    return NewObligation(
        id=f"balikan-{handover_id}", kind="data-balikan", party=party_2, agreement_id=agreement_id,
        source_type="handover", source_id=handover_id,
        title=f"Laporan pemanfaatan data dengan data balikan BNBA penerima program untuk serah terima {bast_number} "
              f"/ report of use with the BNBA feedback for handover {bast_number}",
        start=signed_on, due=due,
        due_rule=f"{signed_on.isoformat()} (BAST ditandatangani) + {days} hari kalender "
                 f"(P3KE_OBLIGATION_FEEDBACK_DAYS) = {due.isoformat()} / {days} calendar days after the BAST was "
                 f"signed")


def force_majeure_notice(fm_id: str, org: str, agreement_id: str | None, occurred_on: date,
                         calendar: WorkdayCalendar) -> NewObligation:
    """Art. 12(3): the party hit by force majeure notifies the other in writing, with the competent authority's
    evidence, within 14 working days after it happened."""
    due = calendar.add_working_days(occurred_on, FORCE_MAJEURE_WORKING_DAYS)
    return NewObligation(
        id=f"fm-{fm_id}", kind="force-majeure-notice", party=org, agreement_id=agreement_id,
        source_type="force-majeure", source_id=fm_id,
        title=f"Pemberitahuan tertulis keadaan kahar yang terjadi {occurred_on.isoformat()}, disertai bukti dan "
              f"keterangan instansi berwenang / written notice of the force majeure, with the authority's evidence",
        start=occurred_on, due=due, due_rule=calendar.explain(occurred_on, FORCE_MAJEURE_WORKING_DAYS))


def liaison_change_notice(change_id: str, org: str, agreement_id: str | None, effective_from: date,
                          calendar: WorkdayCalendar) -> NewObligation:
    """Art. 13(2): a party that replaces its liaison officer tells the other in writing within 6 working days."""
    due = calendar.add_working_days(effective_from, LIAISON_WORKING_DAYS)
    return NewObligation(
        id=f"lo-{change_id}", kind="liaison-change-notice", party=org, agreement_id=agreement_id,
        source_type="liaison-change", source_id=change_id,
        title=f"Pemberitahuan tertulis penggantian pejabat penghubung {org} yang berlaku {effective_from.isoformat()}"
              f" / written notice of the change of liaison officer",
        start=effective_from, due=due, due_rule=calendar.explain(effective_from, LIAISON_WORKING_DAYS))


def disposal_certificate(handover_id: str, bast_number: str, agreement_id: str, party_2: str, since: date, due: date,
                         reason: str | None) -> NewObligation:
    """UU PDP Art. 43-44, PKS Art. 8(3): once a handover's purpose or the agreement ended, party 2 destroys the data
    it received and delivers a disposal certificate signed by its signatory, by the deadline delivery set."""
    why = {"purpose-ended": "tujuan serah terima berakhir", "agreement-ended": "Perjanjian Kerja Sama berakhir"}.get(
        reason or "", "pemusnahan dilaporkan")
    return NewObligation(
        id=f"disposal-{handover_id}", kind="disposal-certificate", party=party_2, agreement_id=agreement_id,
        source_type="handover", source_id=handover_id,
        title=f"Berita acara pemusnahan data serah terima {bast_number}, ditandatangani penanda tangan PIHAK KEDUA / "
              f"disposal certificate for handover {bast_number}, signed by party 2's signatory",
        start=since, due=due,
        due_rule=f"{since.isoformat()} ({why}) + tenggat P3KE_DELIVERY_DISPOSAL_CERTIFICATE_DAYS = {due.isoformat()} "
                 f"/ the deadline delivery set after {reason or 'the disposal'}")


def evidence_problem(kind: str, evidence_kind: str) -> Message | None:
    """Why `evidence_kind` cannot fulfil an obligation of `kind` (None: it can): a catalogue message (PO domain
    `audit`)."""
    allowed = EVIDENCE_FOR.get(kind, ())
    if evidence_kind in allowed:
        return None
    return M("obligation.wrong_evidence", kind=kind, article=ARTICLES.get(kind, "?"), allowed=", ".join(allowed),
             evidence=evidence_kind)
