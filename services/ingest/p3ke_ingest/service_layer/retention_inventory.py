"""What ingest keeps, for the retention schedule (`p3ke_platform.retention`): each upload, snapshot and findings
file, with the times of its life events, read from ingest's own tables.

- an upload (`uploads/<id>`) is a `raw-upload` (`uploaded`; `published` when its last submission was published
  or found unchanged) or, when that submission was refused or failed, a `rejected-upload` (`rejected`);
- each version's snapshot files (individual and family) are the `current-snapshot` (the newest published) or a
  `superseded-snapshot` (`superseded`: when the version that superseded it was published);
- a submission's masked findings (`reports/<id>/findings.parquet`) are `findings` (`validated`: the job's end).
Files no longer on disk are not listed. Snapshots are content-addressed: two versions may share a file, so a
disposal must not remove a path that an artefact not yet due still lists.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from p3ke_ingest.adapters.orm import dataset_versions, submissions, uploads
from p3ke_ingest.service_layer.context import IngestContext
from p3ke_platform.retention import Artefact, Kind, Trigger

PUBLISHED = ("published", "unchanged")
REJECTED = ("refused", "failed")


def _utc(at: datetime | None) -> datetime | None:
    """Times as stored (SQLite gives them back without a zone: they were written in UTC)."""
    if at is None:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _events(**events: datetime | None) -> dict[Trigger, datetime]:
    return {Trigger(name.replace("_", "-")): at for name, value in events.items() if (at := _utc(value)) is not None}


def _uploads(ctx: IngestContext, session: Any) -> Iterator[Artefact]:
    rows = session.execute(select(uploads, submissions.c.status, submissions.c.finished_at)
                           .select_from(uploads.outerjoin(submissions,
                                                          submissions.c.submission_id == uploads.c.submission_id))
                           .order_by(uploads.c.uploaded_at)).mappings()
    for row in rows:
        path = ctx.storage.absolute(row["path"])
        if not path.is_file():
            continue
        rejected = row["status"] in REJECTED
        yield Artefact(
            kind=Kind.REJECTED_UPLOAD if rejected else Kind.RAW_UPLOAD, resource_type="dataset-upload",
            resource_id=row["upload_id"], path=path, sha256=row["sha256"],
            events=_events(uploaded=row["uploaded_at"],
                           rejected=row["finished_at"] if rejected else None,
                           published=row["finished_at"] if row["status"] in PUBLISHED else None))


def _snapshots(ctx: IngestContext, session: Any) -> Iterator[Artefact]:
    rows = [dict(r) for r in session.execute(select(dataset_versions).where(dataset_versions.c.status == "published")
                                             .order_by(dataset_versions.c.published_at)).mappings()]
    superseded_at = {r["supersedes"]: r["published_at"] for r in rows if r["supersedes"]}
    current = rows[-1]["dataset_version_id"] if rows else None
    for row in rows:
        version = row["dataset_version_id"]
        kind = Kind.CURRENT_SNAPSHOT if version == current else Kind.SUPERSEDED_SNAPSHOT
        events = _events(published=row["published_at"],
                         superseded=superseded_at.get(version) if version != current else None)
        for uri, sha in ((row["snapshot_uri"], row["snapshot_sha256"]),
                         (row["family_snapshot_uri"], row["family_snapshot_sha256"])):
            if uri and (path := ctx.storage.snapshot_path(uri)).is_file():
                yield Artefact(kind=kind, resource_type="dataset-version", resource_id=version, path=path,
                               sha256=sha, events=events)


def _findings(ctx: IngestContext, session: Any) -> Iterator[Artefact]:
    rows = session.execute(select(submissions.c.submission_id, submissions.c.report_path, submissions.c.finished_at)
                           .where(submissions.c.report_path.is_not(None))
                           .order_by(submissions.c.submitted_at)).mappings()
    for row in rows:
        path: Path = ctx.storage.absolute(row["report_path"])
        if path.is_file():
            yield Artefact(kind=Kind.FINDINGS, resource_type="dataset-submission", resource_id=row["submission_id"],
                           path=path, events=_events(validated=row["finished_at"]))


def artefacts(ctx: IngestContext) -> list[Artefact]:
    """Every upload, snapshot file and findings file ingest keeps, with its life events."""
    with ctx.sessions() as session:
        return [*_uploads(ctx, session), *_snapshots(ctx, session), *_findings(ctx, session)]
