"""Delivered counts of a handover: who was handed over, by regency and desil, added to the report
cells once, when everything needed is known.

Topics are consumed independently, so `handover-signed`, the `extract-prepared` of its extract and
the `dataset-updated` of the extract's snapshot may arrive in any order, and any of them again. Each
handler records its event and then tries to settle what became settleable; settling is idempotent
(state `settled`) and happens in the handler's transaction, so the cells move exactly once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from p3ke_feedback.adapters import matching
from p3ke_feedback.adapters.files import FileProblem, resolve, verify
from p3ke_feedback.adapters.orm import delivered_cells, extracts, signed_handovers, snapshots
from p3ke_feedback.service_layer import aggregates
from p3ke_feedback.service_layer.context import Context
from p3ke_platform.logging import get_logger

log = get_logger(__name__)


# pg_advisory_xact_lock key of the handlers that learn what settling needs: "p3kefbst"
SETTLE_LOCK_KEY = 0x7033_6B65_6662_7374


def serialize_settlement(session: Session) -> None:
    """Run the handlers of handover-signed, extract-prepared and dataset-updated one at a time.

    Each topic has its own agent, so two of these may run in concurrent transactions. Without this,
    an extract and its snapshot arriving together would each miss the other's uncommitted row and the
    handover would stay pending for ever (write skew). PostgreSQL: a transaction-level advisory lock,
    taken before the handler reads (READ COMMITTED: later statements see what the holder committed).
    SQLite: every transaction already holds the write lock from BEGIN IMMEDIATE (p3ke_platform.db).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SETTLE_LOCK_KEY})


class Pending(Exception):
    """Not settleable yet: something it needs has not arrived (the message says what)."""


def extract_file(ctx: Context, ext: Any) -> tuple[Path, matching.FileColumns]:
    """The extract's file, checked against its announced SHA-256 (raises FileProblem)."""
    path = resolve(ext["file_uri"], ctx.settings.shared_root, "extract")
    verify(path, ext["file_sha256"], "extract")
    return path, matching.extract_columns(path)


def snapshot_file(ctx: Context, row: Any) -> Path:
    version = row["dataset_version_id"]
    path = resolve(row["snapshot_uri"], ctx.settings.shared_root, f"snapshot of dataset version {version}")
    if row["snapshot_sha256"]:
        verify(path, row["snapshot_sha256"], f"snapshot of dataset version {version}")
    matching.check_snapshot(path, version)
    return path


def snapshot_row(session: Session, version: str | None, *, latest: bool) -> Any:
    """The snapshot of `version`; with `latest`, the newest known one when that version is unknown."""
    if version:
        row = session.execute(select(snapshots).where(snapshots.c.dataset_version_id == version)).mappings().first()
        if row is not None or not latest:
            return row
    if not latest:
        return None
    return session.execute(select(snapshots).order_by(snapshots.c.published_at.desc()).limit(1)).mappings().first()


def _cells(ctx: Context, session: Session, handover: Any, ext: Any) -> list[tuple[str, int, int]]:
    _, columns = extract_file(ctx, ext)
    if not columns.has_nik and (columns.region is None or columns.desil is None):
        # no NIK to look people up: what the extract-prepared event said, by desil, region unknown
        by_desil = json.loads(ext["counts_by_desil"] or "{}")
        return [("", int(d), int(n)) for d, n in sorted(by_desil.items()) if int(n)]
    snapshot = None
    if matching.ext_needs_snapshot(columns):
        row = snapshot_row(session, ext["dataset_version_id"], latest=False)
        if row is None:
            raise Pending(f"waiting for dataset version {ext['dataset_version_id']} (the extract has no region "
                          f"or desil columns, so they are looked up in its snapshot)")
        snapshot = snapshot_file(ctx, row)
    s = ctx.settings
    with ctx.duckdb.connect(s.feedback_duckdb_threads, s.feedback_duckdb_memory, s.temp_dir) as con:
        return matching.delivered(con, columns, snapshot)


def settle(ctx: Context, session: Session, handover_id: str) -> str:
    """Settle one handover's delivered counts if possible; returns its delivered state."""
    handover = session.execute(select(signed_handovers).where(
        signed_handovers.c.handover_id == handover_id)).mappings().first()
    if handover is None or handover["delivered_state"] == "settled":
        return handover["delivered_state"] if handover else "unknown"
    ext = session.execute(select(extracts).where(extracts.c.extract_id == handover["extract_id"])).mappings().first()
    state, reason, cells = "pending", None, []
    if ext is None:
        reason = f"waiting for extract-prepared of extract {handover['extract_id']}"
    else:
        try:
            cells = _cells(ctx, session, handover, ext)
            state = "settled"
        except Pending as pending:
            reason = str(pending)
        except (FileProblem, OSError) as exc:
            state, reason = "problem", str(exc) if isinstance(exc, FileProblem) else f"{type(exc).__name__}"
    values: dict[str, Any] = {"delivered_state": state, "delivered_reason": reason}
    if state == "settled":
        total = sum(n for _, _, n in cells)
        if cells:
            session.execute(insert(delivered_cells), [{"handover_id": handover_id, "region": r, "desil": d,
                                                       "delivered": n} for r, d, n in cells])
        aggregates.add_delivered(session, handover["program"], handover["period"], cells)
        values["delivered_total"] = total
        if total != handover["record_count"]:
            values["delivered_reason"] = (f"the extract holds {total} persons; handover-signed announced "
                                          f"{handover['record_count']}")
    session.execute(update(signed_handovers).where(signed_handovers.c.handover_id == handover_id).values(**values))
    if state != "pending":
        log.info("handover delivered counts", handover_id=handover_id, state=state)
    return state


def settle_where(ctx: Context, session: Session, *conditions: Any) -> None:
    """Try to settle every unsettled handover matching `conditions`."""
    ids = session.scalars(select(signed_handovers.c.handover_id).where(
        signed_handovers.c.delivered_state != "settled", *conditions)).all()
    for handover_id in ids:
        settle(ctx, session, handover_id)
