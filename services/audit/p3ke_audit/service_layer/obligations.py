"""The obligations desk: obligations created by what starts them, fulfilled with evidence, swept by the clock.

* the agreement (`sync_agreement`, run by every sweep): M&E each agreement year (Art. 7) and the notice window
  before each end of term (Art. 8(2)); an addendum or termination notice in the terms fulfils the window it
  used; the liaison officers of the terms seed the registry;
* a BAST signed (`on_handover_signed`, an event handler): data balikan due (Art. 4(2), 5(1)), fulfilled by the
  first feedback batch for that handover (`on_feedback_received`), whichever event arrives first;
* a force majeure (`record_force_majeure`) and a liaison officer change (`record_liaison_change`), recorded by
  compliance staff: notices due in 14 and 6 working days (Art. 12(3), 13(2));
* `fulfil`: evidence recorded by compliance staff (a letter, an M&E report named by its audit log entry).

Status derives from the clock (`ctx.clock`); `sweep` records each status change and each reminder in the
history, once, and is run by the `audit-obligations` job every P3KE_OBLIGATION_SWEEP_SECONDS.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import Counter
from sqlalchemy import select
from sqlalchemy.orm import Session

from p3ke_audit.adapters import obligation_store as store
from p3ke_audit.adapters.orm import entries
from p3ke_audit.domain import obligations as rules
from p3ke_audit.domain.messages import Explained, M
from p3ke_audit.service_layer import notifications
from p3ke_audit.service_layer.appender import appender_for
from p3ke_platform.agreement.model import Addendum, TerminationNotice
from p3ke_platform.agreement.policy import agreement_day
from p3ke_platform.logging import describe_error
from p3ke_platform.refusal import Message
from p3ke_platform.workdays import WorkdayCalendar, workday_calendar

if TYPE_CHECKING:
    from p3ke_audit.service_layer.context import AuditContext
    from p3ke_platform.unit_of_work import UnitOfWork
    from p3ke_schemas import CloudEvent

log = structlog.get_logger(__name__)
TRACKING_FAILED = Counter("p3ke_audit_obligation_tracking_failed_total",
                          "events logged whose obligation could not be tracked", ["event"])
ME_REPORT_RESOURCE = "feedback-me-report"


class ObligationError(Explained):
    """A request the desk refuses: an HTTP status and the reason, a catalogue message (`str()`: Indonesian /
    English)."""

    def __init__(self, status: int, message: Message) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Notice:
    """A written notice: the letter's number, its date and (optionally) the SHA-256 of its signed PDF."""

    reference: str
    dated: date
    sha256: str | None = None


def calendar(ctx: AuditContext) -> WorkdayCalendar:
    return workday_calendar(ctx.settings.calendar_file)


def today(ctx: AuditContext) -> date:
    return agreement_day(ctx.clock())


def status_of(ctx: AuditContext, row: store.Row, on: date | None = None) -> rules.Status:
    return rules.status_on(on or today(ctx), row["due_date"], row["fulfilled_on"],
                           ctx.settings.obligation_due_soon_days)


def _create(ctx: AuditContext, session: Session, ob: rules.NewObligation, now: datetime,
            actor: str | None = None) -> bool:
    status = rules.status_on(agreement_day(now), ob.due, None, ctx.settings.obligation_due_soon_days)
    return store.create(session, ob, status=status, now=now, actor=actor)


# -- the agreement ------------------------------------------------------------------------------------------

def _term_changes(ctx: AuditContext) -> list[tuple[Any, Addendum | TerminationNotice | None]]:
    """Each version of the terms with a last day of its own, and the record that changed that last day next."""
    agreement = ctx.policy.agreement
    records = {r.id: r for r in (*agreement.addenda, *agreement.terminations)}
    versions = [terms for _, terms in agreement.timeline()]
    found: list[tuple[Any, Addendum | TerminationNotice | None]] = []
    for i, terms in enumerate(versions):
        if found and found[-1][0].validity.last_day == terms.validity.last_day:
            continue
        changed_by = None
        for later in versions[i + 1:]:
            if later.validity.last_day != terms.validity.last_day:
                new_ids = [a for a in later.applied if a not in terms.applied]
                changed_by = next((records[a] for a in reversed(new_ids) if a in records), None)
                break
        found.append((terms, changed_by))
    return found


