"""The ingest use cases before a job runs: authorise, record an upload, queue a submission, record a read.

Each takes what it needs (the context, the caller as an `Actor`) and never parses HTTP. A refusal is
raised as `p3ke_platform.refusal.Refused`; the API audits and answers it. What a job does once it has
validated a submission is in `publication`.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

from p3ke_ingest.adapters.orm import submissions, uploads
from p3ke_ingest.service_layer.context import IngestContext
from p3ke_ingest.service_layer.publication import current_version_id
from p3ke_platform.refusal import Refused
from p3ke_schemas import Actor

if TYPE_CHECKING:
    from p3ke_platform.auth import Principal

PUBLISH_ACTION = "publish-dataset"
FINAL = ("published", "unchanged", "refused", "failed")


class NotFound(LookupError):
    pass


def authorize(ctx: IngestContext, principal: Principal) -> Actor:
    """Party 1's data steward only (the agreement's `publish-dataset`); else `Refused` (403) with the
    policy's reason and rule."""
    decision = ctx.policy.decide(principal.org, principal.roles, PUBLISH_ACTION, at=ctx.clock())
    Refused.unless(decision)
    return principal.actor()


def record_upload(ctx: IngestContext, actor: Actor, *, upload_id: str, filename: str, path: str, size: int,
                  sha256: str) -> None:
    with ctx.unit_of_work() as uow:
        uow.session.execute(insert(uploads).values(
            upload_id=upload_id, filename=filename, bytes=size, sha256=sha256, path=path,
            uploaded_by=actor.subject, uploaded_at=ctx.clock()))
        uow.record_access(actor=actor, action="upload", resource_type="dataset-upload", resource_id=upload_id,
                          agreement_id=ctx.agreement_id)


def upload_row(ctx: IngestContext, upload_id: str) -> dict[str, Any]:
    with ctx.sessions() as session:
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
    with ctx.unit_of_work() as uow:
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
            submitted_at=ctx.clock(), attempts=0))
        for src in sources:
            if src.get("kind") == "upload":
                session.execute(update(uploads).where(uploads.c.upload_id == src["upload_id"])
                                .values(submission_id=submission_id))
        uow.record_access(actor=actor, action="upload", resource_type="dataset-submission",
                          resource_id=submission_id, agreement_id=ctx.agreement_id)
    return Queued(submission_id, True)


def record_read(ctx: IngestContext, actor: Actor, *, resource_type: str, resource_id: str, count: int,
                action: str = "read") -> None:
    with ctx.unit_of_work() as uow:
        uow.record_access(actor=actor, action=action, resource_type=resource_type, resource_id=resource_id,
                          record_count=count, agreement_id=ctx.agreement_id)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands timestamps back without a zone; they are stored in UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
