"""Telling people: an obligation that became due soon or overdue, or reached a reminder, and an incident opened,
announced on Kafka (`obligation-status-changed`, `incident-opened`, for the ministry platforms) and by email to
the responsible party's compliance staff (P3KE_NOTIFY_<ORG>, over P3KE_SMTP_HOST).

Each announcement is one row of `audit_notifications`, written in the transaction that recorded the change (its
key makes it once only). `dispatch`, run after that transaction commits (by the sweep, the incident scan and the
API that opens an incident; the `audit-obligations` job retries what is left), queues each row's event in the
outbox in the same transaction that marks it queued, then emails it and records the outcome: a restart neither
loses nor repeats one (an attempt cut off between its claim and its outcome stays `sending`: perhaps sent, never
sent again). No SMTP host configured: no email (logged once per process, the rows marked skipped).

Messages name ids, articles, dates and counts: never a data subject's NIK or name.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import structlog
from prometheus_client import Counter
from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from p3ke_audit.adapters.orm import notifications
from p3ke_platform.logging import describe_error
from p3ke_platform.mail import MailError, send
from p3ke_schemas import IncidentOpened, ObligationStatusChanged, spec_for_type

if TYPE_CHECKING:
    from p3ke_audit.service_layer.context import AuditContext

log = structlog.get_logger(__name__)
MAILS = Counter("p3ke_audit_notification_mails_total", "notification emails by outcome", ["outcome"])
JAKARTA = ZoneInfo("Asia/Jakarta")
NOTIFIED_STATUSES = ("due-soon", "overdue")
BATCH = 500


# -- recording, in the transaction of the change -------------------------------------------------------------

def _record(session: Session, key: str, payload: BaseModel, party: str, now: datetime) -> bool:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(notifications).values(
        key=key[:200], event_type=spec_for_type(_name_of(payload)).type,
        payload=payload.model_dump_json(), party=party, created_at=now, mail_status="pending", mail_attempts=0,
    ).on_conflict_do_nothing()
    return bool(session.execute(stmt.returning(notifications.c.id)).all())


def _name_of(payload: BaseModel) -> str:
    return "incident-opened" if isinstance(payload, IncidentOpened) else "obligation-status-changed"


def obligation_changed(session: Session, row: Any, *, status: str, now: datetime,
                       reminder_days: int | None = None) -> bool:
    """Announce an obligation's new status (due soon, overdue) or a reminder (`reminder_days` before the end)."""
    if reminder_days is None and status not in NOTIFIED_STATUSES:
        return False
    change = "status" if reminder_days is None else "reminder"
    payload = ObligationStatusChanged(
        obligation_id=row["id"], agreement_id=row["agreement_id"], kind=row["kind"], article=row["article"],
        responsible_org=row["party"], due_date=row["due_date"], status=status, change=change,  # type: ignore[arg-type]
        reminder_days_before_end=reminder_days, occurred_at=now)
    what = status if reminder_days is None else f"reminder-{reminder_days}d"
    return _record(session, f"obligation:{row['id']}:{what}", payload, row["party"], now)


def incident_opened(session: Session, *, incident_id: str, source: str, discovered_at: datetime, due_at: datetime,
                    data_kinds: list[str], subject_count: int | None, resource_count: int, now: datetime) -> bool:
    """Announce an incident opened (to both parties: either may have to notify)."""
    payload = IncidentOpened(incident_id=incident_id, source=source, discovered_at=discovered_at, due_at=due_at,
                             data_kinds=data_kinds, subject_count=subject_count, resource_count=resource_count,
                             occurred_at=now)
    return _record(session, f"incident:{incident_id}:opened", payload, "both", now)


# -- the messages ---------------------------------------------------------------------------------------------

def _wib(at: datetime) -> str:
    return at.astimezone(JAKARTA).strftime("%Y-%m-%d %H:%M WIB")


def _day(value: date) -> str:
    return value.isoformat()


