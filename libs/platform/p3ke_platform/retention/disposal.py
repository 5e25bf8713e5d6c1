"""The disposal job (UU PDP Art. 16(2), 43-44): in the service that owns the artefacts, destroy what the retention
schedule says is due, record an `erase` access for each, and announce it (`artefact-disposed`).

One run (`run_once`), under the service's lease (`retention_leases`: one process at a time):
1. the legal holds are read from the audit service (`holds.fetch_holds`); when they cannot be, nothing is
   destroyed (fail closed) and the run says why;
2. intents left by a run that stopped half-way are finished (see `tables.py`): a file already gone is recorded;
   a file still there is destroyed and recorded unless a hold now names it (then the intent is withdrawn);
3. the service's inventory (`p3ke_<service>.service_layer.retention_inventory`) is scheduled with `due_at`; each
   artefact of a kind this service owns whose due time has passed (and that waits for no disposal certificate)
   is checked against the holds (by resource and by the data subjects it holds), then, one transaction each:
   intent committed -> destroyed -> `erase` record + `artefact-disposed` event + intent done, committed.
   A file that an artefact not yet due (or held) also lists is kept (content-addressed snapshots).
A dry run does steps 1 and 3 without the lease and without destroying anything, and lists what would go and why,
and what is held.

How an artefact is destroyed is the service's: `p3ke_<service>.service_layer.retention_disposal` may define
`dispose(ctx, artefact) -> Disposed` (default: delete the file; delivery also destroys the artefact's data key
there, so every copy dies with it) and `subjects(ctx, artefact) -> Subjects` (the keyed references the artefact
holds, for the holds and the erase record; default none). `dispose` must be idempotent: a run that stopped after
destroying calls it again.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Table, delete, insert, select, update

from p3ke_platform.logging import get_logger
from p3ke_schemas import Actor, ArtefactDisposed

from .due import Due, agreement_end
from .holds import Holds, HoldsUnavailable, fetch_holds, legal_holds_problems
from .inventory import Artefact, inventory_of, schedule_artefacts
from .schedule import KIND_TEXT, Kind, Rule

log = get_logger(__name__)

JOB = "retention-disposal"
MODULE = "service_layer.retention_disposal"
LEASE_SECONDS = 900
PURPOSE = "pemusnahan sesuai jadwal retensi / disposal under the retention schedule (UU PDP Pasal 16(2), 43-44)"


@dataclass(frozen=True)
class Subjects:
    """The data subjects an artefact holds, by keyed reference, and the id of the key they were made with."""

    refs: tuple[str, ...] = ()
    key_id: str | None = None


@dataclass(frozen=True)
class Disposed:
    """What a disposer destroyed: the SHA-256 of the bytes (None: not known, e.g. only a key), what else."""

    sha256: str | None = None
    subject_refs: tuple[str, ...] = ()
    detail: str = ""


@dataclass
class Item:
    """One line of a run's report: nothing of a data subject."""

    kind: str
    resource_type: str
    resource_id: str
    outcome: str  # disposed | would-dispose | held | shared | completed | withdrawn
    due_at: str | None = None
    reason: str = ""
    held_by: list[str] = field(default_factory=list)
    sha256: str | None = None


@dataclass
class Report:
    service: str
    at: str
    dry_run: bool
    ran: bool = True
    problem: str | None = None
    items: list[Item] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for i in self.items if i.outcome == outcome)

    def as_dict(self) -> dict[str, Any]:
        return {"service": self.service, "at": self.at, "dry_run": self.dry_run, "ran": self.ran,
                "problem": self.problem, "items": [vars(i) for i in self.items],
                "counts": {o: self.count(o) for o in sorted({i.outcome for i in self.items})}}


def _module(package: str) -> Any:
    name = f"{package}.{MODULE}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and name.startswith(exc.name):
            return None
        raise


