"""Publishing a validated submission: the current version, and a job's final transaction.

Publishing is one transaction: the version row, the submission's final state, the `dataset-updated`
event (outbox) and the `data-access` record commit together or not at all. Only the worker that holds
the job's claim may finish it (`LostClaim` otherwise), so a job taken over after its lease expired is
published once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, text, update

from p3ke_ingest.adapters.orm import dataset_versions, submissions
from p3ke_ingest.adapters.storage import file_uri
from p3ke_ingest.service_layer.context import IngestContext
from p3ke_platform.unit_of_work import UnitOfWork
from p3ke_schemas import Actor, DatasetUpdated
from p3ke_schemas.events import DatasetChanges

if TYPE_CHECKING:
    from p3ke_ingest.service_layer.validation import Outcome


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
    now = ctx.clock()
    report = ctx.storage.relative(outcome.report)
    with ctx.unit_of_work() as uow:
        session = uow.session
        if session.get_bind().dialect.name == "postgresql":  # one publisher at a time: `supersedes` is exact
            session.execute(text("SELECT pg_advisory_xact_lock(4242003)"))
        common = {"finished_at": now, "progress": 1.0, "summary": outcome.summary, "report_path": report,
                  "heartbeat_at": now}
        if not outcome.accepted:
            _own(uow, job["submission_id"], worker, status="refused", phase="refused", reasons=outcome.reasons,
                 **common)
            # the refusal is audited like any other (the reason by code: no file name, no value)
            codes = outcome.summary.get("reason_codes") or ["refused"]
            uow.record_access(actor=Actor.model_validate(job["actor"]), action="upload",
                              resource_type="dataset-submission", resource_id=job["submission_id"], outcome="denied",
                              reason="validation refused the submission: " + ", ".join(codes),
                              agreement_id=ctx.agreement_id)
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


def fail(ctx: IngestContext, submission_id: str, worker: str, reason: str, reason_en: str) -> None:
    """Mark the job failed with its reason in Indonesian (`reasons`) and English (`summary.reasons_en`)."""
    now = ctx.clock()
    with ctx.unit_of_work() as uow:
        _own(uow, submission_id, worker, status="failed", phase="failed", reasons=[reason],
             summary={"reasons_en": [reason_en]}, finished_at=now, heartbeat_at=now)
