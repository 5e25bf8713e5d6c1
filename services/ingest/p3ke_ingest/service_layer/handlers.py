"""The ingest use cases: authorise, record an upload, queue a submission, publish or refuse a version.

Each takes what it needs (a unit of work, the context) and never parses HTTP. Publishing is one
transaction: the version row, the submission's final state, the `dataset-updated` event and the
`data-access` record commit together or not at all.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, text, update

from p3ke_ingest.adapters.orm import dataset_versions, submissions, uploads
from p3ke_ingest.adapters.storage import file_uri
from p3ke_ingest.service_layer.context import IngestContext
from p3ke_platform.auth import Principal
from p3ke_platform.unit_of_work import UnitOfWork
from p3ke_schemas import Actor, DatasetUpdated
from p3ke_schemas.events import DatasetChanges

if TYPE_CHECKING:
    from p3ke_ingest.service_layer.validation import Outcome

PUBLISH_ACTION = "publish-dataset"
FINAL = ("published", "unchanged", "refused", "failed")


class Denied(Exception):
    """The agreement policy refused the caller; the refusal has been audited."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotFound(LookupError):
    pass


def actor_of(principal: Principal) -> Actor:
    return Actor(org=principal.org, subject=principal.subject, roles=sorted(principal.roles),
                 service_account=principal.service_account)


def authorize(ctx: IngestContext, principal: Principal, *, action: str, resource_type: str,
              resource_id: str) -> Actor:
    """Party 1's data steward only (the agreement's `publish-dataset`); a refusal is audited, then raised."""
    actor = actor_of(principal)
    decision = ctx.policy.decide(principal.org, principal.roles, PUBLISH_ACTION, at=ctx.now())
    if not decision.allowed:
        with ctx.runtime.unit_of_work() as uow:
            uow.record_access(actor=actor, action=action, resource_type=resource_type, resource_id=resource_id,
                              outcome="denied", reason=decision.reason, agreement_id=ctx.agreement_id)
        raise Denied(decision.reason)
    return actor


def record_upload(ctx: IngestContext, actor: Actor, *, upload_id: str, filename: str, path: str, size: int,
                  sha256: str) -> None:
    with ctx.runtime.unit_of_work() as uow:
        uow.session.execute(insert(uploads).values(
            upload_id=upload_id, filename=filename, bytes=size, sha256=sha256, path=path,
            uploaded_by=actor.subject, uploaded_at=ctx.now()))
        uow.record_access(actor=actor, action="upload", resource_type="dataset-upload", resource_id=upload_id,
                          agreement_id=ctx.agreement_id)


def upload_row(ctx: IngestContext, upload_id: str) -> dict[str, Any]:
    with ctx.runtime.sessions() as session:
        row = session.execute(select(uploads).where(uploads.c.upload_id == upload_id)).mappings().first()
    if row is None:
        raise NotFound(f"no upload {upload_id}")
    return dict(row)


@dataclass
class Queued:
    submission_id: str
    created: bool  # False: an identical submission (same inputs and rules) already answers it


def rules_json(ctx: IngestContext) -> dict[str, Any]:
    s = ctx.settings
    return {"desil": [s.ingest_desil_min, s.ingest_desil_max], "persentil_max": s.ingest_persentil_max,
            "max_rejected_share": s.ingest_max_rejected_share, "require_family_file": s.ingest_require_family_file,
            "max_field_chars": s.ingest_max_field_chars, "max_line_bytes": s.ingest_max_line_bytes}


