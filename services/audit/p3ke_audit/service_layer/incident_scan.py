"""Incidents opened by the log itself: the audit-incidents job (and `p3ke audit incidents-scan`) examines the
entries appended since its last run, and opens an incident

* for each refusal of an event whose origin is not proven (`origin not proven (<kind>): …`, recorded by any
  consumer that refused it, the audit service included): one incident per resource the forged event was about,
  each later refusal of it added as evidence while the incident is open;
* for each new violation of the kinds `P3KE_AUDIT_INCIDENT_VIOLATION_KINDS` (the lists of GET /v1/violations,
  service_layer/queries.py, over the time span of the new entries): one incident per kind and entry (unusual
  volume: per actor and day).

* for each tamper alarm of the log's bounded integrity checks (alarm_incidents.tamper_alarms: failed full
  verifications, the latest checkpoint against the stored tree and the previous checkpoint, a rolling window
  of leaves): one incident `log-tamper` gathering them while it is open. Fork and rollback alarms of the
  witnesses are opened by witnessing.py as it records the answer (alarm_incidents.witness_alarm), and
  announced by the next scan.

Idempotent: the evidence table's key (kind, entry) is written with the incident, so an entry opens at most one
incident however often the scan runs (two scans at once: one transaction fails on that key and the next run
carries on). The discovery time is when the log recorded the evidence; the 72 hours run from there.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from p3ke_audit.adapters.orm import entries, incident_scan, subject_refs
from p3ke_audit.adapters.orm import notifications as notification_rows
from p3ke_audit.config import AuditSettings
from p3ke_audit.service_layer import alarm_incidents, notifications, queries
from p3ke_audit.service_layer import incidents as register
from p3ke_audit.service_layer.case_history import as_utc
from p3ke_audit.service_layer.context import AuditContext
from p3ke_platform.agreement import Policy
from p3ke_platform.logging import describe_error, get_logger

log = get_logger(__name__)

FORGED_MARK = "origin not proven"
"""What the worker writes in the reason of a refusal of an event whose origin is not proven (messaging/worker.py)."""
SCAN = "log"
VIOLATION_TITLES = {
    "refused": "Percobaan akses yang ditolak / A refused attempt",
    "outside_agreement_validity": "Tindakan atas data di luar masa berlaku perjanjian / A data action outside the "
                                  "agreement's validity (PKS Art. 8)",
    "download_without_signed_bast": "Paket diunduh sebelum BAST ditandatangani / A package downloaded before its "
                                    "BAST was signed (PKS Art. 6(1))",
    "purpose_outside_programs": "Akses untuk program di luar cakupan perjanjian / An access for a program outside "
                                "the agreement (PKS Art. 3, 10(2))",
    "unusual_volume": "Volume akses yang tidak wajar / An unusual volume of access",
}


def _refs(session: Session, leaf_index: int | None) -> list[str]:
    if leaf_index is None:
        return []
    return list(session.execute(select(subject_refs.c.subject_ref)
                                .where(subject_refs.c.leaf_index == leaf_index)).scalars())


def _forged(session: Session, now: datetime, last: int, top: int) -> list[str]:
    c = entries.c
    rows = session.execute(select(entries).where(
        c.seq > last, c.seq <= top, c.event_type == queries.DATA_ACCESS, c.action == "refusal",
        c.outcome == "denied", c.payload.contains(FORGED_MARK)).order_by(c.seq)).mappings()
    opened = []
    for row in rows:
        reason = str(json.loads(row["payload"]).get("reason") or "")
        if FORGED_MARK not in reason:
            continue
        resource = (row["resource_type"] or "event", row["resource_id"] or "")
        refs = _refs(session, row["leaf_index"])
        known = register.Known(
            description=(f"{row['service']} menolak peristiwa {resource[0]} {resource[1]}: {reason[:500]} / "
                         f"{row['service']} refused an event whose origin is not proven"),
            subject_count=len(refs) or None, subject_refs=refs, resources=[resource])
        new = register.attach_evidence(
            session, now, kind="forged-event", entry_key=row["event_id"], leaf_index=row["leaf_index"],
            source="forged-event", source_key=f"forged-event:{resource[0]}:{resource[1]}"[:300],
            title=f"Peristiwa palsu ditolak: asal tidak terbukti ({resource[0]} {resource[1]}) / A forged event was "
                  f"refused: its origin is not proven",
            discovered_at=as_utc(row["recorded_at"]), known=known)
        opened += [new] if new else []
    return opened


def _windows(lo: datetime, hi: datetime, max_days: int) -> Iterator[tuple[datetime, datetime]]:
    step = timedelta(days=max_days)
    while lo < hi:
        yield lo, min(lo + step, hi)
        lo += step


def _violations(session: Session, now: datetime, last: int, top: int, settings: AuditSettings,
                policy: Policy | None) -> list[str]:
    kinds = settings.audit_incident_violation_kinds
    if not kinds:
        return []
    c = entries.c
    lo, hi = session.execute(select(func.min(c.occurred_at), func.max(c.occurred_at)).where(
        c.seq > last, c.seq <= top, c.event_type == queries.DATA_ACCESS)).one()
    if lo is None:
        return []
    opened: list[str] = []
    for since, until in _windows(as_utc(lo), as_utc(hi) + timedelta(microseconds=1), settings.audit_max_days):
        found = queries.violations(session, since, until, policy=policy,
                                   volume_threshold=settings.audit_volume_threshold,
                                   limit=settings.audit_max_export)
        for kind in kinds:
            for item in found.get(kind, []):
                opened += [new] if (new := _one_violation(session, now, kind, item)) else []
    return opened


def _one_violation(session: Session, now: datetime, kind: str, item: dict[str, Any]) -> str | None:
    title = VIOLATION_TITLES[kind]
    if kind == "unusual_volume":
        key = f"{item['actor_org']}:{item['actor_subject']}:{item['day']}"
        known = register.Known(description=f"{item['actor_org']} {item['actor_subject']}: {item['records']} record "
                                           f"dalam {item['accesses']} akses pada {item['day']} (WIB) / records "
                                           f"touched in a day", subject_count=None)
        return register.attach_evidence(session, now, kind=kind, entry_key=key, leaf_index=None, source="violation",
                         source_key=f"violation:{kind}:{key}"[:300], title=title, discovered_at=now, known=known)
    refs = _refs(session, item["leaf_index"])
    resource = (item["resource_type"] or "-", item["resource_id"] or "-")
    known = register.Known(
        description=(f"{item['service']}: {item['actor_org']} {item['actor_subject']} {item['action']} "
                     f"{resource[0]} {resource[1]} (program {item['program'] or '-'}, {item['record_count']} record, "
                     f"entri log {item['leaf_index']})"),
        subject_count=item["record_count"] or len(refs) or None, subject_refs=refs, resources=[resource])
    return register.attach_evidence(session, now, kind=kind, entry_key=item["event_id"], leaf_index=item["leaf_index"],
                     source="violation", source_key=f"violation:{kind}:{item['event_id']}"[:300], title=title,
                     discovered_at=as_utc(item["recorded_at"]), known=known)


def scan(session: Session, settings: AuditSettings, policy: Policy | None, now: datetime, *,
         public_key: Ed25519PublicKey | None = None, origin: str | None = None) -> list[str]:
    """Examine the entries appended since the last scan and run the bounded integrity checks (with the log's
    `public_key`, the latest checkpoint's signature too), in the caller's transaction; the incidents opened."""
    state = session.execute(select(incident_scan.c.last_seq).where(incident_scan.c.name == SCAN)
                            .with_for_update()).scalar()
    last = int(state or 0)
    top = int(session.scalar(select(func.max(entries.c.seq))) or 0)
    opened: list[str] = []
    if top > last:
        opened = _forged(session, now, last, top) + _violations(session, now, last, top, settings, policy)
    opened += alarm_incidents.tamper_alarms(session, now, origin=origin or settings.audit_origin,
                                            public_key=public_key)
    if state is None:
        session.execute(insert(incident_scan).values(name=SCAN, last_seq=top, scanned_at=now))
    else:
        session.execute(update(incident_scan).where(incident_scan.c.name == SCAN)
                        .values(last_seq=max(top, last), scanned_at=now))
    register.mark_overdue(session, now)
    return opened


def scan_now(ctx: AuditContext) -> list[str]:
    """One scan in its own transaction, at the context's clock; the incidents opened (none if another scan won
    the race for the same entries: the next run carries on)."""
    try:
        with ctx.sessions() as session, session.begin():
            opened = scan(session, ctx.settings, ctx.policy, ctx.clock().astimezone(UTC),
                          public_key=ctx.signer.public_key, origin=ctx.signer.name)
    except IntegrityError:
        log.info("incident scan raced another; retrying at the next run")
        return []
    for incident_id in opened:
        log.warning("incident opened automatically", incident_id=incident_id)
    if opened or _unannounced(ctx):  # committed (or opened by a witnessing round): announce them now
        notifications.dispatch(ctx)
    return opened


def _unannounced(ctx: AuditContext) -> bool:
    """An incident's announcement not yet queued (one witnessing.py recorded: its round has no context)."""
    with ctx.sessions() as session:
        return bool(session.scalar(select(exists().where(notification_rows.c.event_emitted_at.is_(None),
                                                         notification_rows.c.key.like("incident:%")))))


def incident_loop(ctx: AuditContext, stop: threading.Event) -> None:
    """The audit-incidents job: scan every P3KE_AUDIT_INCIDENT_SCAN_SECONDS until stopped."""
    while not stop.is_set():
        try:
            scan_now(ctx)
        except Exception as exc:  # keep the job alive; the next run retries (the database may be restarting)
            log.error("incident scan failed", error=describe_error(exc))
        stop.wait(ctx.settings.audit_incident_scan_seconds)