def sync_agreement(ctx: AuditContext, session: Session, now: datetime) -> int:
    """The obligations the agreement's terms start (idempotent): returns how many were created."""
    agreement = ctx.policy.agreement
    base = agreement.base
    changes = _term_changes(ctx)
    last_day = changes[-1][0].validity.last_day
    created = 0
    for ob in rules.monitoring_evaluations(base.id, base.reference, base.validity.first_day, last_day):
        created += _create(ctx, session, ob, now)
        row = store.get(session, ob.id)
        if row is not None and row["fulfilled_on"] is None:
            store.set_due(session, row, ob, now=now, status=row["status"])
    for terms, changed_by in changes:
        if terms.terminated_by:  # the notice that ended it early was its Art. 8(2) notice
            continue
        ob = rules.expiry_notice(base.id, terms.reference, terms.validity.last_day)
        created += _create(ctx, session, ob, now)
        if isinstance(changed_by, Addendum):
            store.fulfil(session, ob.id, on=changed_by.noticed_on, evidence_kind="addendum",
                         reference=(changed_by.notice_document or changed_by.number)[:200], sha256=None, actor=None,
                         now=now, note=f"adendum {changed_by.number} (pemberitahuan {changed_by.noticed_on}) / "
                                       f"the addendum {changed_by.id} gave notice")
        elif isinstance(changed_by, TerminationNotice):
            store.fulfil(session, ob.id, on=changed_by.notice_date, evidence_kind="termination-notice",
                         reference=changed_by.document[:200], sha256=None, actor=None, now=now,
                         note=f"pemberitahuan pengakhiran {changed_by.document} / termination notice {changed_by.id}")
    _seed_liaison_officers(ctx, session, now)
    return created


def _seed_liaison_officers(ctx: AuditContext, session: Session, now: datetime) -> None:
    """Art. 13(1): the officers of the terms in force, for each party that has none recorded yet."""
    recorded = {row["org"] for row in store.officers(session)}
    terms = ctx.policy.terms_at(now)
    for officer in terms.liaison_officers:
        if officer.org in recorded:
            continue
        store.add_officer(session, {
            "officer_id": officer.id, "party": officer.party, "org": officer.org, "position": officer.position,
            "office": officer.office, "address": officer.address, "email": officer.email, "phone": None,
            "effective_from": terms.validity.first_day, "source": "terms", "notice_ref": None, "obligation_id": None,
            "recorded_at": now, "recorded_by_org": None, "recorded_by": None})
        recorded.add(officer.org)


# -- the clock ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SweepResult:
    created: int
    status_changes: int
    reminders: int


def sweep(ctx: AuditContext) -> SweepResult:
    """In one transaction: the agreement's obligations, then each unfulfilled obligation's status change and
    reminders reached, recorded in the history once (a change to due soon or overdue, and each reminder, with its
    announcement); then, committed, the announcements are published and emailed (notifications.dispatch)."""
    now = ctx.clock()
    day = agreement_day(now)
    changes = reminders = 0
    with ctx.unit_of_work() as uow:
        session = uow.session
        created = sync_agreement(ctx, session, now)
        for row in store.listing(session, today=day, due_soon_days=ctx.settings.obligation_due_soon_days,
                                 status="unfulfilled", limit=1_000_000):
            status = status_of(ctx, row, day)
            if status != row["status"] and store.set_status(session, row, status, now=now,
                                                            note=_status_note(row, status, day)):
                changes += 1
                notifications.obligation_changed(session, row, status=status, now=now)
            for reminder in rules.reminders_due(store.reminders_of(row), day, row["reminded_days"]):
                current = store.get(session, row["id"])
                if current is not None and store.set_reminded(session, current, reminder, now=now, status=status):
                    reminders += 1
                    notifications.obligation_changed(session, current, status=status, now=now,
                                                      reminder_days=reminder.days_before_end)
    notifications.dispatch(ctx)  # after the commit: the events and emails of what changed (and of earlier runs)
    return SweepResult(created, changes, reminders)