def obligation_mail(data: ObligationStatusChanged) -> tuple[str, str]:
    """The subject and plain-text body (Indonesian, then English) of an obligation's announcement."""
    what = f"{data.kind} ({data.article})"
    if data.change == "reminder":
        days = data.reminder_days_before_end
        subject = (f"[P3KE] Pengingat {days} hari sebelum perjanjian berakhir: {what} / Reminder: the agreement "
                   f"ends in {days} days")
        id_line = (f"Perjanjian berakhir dalam {days} hari. Pemberitahuan tertulis perpanjangan atau pengakhiran "
                   f"(Pasal 8 ayat (2)) jatuh tempo {_day(data.due_date)}.")
        en_line = (f"The agreement ends in {days} days. The written notice of extension or termination "
                   f"(Art. 8(2)) is due on {_day(data.due_date)}.")
    elif data.status == "overdue":
        subject = f"[P3KE] Kewajiban lewat tenggat: {what} / Obligation overdue"
        id_line = f"Kewajiban ini lewat tenggat {_day(data.due_date)} tanpa bukti pemenuhan."
        en_line = f"This obligation passed its deadline of {_day(data.due_date)} without evidence of fulfilment."
    else:
        subject = f"[P3KE] Kewajiban segera jatuh tempo: {what} / Obligation due soon"
        id_line = f"Kewajiban ini jatuh tempo {_day(data.due_date)}."
        en_line = f"This obligation is due on {_day(data.due_date)}."
    party = "kedua pihak" if data.responsible_org == "both" else data.responsible_org
    party_en = "either party" if data.responsible_org == "both" else data.responsible_org
    path = f"/v1/obligations/{data.obligation_id}"
    body = "\n".join([
        id_line,
        "",
        f"  Kewajiban : {data.obligation_id}",
        f"  Jenis     : {data.kind}",
        f"  Dasar     : {data.article}",
        f"  Pihak     : {party}",
        f"  Tenggat   : {_day(data.due_date)}",
        f"  Status    : {data.status}",
        "",
        f"Catat bukti pemenuhannya (surat, laporan) di meja kewajiban: POST {path}/fulfilment; rinciannya: GET {path}.",
        "",
        "-- English --",
        en_line,
        f"Obligation {data.obligation_id}, {data.kind} ({data.article}), responsible: {party_en}, due "
        f"{_day(data.due_date)}, status {data.status}.",
        f"Record the evidence that fulfils it (a letter, a report) at the obligations desk: POST {path}/fulfilment; "
        f"details: GET {path}.",
        "",
        "Pesan otomatis layanan audit P3KE / An automatic message of the P3KE audit service.",
    ])
    return subject, body


def incident_mail(data: IncidentOpened) -> tuple[str, str]:
    """The subject and plain-text body (Indonesian, then English) of an incident's announcement."""
    subject = (f"[P3KE] Insiden data pribadi dibuka: {data.incident_id}, pemberitahuan paling lambat "
               f"{_wib(data.due_at)} / Personal-data incident opened, notices due by {_wib(data.due_at)}")
    kinds = ", ".join(data.data_kinds) or "-"
    count = "belum diketahui" if data.subject_count is None else str(data.subject_count)
    count_en = "not yet known" if data.subject_count is None else str(data.subject_count)
    path = f"/v1/incidents/{data.incident_id}"
    body = "\n".join([
        "Sebuah insiden data pribadi dibuka di register insiden (UU PDP Pasal 46). Pemberitahuan kepada subjek data, "
        "Lembaga Pelindungan Data Pribadi dan pejabat penghubung pihak lain wajib dikirim dalam 3 x 24 jam sejak "
        "insiden diketahui.",
        "",
        f"  Insiden          : {data.incident_id}",
        f"  Sumber           : {data.source}",
        f"  Diketahui        : {_wib(data.discovered_at)}",
        f"  Tenggat          : {_wib(data.due_at)}",
        f"  Jenis data       : {kinds}",
        f"  Jumlah subjek    : {count}",
        f"  Sumber daya ditahan (legal hold): {data.resource_count}",
        "",
        f"Catat setiap pemberitahuan yang dikirim: POST {path}/notices; rinciannya: GET {path}.",
        "",
        "-- English --",
        f"A personal-data incident was opened (UU PDP Art. 46): {data.incident_id}, source {data.source}, discovered "
        f"{_wib(data.discovered_at)}. Notify the data subjects, the authority and the other party's liaison officer "
        f"by {_wib(data.due_at)} (3 x 24 hours). Data kinds: {kinds}; subjects: {count_en}; resources held: "
        f"{data.resource_count}.",
        f"Record each notice sent: POST {path}/notices; details: GET {path}.",
        "",
        "Pesan otomatis layanan audit P3KE / An automatic message of the P3KE audit service.",
    ])
    return subject, body