def delete_file(path: Path | None) -> Disposed:
    """Delete `path` (already gone: nothing to do): the default disposer of a file artefact."""
    if path is not None:
        path.unlink(missing_ok=True)
    return Disposed()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def service_actor(ctx: Any) -> Actor:
    """The service itself, as the audit log names the job's accesses."""
    org = ctx.policy.agreement.base.party(1).org
    return Actor(org=org, subject=f"urn:p3ke:service:{ctx.service}", roles=["operator"], service_account=True)


class DisposalJob:
    """The disposal job of one service (its context `ctx`); `run_once` is one run."""

    def __init__(self, ctx: Any, *, holds: Callable[[], Holds] | None = None) -> None:
        self.ctx = ctx
        self.service: str = ctx.service
        meta = ctx.runtime.spec.metadata.tables
        self.disposals: Table = meta["retention_disposals"]
        self.leases: Table = meta["retention_leases"]
        package = ctx.runtime.spec.package
        self.source = inventory_of(package)
        module = _module(package)
        self._dispose = getattr(module, "dispose", None)
        self._subjects = getattr(module, "subjects", None)
        self._holds = holds or (lambda: fetch_holds(ctx.settings, self.service))
        self.holder = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"

    # -- the lease ------------------------------------------------------------------------------------------

    def _lease(self, now: datetime) -> bool:
        """Take or renew the lease; False when another process holds it."""
        c = self.leases.c
        until = now + timedelta(seconds=LEASE_SECONDS)
        from sqlalchemy.exc import IntegrityError

        try:
            with self.ctx.sessions() as session, session.begin():
                taken = session.execute(update(self.leases).where(
                    c.job == JOB, (c.holder == self.holder) | (c.expires_at <= now)).values(
                    holder=self.holder, expires_at=until)).rowcount
                if taken:
                    return True
                if session.execute(select(c.job).where(c.job == JOB)).first() is not None:
                    return False
                session.execute(insert(self.leases).values(job=JOB, holder=self.holder, expires_at=until))
                return True
        except IntegrityError:
            return False  # another process inserted it first

    def _release(self, now: datetime) -> None:
        c = self.leases.c
        with self.ctx.sessions() as session, session.begin():
            session.execute(update(self.leases).where(c.job == JOB, c.holder == self.holder)
                            .values(expires_at=now))

    # -- one artefact ----------------------------------------------------------------------------------------

    def subjects(self, artefact: Artefact) -> Subjects:
        return self._subjects(self.ctx, artefact) if self._subjects else Subjects()

    def destroy(self, artefact: Artefact) -> Disposed:
        return self._dispose(self.ctx, artefact) if self._dispose else delete_file(artefact.path)

    def _reason(self, rule: Rule, due: Due, sha256: str | None) -> str:
        return (f"{rule.kind.value}: {KIND_TEXT[rule.kind][1]}; sha256 {sha256 or '-'}; rule: {rule.describe_en()}; "
                f"{due.reason_en()}; basis: {rule.basis_en}")

    def _intend(self, artefact: Artefact, rule: Rule, due: Due, subjects: Subjects, now: datetime) -> int:
        path = artefact.path
        sha = file_sha256(path) if path is not None and path.is_file() else artefact.sha256
        with self.ctx.sessions() as session, session.begin():
            return int(session.execute(insert(self.disposals).values(
                kind=artefact.kind.value, resource_type=artefact.resource_type, resource_id=artefact.resource_id,
                path=str(path) if path else "", sha256=sha, rule=self._reason(rule, due, sha),
                trigger=due.trigger.value, due_at=due.at, subject_refs=json.dumps(list(subjects.refs)),
                subject_key_id=subjects.key_id, state="intent", decided_at=now)
                .returning(self.disposals.c.id)).scalar_one())

    def record(self, intent: dict[str, Any], disposed: Disposed, now: datetime) -> None:
        """The erase record and the event, in the transaction that marks the intent done (exactly once)."""
        refs = json.loads(intent["subject_refs"]) or list(disposed.subject_refs)
        sha = intent["sha256"] or disposed.sha256
        reason = intent["rule"] + (f"; {disposed.detail}" if disposed.detail else "")
        due_at = intent["due_at"] if intent["due_at"].tzinfo else intent["due_at"].replace(tzinfo=now.tzinfo)
        with self.ctx.unit_of_work() as uow:
            done = uow.session.execute(update(self.disposals).where(
                self.disposals.c.id == intent["id"], self.disposals.c.state == "intent").values(
                state="done", disposed_at=now, sha256=sha)).rowcount
            if not done:
                return  # another run recorded it
            uow.record_access(actor=service_actor(self.ctx), action="erase", resource_type=intent["resource_type"],
                              resource_id=intent["resource_id"], reason=reason, subject_refs=refs,
                              subject_key_id=intent["subject_key_id"] if refs else None,
                              agreement_id=self.ctx.agreement_id, purpose=PURPOSE, at=now)
            artefact_id = f"{intent['resource_type']}:{intent['resource_id']}"
            uow.emit(ArtefactDisposed(artefact_id=artefact_id, kind=intent["kind"],
                                      resource_type=intent["resource_type"], resource_id=intent["resource_id"],
                                      sha256=sha, rule_kind=intent["kind"], trigger=intent["trigger"],
                                      due_at=due_at, service=self.service, disposed_at=now), subject=artefact_id)

    def _artefact_of(self, intent: dict[str, Any]) -> Artefact:
        return Artefact(kind=Kind(intent["kind"]), resource_type=intent["resource_type"],
                        resource_id=intent["resource_id"], path=Path(intent["path"]) if intent["path"] else None,
                        sha256=intent["sha256"])

    # -- a run -----------------------------------------------------------------------------------------------

    def _finish_intents(self, holds: Holds | None, now: datetime, report: Report) -> None:
        with self.ctx.sessions() as session:
            pending = [dict(r) for r in session.execute(select(self.disposals).where(
                self.disposals.c.state == "intent").order_by(self.disposals.c.id)).mappings()]
        for intent in pending:
            artefact = self._artefact_of(intent)
            item = Item(intent["kind"], intent["resource_type"], intent["resource_id"], "completed",
                        sha256=intent["sha256"], reason="dilanjutkan dari proses sebelumnya / resumed")
            present = artefact.path is not None and artefact.path.exists()
            if present:
                if holds is None:
                    continue  # holds unknown: destroy nothing more
                held = holds.holding(artefact.resource_type, artefact.resource_id, json.loads(intent["subject_refs"]))
                if held:
                    with self.ctx.sessions() as session, session.begin():
                        session.execute(delete(self.disposals).where(self.disposals.c.id == intent["id"]))
                    report.items.append(Item(intent["kind"], intent["resource_type"], intent["resource_id"],
                                             "withdrawn", held_by=held, reason="ditahan / held"))
                    continue
            disposed = self.destroy(artefact)
            self.record(intent, disposed, now)
            report.items.append(item)

    def run_once(self, *, dry_run: bool = False) -> Report:
        now = self.ctx.clock()
        report = Report(self.service, now.isoformat(), dry_run)
        if self.source is None:
            report.ran, report.problem = False, (f"inventaris belum tersedia untuk layanan {self.service} / no "
                                                 f"inventory yet for service {self.service}")
            return report
        if not dry_run and not self._lease(now):
            report.ran, report.problem = False, ("proses lain sedang memusnahkan (lease dipegang) / another process "
                                                 "is disposing (the lease is held)")
            return report
        try:
            self._run(now, dry_run, report)
        finally:
            if not dry_run:
                self._release(self.ctx.clock())
        for item in report.items:
            log.info("retention disposal", service=self.service, outcome=item.outcome, kind=item.kind,
                     resource_type=item.resource_type, resource_id=item.resource_id, held_by=item.held_by,
                     dry_run=dry_run)
        if report.problem:
            log.error("retention disposal refused", service=self.service, problem=report.problem)
        return report

    def _run(self, now: datetime, dry_run: bool, report: Report) -> None:
        holds: Holds | None
        try:
            holds = self._holds()
        except HoldsUnavailable as exc:
            holds, report.problem = None, str(exc)
        if not dry_run:
            self._finish_intents(holds, now, report)
        if holds is None:
            return
        schedule = self.ctx.retention_schedule
        scheduled = schedule_artefacts(schedule, self.source.artefacts(self.ctx),  # type: ignore[union-attr]
                                       agreement_end(self.ctx.policy.agreement))
        mine = [s for s in scheduled if schedule.rule(s.artefact.kind).owner == self.service]
        due, kept_paths = [], set()
        for s in mine:
            if s.due is not None and s.due.at <= now and not s.due.awaiting_certificate:
                subjects = self.subjects(s.artefact)
                held = holds.holding(s.artefact.resource_type, s.artefact.resource_id, subjects.refs)
                if not held:
                    due.append((s.artefact, s.due, subjects))
                    continue
                report.items.append(Item(s.artefact.kind.value, s.artefact.resource_type, s.artefact.resource_id,
                                         "held", s.due.at.isoformat(), s.due.reason_en(), held_by=held))
            if s.artefact.path is not None:
                kept_paths.add(s.artefact.path)
        for artefact, when, subjects in due:
            item = Item(artefact.kind.value, artefact.resource_type, artefact.resource_id,
                        "would-dispose" if dry_run else "disposed", when.at.isoformat(), when.reason_en(),
                        sha256=artefact.sha256)
            if artefact.path is not None and artefact.path in kept_paths:
                item.outcome, item.reason = "shared", ("berkas juga dipakai artefak yang belum jatuh tempo / the file "
                                                       "is also listed by an artefact not yet due")
            elif not dry_run:
                rule = schedule.rule(artefact.kind)
                intent_id = self._intend(artefact, rule, when, subjects, now)
                disposed = self.destroy(artefact)
                with self.ctx.sessions() as session:
                    intent = dict(session.execute(select(self.disposals).where(
                        self.disposals.c.id == intent_id)).mappings().one())
                self.record(intent, disposed, now)
                item.sha256 = intent["sha256"]
                self._lease(now)  # renew while working
            report.items.append(item)