def _status_note(row: store.Row, status: str, day: date) -> str:
    due = row["due_date"]
    if status == "overdue":
        return f"lewat jatuh tempo {due.isoformat()} tanpa bukti pemenuhan / overdue since {due.isoformat()}"
    if status == "due-soon":
        return f"jatuh tempo {due.isoformat()}, {(due - day).days} hari lagi / due in {(due - day).days} days"
    return f"terbuka, jatuh tempo {due.isoformat()} / open, due {due.isoformat()}"


def obligation_loop(ctx: AuditContext, stop: threading.Event) -> None:
    """The `audit-obligations` background job: a sweep at once and every P3KE_OBLIGATION_SWEEP_SECONDS."""
    while True:
        try:
            sweep(ctx)
        except Exception as exc:  # keep going; the next round may succeed
            log.warning("obligation sweep failed", error=describe_error(exc))
        if stop.wait(ctx.settings.obligation_sweep_seconds):
            return


# -- events: a BAST signed, data balikan received ----------------------------------------------------------

def _tracked(ctx: AuditContext, uow: UnitOfWork, event: CloudEvent, track: Any) -> None:
    """`track` in a savepoint: a failure is logged and counted, never a refusal of the event (the log keeps it).

    The transaction's appender writes the entries appended so far first: rolling a savepoint back drops the
    appender with what it holds (appender.py), and the log must keep them."""
    appender_for(uow.session, ctx.settings, lambda: ctx.signer).flush()
    try:
        with uow.session.begin_nested():
            track(ctx, uow.session, event)
    except Exception as exc:
        TRACKING_FAILED.labels(event.type).inc()
        log.warning("obligation tracking failed", event_type=event.type, event_id=event.id, error=describe_error(exc))


def _handover_signed(ctx: AuditContext, session: Session, event: CloudEvent) -> None:
    data = event.data
    now = ctx.clock()
    party_2 = ctx.policy.terms_at(data.signed_at).party(2).org
    ob = rules.data_balikan(data.handover_id, data.bast_number, data.agreement_id, party_2,
                            agreement_day(data.signed_at), ctx.settings.obligation_feedback_days)
    if not _create(ctx, session, ob, now):
        row = store.get(session, ob.id)
        if row is not None:  # its feedback came first
            store.set_due(session, row, ob, now=now, status=row["status"])


def _feedback_received(ctx: AuditContext, session: Session, event: CloudEvent) -> None:
    data = event.data
    now = ctx.clock()
    obligation_id = f"balikan-{data.handover_id}"
    received = agreement_day(data.received_at)
    if store.get(session, obligation_id) is None:  # before its handover-signed: dated from the feedback until then
        party_2 = ctx.policy.terms_at(data.received_at).party(2).org
        _create(ctx, session, rules.data_balikan(data.handover_id, data.handover_id, data.agreement_id, party_2,
                                                 received, ctx.settings.obligation_feedback_days), now)
    store.fulfil(session, obligation_id, on=received, evidence_kind="feedback-batch", reference=data.batch_id,
                 sha256=None, actor=data.submitted_by.subject[:200], now=now,
                 note=f"data balikan diterima: batch {data.batch_id}, {data.rows} baris / feedback batch received")


