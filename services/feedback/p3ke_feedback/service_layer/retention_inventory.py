"""What feedback keeps, for the retention schedule (`p3ke_platform.retention`): each batch's raw file as party 2
sent it (`batches/<id>/original.<csv|xlsx>`, a `feedback-raw`), with the times of its life events read from
feedback's own table: `batch-received` (when it was stored) and `feedback-superseded` (when the batch that
replaced it was received). Files no longer on disk are not listed (a disposed file leaves the inventory).

The batch's derived files (`rows.parquet`, `findings.parquet`) are not listed: the schedule has no kind for them
yet, and a later batch that supersedes this one reads its rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import select

from p3ke_feedback.adapters.orm import feedback_batches
from p3ke_feedback.service_layer.context import Context
from p3ke_platform.retention import Artefact, Kind, Trigger


def _utc(at: datetime | None) -> datetime | None:
    if at is None:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _raw_files(ctx: Context) -> Iterator[Artefact]:
    b = feedback_batches.c
    with ctx.sessions() as session:
        rows = [dict(r) for r in session.execute(select(
            b.batch_id, b.file_format, b.file_sha256, b.received_at, b.directory, b.superseded_by)
            .order_by(b.received_at)).mappings()]
    received = {r["batch_id"]: _utc(r["received_at"]) for r in rows}
    for row in rows:
        path = ctx.storage / row["directory"] / f"original.{row['file_format']}"
        if not path.is_file():
            continue
        events = {Trigger.BATCH_RECEIVED: received[row["batch_id"]]}
        replaced = received.get(row["superseded_by"]) if row["superseded_by"] else None
        if replaced is not None:
            events[Trigger.FEEDBACK_SUPERSEDED] = replaced
        yield Artefact(kind=Kind.FEEDBACK_RAW, resource_type="feedback-batch", resource_id=row["batch_id"],
                       path=path, sha256=row["file_sha256"], events={t: at for t, at in events.items() if at})


def artefacts(ctx: Context) -> list[Artefact]:
    """Every raw feedback file feedback keeps, with its life events."""
    return list(_raw_files(ctx))