def input_key(sources: list[dict[str, Any]], rules: dict[str, Any]) -> str:
    identity = [{k: v for k, v in src.items() if k in ("label", "sha256", "path", "bytes", "mtime")}
                for src in sources]
    blob = json.dumps({"sources": identity, "rules": rules}, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()


def submit(ctx: IngestContext, actor: Actor, sources: list[dict[str, Any]]) -> Queued:
    """Queue a validation job, unless the same inputs are already queued, running, or are the current version."""
    rules = rules_json(ctx)
    key = input_key(sources, rules)
    with ctx.runtime.unit_of_work() as uow:
        session = uow.session
        current = current_version_id(session)
        same = session.execute(select(submissions.c.submission_id, submissions.c.status,
                                      submissions.c.dataset_version_id)
                               .where(submissions.c.input_key == key)
                               .order_by(submissions.c.submitted_at.desc())).all()
        for row in same:
            if row.status in ("queued", "running") or (row.status in ("published", "unchanged")
                                                       and row.dataset_version_id == current):
                return Queued(row.submission_id, False)
        submission_id = uuid.uuid4().hex
        session.execute(insert(submissions).values(
            submission_id=submission_id, status="queued", phase="queued", progress=0.0, sources=sources,
            input_key=key, rules=rules, submitted_by=actor.subject, actor=actor.model_dump(mode="json"),
            submitted_at=ctx.now(), attempts=0))
        for src in sources:
            if src.get("kind") == "upload":
                session.execute(update(uploads).where(uploads.c.upload_id == src["upload_id"])
                                .values(submission_id=submission_id))
        uow.record_access(actor=actor, action="upload", resource_type="dataset-submission",
                          resource_id=submission_id, agreement_id=ctx.agreement_id)
    return Queued(submission_id, True)


def current_version_id(session: Any) -> str | None:
    row = session.execute(select(dataset_versions.c.dataset_version_id)
                          .where(dataset_versions.c.status == "published")
                          .order_by(dataset_versions.c.published_at.desc()).limit(1)).first()
    return row[0] if row else None


def current_version(session: Any) -> dict[str, Any] | None:
    row = session.execute(select(dataset_versions).where(dataset_versions.c.status == "published")
                          .order_by(dataset_versions.c.published_at.desc()).limit(1)).mappings().first()
    return dict(row) if row else None


class LostClaim(RuntimeError):
    """The job was taken over by another worker (its lease expired); this worker's result is dropped."""


def _own(uow: UnitOfWork, submission_id: str, worker: str, **values: Any) -> None:
    done = uow.session.execute(update(submissions).where(
        submissions.c.submission_id == submission_id, submissions.c.claimed_by == worker,
        submissions.c.status == "running").values(**values))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise LostClaim(submission_id)


def publish(ctx: IngestContext, job: dict[str, Any], outcome: Outcome, worker: str) -> str:
    """Publish an accepted outcome (or find it unchanged); returns the submission's final status."""
    now = ctx.now()
    report = ctx.storage.relative(outcome.report)
    with ctx.runtime.unit_of_work() as uow:
        session = uow.session
        if session.get_bind().dialect.name == "postgresql":  # one publisher at a time: `supersedes` is exact
            session.execute(text("SELECT pg_advisory_xact_lock(4242003)"))
        common = {"finished_at": now, "progress": 1.0, "summary": outcome.summary, "report_path": report,
                  "heartbeat_at": now}
        if not outcome.accepted:
            _own(uow, job["submission_id"], worker, status="refused", phase="refused", reasons=outcome.reasons,
                 **common)
            return "refused"
        assert outcome.snapshot is not None
        path, sha = outcome.snapshot
        family = outcome.family_snapshot
        current = current_version(session)
        if (current is not None and current["snapshot_sha256"] == sha
                and current["family_snapshot_sha256"] == (family[1] if family else None)):
            _own(uow, job["submission_id"], worker, status="unchanged", phase="unchanged",
                 dataset_version_id=current["dataset_version_id"], **common)
            return "unchanged"
        version_id = f"dv-{now:%Y%m%dT%H%M%SZ}-{sha[:10]}"
        actor = Actor.model_validate(job["actor"])
        session.execute(insert(dataset_versions).values(
            dataset_version_id=version_id, status="published", snapshot_uri=file_uri(path), snapshot_sha256=sha,
            individuals=outcome.individuals, families=outcome.families, rows_rejected=outcome.rows_rejected,
            submitted_by=job["submitted_by"], submitted_at=job["submitted_at"], published_at=now,
            submission_id=job["submission_id"], agreement_id=ctx.agreement_id,
            supersedes=current["dataset_version_id"] if current else None,
            family_snapshot_uri=file_uri(family[0]) if family else None,
            family_snapshot_sha256=family[1] if family else None,
            counts_by_desil=outcome.counts_by_desil, counts_by_province=outcome.counts_by_province,
            changes=outcome.changes))
        _own(uow, job["submission_id"], worker, status="published", phase="published",
             dataset_version_id=version_id, **common)
        uow.emit(DatasetUpdated(
            dataset_version_id=version_id, agreement_id=ctx.agreement_id, snapshot_uri=file_uri(path),
            snapshot_sha256=sha, individuals=outcome.individuals, families=outcome.families,
            rows_rejected=outcome.rows_rejected, counts_by_desil=outcome.counts_by_desil,
            counts_by_province=outcome.counts_by_province,
            supersedes=current["dataset_version_id"] if current else None, published_by=actor,
            published_at=now, changes=DatasetChanges(**outcome.changes) if outcome.changes else None),
            subject=version_id)
        uow.record_access(actor=actor, action="upload", resource_type="dataset-version", resource_id=version_id,
                          record_count=outcome.individuals, agreement_id=ctx.agreement_id)
    return "published"


def fail(ctx: IngestContext, submission_id: str, worker: str, reason: str) -> None:
    now = ctx.now()
    with ctx.runtime.unit_of_work() as uow:
        _own(uow, submission_id, worker, status="failed", phase="failed", reasons=[reason], finished_at=now,
             heartbeat_at=now)


def record_read(ctx: IngestContext, actor: Actor, *, resource_type: str, resource_id: str, count: int,
                action: str = "read") -> None:
    with ctx.runtime.unit_of_work() as uow:
        uow.record_access(actor=actor, action=action, resource_type=resource_type, resource_id=resource_id,
                          record_count=count, agreement_id=ctx.agreement_id)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands timestamps back without a zone; they are stored in UTC."""
    from datetime import UTC

    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