def _disposal_status_changed(ctx: AuditContext, session: Session, event: CloudEvent) -> None:
    """Delivery's `disposal-status-changed`: `due` starts party 2's disposal certificate obligation, `certified`
    fulfils it (starting it first when the certificate came before it was due)."""
    data = event.data
    now = ctx.clock()
    party_2 = ctx.policy.terms_at(data.occurred_at).party(2).org
    since = agreement_day(data.due_since or data.occurred_at)
    due = agreement_day(data.due_by or data.occurred_at)
    ob = rules.disposal_certificate(data.handover_id, data.bast_number, data.agreement_id, party_2, since, due,
                                    data.due_reason)
    if not _create(ctx, session, ob, now):
        row = store.get(session, ob.id)
        if row is not None and row["fulfilled_on"] is None and data.due_by is not None:
            store.set_due(session, row, ob, now=now, status=row["status"])
    if data.status != "certified":
        return
    row = store.get(session, ob.id)
    if row is None or row["fulfilled_on"] is not None:
        return
    on = agreement_day(data.occurred_at)
    late = " (terlambat / late)" if rules.is_late(ob.due, on) else ""
    store.fulfil(session, ob.id, on=on, evidence_kind="disposal-certificate",
                 reference=(data.certificate_number or data.handover_id)[:200], sha256=data.certificate_sha256,
                 actor=data.signer.signatory_id[:200] if data.signer else None, now=now,
                 note=f"berita acara pemusnahan {data.certificate_number} ditandatangani dan diverifikasi{late} / "
                      f"disposal certificate signed by party 2's signatory and verified")


def on_disposal_status_changed(ctx: AuditContext, uow: UnitOfWork, event: CloudEvent) -> None:
    _tracked(ctx, uow, event, _disposal_status_changed)


def on_handover_signed(ctx: AuditContext, uow: UnitOfWork, event: CloudEvent) -> None:
    _tracked(ctx, uow, event, _handover_signed)


def on_feedback_received(ctx: AuditContext, uow: UnitOfWork, event: CloudEvent) -> None:
    _tracked(ctx, uow, event, _feedback_received)


# -- compliance staff: force majeure, liaison officers, evidence ---------------------------------------------

def _check_notice(notice: Notice | None, *, not_before: date | None, day: date) -> None:
    if notice is None:
        return
    if notice.dated > day:
        raise ObligationError(422, M("obligation.notice_future", dated=str(notice.dated), today=str(day)))
    if not_before is not None and notice.dated < not_before:
        raise ObligationError(422, M("obligation.notice_before_event", dated=str(notice.dated),
                                     event=str(not_before)))


def _fulfil_with_notice(session: Session, ob: rules.NewObligation, notice: Notice | None, actor: str,
                        now: datetime) -> None:
    if notice is not None:
        late = " (terlambat / late)" if rules.is_late(ob.due, notice.dated) else ""
        store.fulfil(session, ob.id, on=notice.dated, evidence_kind="letter", reference=notice.reference,
                     sha256=notice.sha256, actor=actor, now=now,
                     note=f"surat pemberitahuan {notice.reference} tanggal {notice.dated}{late} / notice letter")


def record_force_majeure(ctx: AuditContext, *, org: str, occurred_on: date, summary: str,
                         authority_statement: str | None, notice: Notice | None, actor: str, actor_org: str) -> str:
    """Art. 12: a force majeure that hit `org`, and its notice obligation (fulfilled at once if the notice is given);
    returns the obligation's id."""
    now = ctx.clock()
    day = agreement_day(now)
    if occurred_on > day:
        raise ObligationError(422, M("obligation.force_majeure_future", occurred=str(occurred_on), today=str(day)))
    _check_notice(notice, not_before=occurred_on, day=day)
    fm_id = uuid.uuid4().hex[:16]
    ob = rules.force_majeure_notice(fm_id, org, ctx.agreement_id, occurred_on, calendar(ctx))
    with ctx.unit_of_work() as uow:
        session = uow.session
        _create(ctx, session, ob, now, actor)
        store.add_force_majeure(session, {
            "id": fm_id, "org": org, "occurred_on": occurred_on, "summary": summary,
            "authority_statement": authority_statement, "obligation_id": ob.id, "recorded_at": now,
            "recorded_by_org": actor_org, "recorded_by": actor})
        _fulfil_with_notice(session, ob, notice, actor, now)
    return ob.id


