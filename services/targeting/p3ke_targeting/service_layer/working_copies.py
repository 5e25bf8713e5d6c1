"""Keep the current dataset version's working copy (`adapters.working_copy`) and nothing else: the worker's loop
builds it when a version arrives (or the subject hash key is rotated: the copy holds references under the current
key), and deletes the copies of older versions, of older keys and of snapshots that are gone.

A selection or plan reads the copy of its dataset version when the copy is on disk (`rows`); otherwise it reads the
Parquet snapshot. Both give the same extract (tests/unit/targeting/test_working_copy.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from p3ke_platform.logging import get_logger
from p3ke_targeting.adapters import working_copy
from p3ke_targeting.adapters.duckdb_selection import Rows
from p3ke_targeting.adapters.snapshot import SnapshotError
from p3ke_targeting.domain.selection import Invalid
from p3ke_targeting.service_layer.context import Context
from p3ke_targeting.service_layer.datasets import dataset_row, usable_snapshot

if TYPE_CHECKING:
    import duckdb

log = get_logger(__name__)

STALE_BUILD_SECONDS = 3600
"""A temporary file of a build older than this was left by a build that stopped (another replica's build in
progress is younger): deleted."""


def for_dataset(ctx: Context, dataset: Any) -> Path | None:
    """The working copy a selection from this dataset version reads, when it is on disk and copies are on."""
    if not ctx.settings.targeting_working_copy:
        return None
    path = _path(ctx, str(dataset["snapshot_sha256"]))
    return path if path.is_file() else None


@contextmanager
def rows(ctx: Context, con: duckdb.DuckDBPyConnection, bounds: tuple[int, str, Path],
         dataset: Any) -> Iterator[Rows]:
    """What a selection or plan from this dataset version reads on `con` (opened with `bounds`): its working copy,
    attached, with the references stored under the current key, else the Parquet snapshot."""
    with ctx.working_copies.attached(con, bounds, for_dataset(ctx, dataset)) as alias:
        yield working_copy.source(alias, ctx.settings.subject_hash_key)


def _path(ctx: Context, snapshot_sha256: str) -> Path:
    """The copy of this snapshot with the subject references under the current key."""
    return working_copy.path_for(ctx.settings.data_dir, snapshot_sha256, ctx.settings.subject_key_ring.current.id)


def refresh(ctx: Context) -> Path | None:
    """Build the current version's copy if it is missing; delete every other copy and stale leftover. Returns the
    current copy (None without a usable current snapshot)."""
    s = ctx.settings
    with ctx.sessions() as session:
        try:
            current = dataset_row(session, None)
        except Invalid:  # no version yet
            current = None
    keep = None
    if current is not None:
        try:
            snapshot = usable_snapshot(ctx, current, ())
        except SnapshotError as exc:
            log.warning("no working copy: the snapshot is not usable",
                        dataset_version_id=str(current["dataset_version_id"]), reason=exc.message.key)
        else:
            keep = _path(ctx, str(current["snapshot_sha256"]))
    now = time.time()
    for path in working_copy.kept(s.data_dir):
        if path == keep:
            continue
        if path.suffix == working_copy.SUFFIX or now - path.stat().st_mtime > STALE_BUILD_SECONDS:
            path.unlink(missing_ok=True)
            log.info("working copy deleted", file=path.name)
    if keep is not None and not keep.is_file():
        started = time.perf_counter()
        count = working_copy.build(snapshot, keep, hash_key=s.subject_key_ring.current.secret,
                                  threads=s.targeting_duckdb_threads,
                                  memory=s.targeting_duckdb_memory, temp_dir=Path(s.data_dir) / "tmp")
        log.info("working copy built", dataset_version_id=str(current["dataset_version_id"]), rows=count,
                 seconds=round(time.perf_counter() - started, 2), bytes=keep.stat().st_size)
    return keep


def run(ctx: Context, stop: threading.Event) -> None:
    """The worker's loop (`targeting-working-copy`): `refresh` every P3KE_TARGETING_WORKING_COPY_SECONDS."""
    while not stop.is_set():
        try:
            refresh(ctx)
        except Exception as exc:  # the next run tries again; until then selections read the Parquet snapshot
            log.error("working copy failed", error=type(exc).__name__)
        stop.wait(ctx.settings.targeting_working_copy_seconds)
