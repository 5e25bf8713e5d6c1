"""The register of processing activities (UU PDP Art. 31) and the DPIA (Art. 34), issued as numbered versions.

A version is built from the terms in force (`ctx.policy`), the retention schedule the services apply
(`ctx.retention_schedule`, with the SHA-256 of its file), the catalogue (domain/processing_records.yaml) and the
processing log's figures since the agreement's first day, and stored whole in `audit_processing_records`
(append-only) with the SHA-256 of its canonical JSON, the terms digest, when, by whom and why; the schedule's
digest is in the document (`issue.schedule_sha256`, `retention.schedule_sha256`). Each issue is itself recorded
in the log (a `query` of the audit log by the issuer).

Kept current: `keep_current` issues a new version of each document whose latest version was built from other
terms, or another retention schedule, than the ones this process applies (the `audit-processing-records` job runs
it at start-up, then every P3KE_OBLIGATION_SWEEP_SECONDS; readers call it too). Fresh figures under the same terms:
`issue`, reason `requested` (POST /v1/records-of-processing/versions, `p3ke audit ropa --issue`).
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, datetime, time
from functools import lru_cache
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from p3ke_audit.adapters.orm import entries
from p3ke_audit.adapters.orm import processing_records as table
from p3ke_audit.domain import processing_records as records
from p3ke_audit.service_layer.case_history import as_utc
from p3ke_audit.service_layer.context import AuditContext
from p3ke_audit.service_layer.queries import DATA_ACCESS
from p3ke_platform.agreement import WIB
from p3ke_platform.logging import describe_error
from p3ke_schemas import Actor

log = structlog.get_logger(__name__)
SERVICE_SUBJECT = "urn:p3ke:service:audit"
Row = dict[str, Any]
_LISTED = [c for c in table.c if c.name != "body"]


def canonical(document: records.Ropa | records.Dpia) -> str:
    """The document's JSON as stored and hashed: sorted keys, no spaces, UTF-8."""
    return json.dumps(document.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def figures(session: Session, since: datetime, until: datetime) -> records.Figures:
    """The log's data accesses in [since, until), per program, action and outcome."""
    c = entries.c
    query = (select(c.program, c.action, c.outcome, func.count().label("accesses"),
                    func.coalesce(func.sum(c.record_count), 0).label("records"))
             .where(c.event_type == DATA_ACCESS, c.occurred_at >= since, c.occurred_at < until)
             .group_by(c.program, c.action, c.outcome))
    rows = sorted((records.FigureRow(program=r.program, action=r.action or "-", outcome=r.outcome or "-",
                                     accesses=int(r.accesses), records=int(r.records))
                   for r in session.execute(query)),
                  key=lambda r: (r.program or "", r.action, r.outcome))
    return records.Figures(period_from=since, period_to=until, rows=tuple(rows),
                           total_accesses=sum(r.accesses for r in rows), total_records=sum(r.records for r in rows))


@lru_cache(maxsize=8)
def _file_sha256(path: str) -> str:
    """The SHA-256 of a schedule file, once per process and file (as the schedule itself is loaded)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def retention_schedule(ctx: AuditContext) -> records.RetentionSchedule:
    """The retention schedule this process applies, with its file's digest."""
    schedule = ctx.retention_schedule
    return records.RetentionSchedule(schedule=schedule, sha256=_file_sha256(schedule.source),
                                     configured=ctx.settings.retention_schedule is not None)


def service_actor(ctx: AuditContext) -> Actor:
    """Who issues a version automatically: the audit service, for party 1 (as the terms start-up record)."""
    return Actor(org=ctx.policy.agreement.base.party(1).org, subject=SERVICE_SUBJECT,  # type: ignore[arg-type]
                 roles=["operator"], service_account=True)


def build(ctx: AuditContext, session: Session, kind: records.Kind, issue: records.Issue) -> records.Ropa | records.Dpia:
    """The document `kind` as of `issue.issued_at`, under the terms this process applies."""
    now = issue.issued_at
    day = now.astimezone(WIB).date()
    agreement = ctx.policy.agreement
    terms = ctx.policy.terms_at(now)
    since = datetime.combine(terms.validity.first_day, time.min, tzinfo=WIB).astimezone(UTC)
    facts = records.SystemFacts(witnesses=len(ctx.settings.audit_witnesses), witness_quorum=ctx.settings.witness_quorum)
    builder = records.build_ropa if kind == "ropa" else records.build_dpia
    return builder(agreement, terms, day=day, issue=issue, figures=figures(session, since, now), facts=facts,
                   catalogue=records.bundled_catalogue(), schedule=retention_schedule(ctx))


def _row(row: Any) -> Row:
    """A stored version as read back, its instant in UTC (SQLite keeps no zone)."""
    out = dict(row)
    out["issued_at"] = as_utc(out["issued_at"])
    return out


def _latest(session: Session, kind: str) -> Row | None:
    row = session.execute(select(*_LISTED).where(table.c.document == kind)
                          .order_by(table.c.version.desc()).limit(1)).mappings().first()
    return _row(row) if row else None


def _issue(ctx: AuditContext, kind: records.Kind, actor: Actor, reason: str) -> Row:
    """Issue the next version of `kind` (one transaction, with its log record); raises IntegrityError when another
    process took the same number first."""
    with ctx.unit_of_work() as uow:
        session = uow.session
        latest = _latest(session, kind)
        issue = records.Issue(version=(latest["version"] + 1) if latest else 1, issued_at=ctx.clock(),
                              issued_by=actor.subject, reason=reason,  # type: ignore[arg-type]
                              terms_sha256=ctx.terms_sha256, schedule_sha256=retention_schedule(ctx).sha256)
        document = build(ctx, session, kind, issue)
        body = canonical(document)
        row = {"document": kind, "version": issue.version, "terms_sha256": issue.terms_sha256,
               "agreement_id": document.agreement.id, "terms_version": document.agreement.terms_version,
               "issued_at": issue.issued_at, "issued_by": actor.subject, "reason": reason,
               "sha256": hashlib.sha256(body.encode("utf-8")).hexdigest(), "body": body}
        session.execute(insert(table).values(**row))
        uow.record_access(actor=actor, action="query", resource_type="audit-log",
                          resource_id=f"processing-records/{kind}/v{issue.version}",
                          record_count=document.figures.total_accesses, at=issue.issued_at,
                          agreement_id=document.agreement.id,
                          purpose=f"{records.TITLES[kind]} versi {issue.version} ({reason}); UU PDP Pasal "
                                  f"{31 if kind == 'ropa' else 34}")
    return {k: v for k, v in row.items() if k != "body"}


def issue(ctx: AuditContext, actor: Actor, kinds: tuple[records.Kind, ...] = records.KINDS) -> list[Row]:
    """A new version of each document now (fresh figures), issued by `actor`."""
    issued = []
    for kind in kinds:
        for attempt in range(3):
            try:
                issued.append(_issue(ctx, kind, actor, "requested"))
                break
            except IntegrityError:  # another process issued the same number: take the next one
                if attempt == 2:
                    raise
    return issued


_current_lock = threading.Lock()


def _schedule_of(session: Session, kind: str, version: int) -> str | None:
    """The retention schedule digest a stored version names (None: issued before the documents stated it)."""
    body = session.execute(select(table.c.body).where(table.c.document == kind, table.c.version == version)
                           ).scalar_one()
    return json.loads(body)["issue"].get("schedule_sha256")


def _why_new(session: Session, ctx: AuditContext, kind: str) -> str | None:
    """Why `kind` needs a new version under this process's terms and schedule (None: its latest is current)."""
    latest = _latest(session, kind)
    if latest is None:
        return "first"
    if latest["terms_sha256"] != ctx.terms_sha256:
        return "terms-changed"
    if _schedule_of(session, kind, latest["version"]) != retention_schedule(ctx).sha256:
        return "schedule-changed"
    return None


def keep_current(ctx: AuditContext) -> list[Row]:
    """Issue a version of each document that has none built from the terms and the retention schedule this
    process applies; what was issued (nothing when both are current)."""
    issued = []
    with _current_lock:
        for kind in records.KINDS:
            with ctx.sessions() as session:
                reason = _why_new(session, ctx, kind)
            if reason is None:
                continue
            try:
                issued.append(_issue(ctx, kind, service_actor(ctx), reason))
            except IntegrityError:
                continue  # another process issued it under these terms and schedule at the same moment
    for row in issued:
        log.info("processing record issued", document=row["document"], version=row["version"], reason=row["reason"])
    return issued


def stored(ctx: AuditContext, kind: records.Kind, version: int | None = None) -> Row | None:
    """A version of `kind` with its body (the latest when `version` is None; the current terms' made first)."""
    if version is None:
        keep_current(ctx)
    query = select(table).where(table.c.document == kind)
    query = query.where(table.c.version == version) if version else query.order_by(table.c.version.desc()).limit(1)
    with ctx.sessions() as session:
        row = session.execute(query).mappings().first()
    return _row(row) if row else None


def history(ctx: AuditContext, kind: records.Kind | None = None, limit: int = 100) -> list[Row]:
    """The issued versions (without the bodies), newest first, at most `limit`."""
    query = select(*_LISTED).order_by(table.c.issued_at.desc(), table.c.id.desc()).limit(limit)
    if kind is not None:
        query = query.where(table.c.document == kind)
    with ctx.sessions() as session:
        return [_row(r) for r in session.execute(query).mappings()]


def processing_records_loop(ctx: AuditContext, stop: threading.Event) -> None:
    """The `audit-processing-records` job: keep the ROPA and the DPIA current with the terms, at start-up and then
    every P3KE_OBLIGATION_SWEEP_SECONDS."""
    while True:
        try:
            keep_current(ctx)
        except Exception as exc:  # keep going; the next round may succeed
            log.warning("processing records not kept current", error=describe_error(exc))
        if stop.wait(ctx.settings.obligation_sweep_seconds):
            return