def record_liaison_change(ctx: AuditContext, *, org: str, officer: dict[str, Any], effective_from: date,
                          notice: Notice | None, actor: str, actor_org: str) -> tuple[int, str]:
    """Art. 13(2): `org`'s new liaison officer from `effective_from`, and its notice obligation (fulfilled at once
    if the notice is given); returns the officer's record id and the obligation's id."""
    now = ctx.clock()
    day = agreement_day(now)
    _check_notice(notice, not_before=None, day=day)
    party = ctx.policy.terms_at(now).org_party(org)
    if party is None:
        raise ObligationError(422, M("obligation.not_a_party", org=org))
    change_id = f"{org}-{effective_from:%Y%m%d}-{uuid.uuid4().hex[:6]}"
    ob = rules.liaison_change_notice(change_id, org, ctx.agreement_id, effective_from, calendar(ctx))
    with ctx.unit_of_work() as uow:
        session = uow.session
        sync_agreement(ctx, session, now)  # the terms' officers first, so the change follows them
        _create(ctx, session, ob, now, actor)
        record_id = store.add_officer(session, {
            **officer, "officer_id": officer.get("officer_id") or f"liaison-{change_id}", "party": party.party,
            "org": org, "effective_from": effective_from, "source": "notice",
            "notice_ref": notice.reference if notice else None, "obligation_id": ob.id, "recorded_at": now,
            "recorded_by_org": actor_org, "recorded_by": actor})
        _fulfil_with_notice(session, ob, notice, actor, now)
    return record_id, ob.id


def _me_report_problem(session: Session, event_id: str) -> Message | None:
    row = session.execute(select(entries.c.resource_type, entries.c.outcome).where(
        entries.c.event_id == event_id)).first()
    if row is None or row.resource_type != ME_REPORT_RESOURCE or row.outcome != "allowed":
        return M("obligation.no_me_report", event=repr(event_id[:64]), resource=ME_REPORT_RESOURCE)
    return None


def fulfil(ctx: AuditContext, obligation_id: str, *, evidence_kind: str, reference: str, dated: date,
           sha256: str | None, actor: str) -> None:
    """Record the evidence that fulfils an obligation; ObligationError 404, 409 or 422 saying why not."""
    now = ctx.clock()
    day = agreement_day(now)
    with ctx.unit_of_work() as uow:
        session = uow.session
        row = store.get(session, obligation_id)
        if row is None:
            raise ObligationError(404, M("obligation.not_found", obligation=obligation_id[:120]))
        if row["fulfilled_on"] is not None:
            raise ObligationError(409, M("obligation.already_fulfilled", on=str(row["fulfilled_on"]),
                                         evidence=row["evidence_kind"], reference=row["evidence_ref"]))
        problem = rules.evidence_problem(row["kind"], evidence_kind)
        if problem is None and dated > day:
            problem = M("obligation.evidence_future", dated=str(dated), today=str(day))
        if problem is None and evidence_kind == "me-report":
            problem = _me_report_problem(session, reference)
        if problem is not None:
            raise ObligationError(422, problem)
        late = " (terlambat / late)" if rules.is_late(row["due_date"], dated) else ""
        store.fulfil(session, obligation_id, on=dated, evidence_kind=evidence_kind, reference=reference,
                     sha256=sha256, actor=actor, now=now,
                     note=f"dipenuhi dengan {evidence_kind} {reference} tanggal {dated}{late} / fulfilled")