def dispose_loop(ctx: Any, stop: threading.Event) -> None:
    """The disposal job as a background loop (`retention-disposal`): one run every P3KE_RETENTION_DISPOSAL_SECONDS."""
    job = DisposalJob(ctx)
    while not stop.is_set():
        try:
            job.run_once()
        except Exception as exc:  # the next run tries again; intents make a half-done run safe
            log.error("retention disposal failed", service=ctx.service, error=type(exc).__name__)
        stop.wait(ctx.settings.retention_disposal_seconds)


def disposal_enabled(ctx: Any) -> bool:
    """The loop runs where a schedule was set explicitly (production always) and the interval is not 0: disposal is
    irreversible, so a development stack on the packaged default schedule never destroys anything by itself."""
    return ctx.settings.retention_schedule is not None and ctx.settings.retention_disposal_seconds > 0


def disposal_start_up_problems(ctx: Any) -> list[str]:
    """What stops the start-up of the process that runs the loop: in production, no way to ask for legal holds
    (the job would fail closed on every run and never dispose of anything, silently keeping data past its period)."""
    return legal_holds_problems(ctx.settings)


def loop() -> Any:
    """The BackgroundLoop of an owning service's bootstrap (one line there)."""
    from p3ke_platform.service import BackgroundLoop

    return BackgroundLoop(name=JOB, run="p3ke_platform.retention.disposal:dispose_loop", role="jobs",
                          enabled=disposal_enabled, check=disposal_start_up_problems)


__all__ = ["JOB", "DisposalJob", "Disposed", "Item", "Report", "Subjects", "delete_file", "disposal_enabled",
           "disposal_start_up_problems", "dispose_loop", "file_sha256", "loop", "service_actor"]
