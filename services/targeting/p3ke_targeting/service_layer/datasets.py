"""The dataset versions targeting knows, and their snapshots: which version a request or plan reads, and whether its
snapshot can be read (the file the event named, the published SHA-256, the columns used)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from p3ke_targeting.adapters.orm import datasets
from p3ke_targeting.adapters.snapshot import check_layout, snapshot_path, verify_checksum
from p3ke_targeting.domain.layout import SELECTION_COLUMNS
from p3ke_targeting.domain.selection import Invalid, M
from p3ke_targeting.service_layer.context import Context


def dataset_row(session: Session, pinned: str | None) -> Any:
    query = select(datasets)
    query = query.where(datasets.c.dataset_version_id == pinned) if pinned else query.where(datasets.c.is_current)
    row = session.execute(query.order_by(datasets.c.published_at.desc()).limit(1)).mappings().first()
    if row is None:
        raise Invalid(M("invalid.dataset_unknown", dataset=pinned) if pinned else M("invalid.no_dataset"))
    return row


def usable_snapshot(ctx: Context, dataset: Any, columns: Iterable[str]) -> Path:
    version = dataset["dataset_version_id"]
    path = snapshot_path(dataset["snapshot_uri"], ctx.settings.data_dir)
    check_layout(path, {*columns, *SELECTION_COLUMNS}, version)
    verify_checksum(path, dataset["snapshot_sha256"], version)
    return path