def mail_of(event_type: str, payload: str) -> tuple[str, str]:
    model = spec_for_type(event_type).model.model_validate_json(payload)
    if isinstance(model, IncidentOpened):
        return incident_mail(model)
    assert isinstance(model, ObligationStatusChanged)
    return obligation_mail(model)


# -- after the commit: the events, then the emails ------------------------------------------------------------

@dataclass(frozen=True)
class DispatchResult:
    events: int
    sent: int
    failed: int
    skipped: int


@cache
def _warn_no_smtp() -> None:
    """Once per process (a stdlib logger: the configured JSON log in a service, stderr before configuration)."""
    logging.getLogger(__name__).warning(
        "P3KE_SMTP_HOST tidak diatur: notifikasi tidak dikirim lewat email / no SMTP host configured: "
        "notifications are not emailed (their Kafka events are still published)")


def _locked(session: Session, query: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True)
    return query


def emit_events(ctx: AuditContext) -> int:
    """Queue the Kafka event of each announcement not yet queued, in the transaction that marks it queued."""
    n = notifications
    with ctx.unit_of_work() as uow:
        rows = uow.session.execute(_locked(uow.session, select(n.c.id, n.c.event_type, n.c.payload).where(
            n.c.event_emitted_at.is_(None)).order_by(n.c.id).limit(BATCH))).all()
        for row in rows:
            spec = spec_for_type(row.event_type)
            data = spec.model.model_validate_json(row.payload)
            uow.emit(data, subject=str(getattr(data, spec.key_field)))
            uow.session.execute(update(n).where(n.c.id == row.id).values(event_emitted_at=ctx.clock()))
    return len(rows)


def _finish(ctx: AuditContext, row_id: int, status: str, error: str | None) -> None:
    with ctx.sessions() as session, session.begin():
        session.execute(update(notifications).where(notifications.c.id == row_id).values(
            mail_status=status, mail_error=error[:500] if error else None, mail_at=ctx.clock()))
    MAILS.labels(status).inc()


def send_mails(ctx: AuditContext) -> tuple[int, int, int]:
    """Email each announcement not yet emailed (failed ones again, up to P3KE_NOTIFY_MAX_ATTEMPTS); each attempt
    is claimed before sending (so two processes do not both send it) and its outcome recorded after."""
    settings, n = ctx.settings, notifications
    config = settings.smtp
    sent = failed = skipped = 0
    with ctx.sessions() as session:
        rows = session.execute(select(n).where(n.c.mail_status.in_(("pending", "failed")),
                                               n.c.mail_attempts < settings.notify_max_attempts)
                               .order_by(n.c.id).limit(BATCH)).mappings().all()
    for row in rows:
        to = settings.recipients(row["party"])
        if config is None or not to:
            if config is None:
                _warn_no_smtp()
            why = ("P3KE_SMTP_HOST tidak diatur / no SMTP host configured" if config is None else
                   f"tidak ada alamat P3KE_NOTIFY_* untuk {row['party']} / no addresses configured for {row['party']}")
            _finish(ctx, row["id"], "skipped", why)
            skipped += 1
            continue
        with ctx.sessions() as session, session.begin():  # the claim: one process takes this attempt
            claimed = session.execute(update(n).where(n.c.id == row["id"], n.c.mail_attempts == row["mail_attempts"],
                                                      n.c.mail_status.in_(("pending", "failed")))
                                      .values(mail_attempts=row["mail_attempts"] + 1, mail_status="sending",
                                              mail_at=ctx.clock())).rowcount
        if claimed != 1:
            continue
        subject, body = mail_of(row["event_type"], row["payload"])
        try:
            send(config, to, subject, body)
        except MailError as exc:
            log.warning("notification email failed", notification=row["key"], error=str(exc))
            _finish(ctx, row["id"], "failed", str(exc))
            failed += 1
            continue
        _finish(ctx, row["id"], "sent", None)
        sent += 1
    return sent, failed, skipped


def dispatch(ctx: AuditContext) -> DispatchResult:
    """The events, then the emails, of every announcement not yet made (never raises: the next run retries)."""
    events = sent = failed = skipped = 0
    try:
        events = emit_events(ctx)
        sent, failed, skipped = send_mails(ctx)
    except Exception as exc:  # a database or relay hiccup: the rows stay, the next run carries on
        log.warning("notification dispatch failed", error=describe_error(exc))
    return DispatchResult(events, sent, failed, skipped)

