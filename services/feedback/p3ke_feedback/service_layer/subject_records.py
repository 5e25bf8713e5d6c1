"""A data subject's rows in the data balikan batches feedback holds, for an access request (UU PDP Art. 32).

A batch's rows live in files, not in the database (`adapters.orm`): `rows.parquet` (the matched rows, with
the valid NIK, no name) and the uploaded file as received. One DuckDB query over every batch's
`rows.parquet` finds the person's rows (the filter is pushed into the Parquet scan); only a batch that
holds them has its uploaded file staged again (`adapters.sources`, as at upload), to answer the row as
party 2 sent it: name, region, program, activity, dates, status and benefit as typed, with the line and
what matching made of it. Superseded batches are answered too (they are kept), with `current` false.
A row whose NIK was invalid when received is not found by NIK (it was never matched to a person).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select

from p3ke_feedback.adapters import sources
from p3ke_feedback.adapters.orm import feedback_batches
from p3ke_feedback.domain.layout import COLUMNS
from p3ke_feedback.domain.model import aware
from p3ke_feedback.service_layer.context import Context
from p3ke_platform.duckdb_engine import sql_path
from p3ke_platform.refusal import Refused, messages
from p3ke_platform.subject_records import FieldValue, HeldRecord

M = messages("feedback")

SOURCE = "feedback-batch"
RESOURCE_TYPE = "feedback-batch"
"""As the audit log names a batch (its upload and match events)."""
ROWS_FILE = "rows.parquet"
MATCHED = ("line", "class", "rejected")
"""What the batch made of the row, answered beside the row as received (as `baris`, `hasil_pencocokan`, `ditolak`)."""


def lookup(ctx: Context, nik: str) -> list[HeldRecord]:
    """Every row of `nik` in every stored batch, oldest batch first."""
    with ctx.sessions() as session:
        batches = {r["batch_id"]: dict(r) for r in session.execute(
            select(feedback_batches).order_by(feedback_batches.c.received_at, feedback_batches.c.batch_id))
            .mappings()}
    if not batches:
        return []
    files = {batch_id: _rows_file(ctx, row) for batch_id, row in batches.items()}
    s = ctx.settings
    records: list[HeldRecord] = []
    with ctx.duckdb.connect(s.feedback_duckdb_threads, s.feedback_duckdb_memory, s.temp_dir) as con:
        found = _rows_of(con, files, nik)
        for batch_id in batches:
            hits = found.get(batch_id)
            if hits:
                received = _as_received(ctx, con, batches[batch_id], [int(h["row"]) for h in hits])
                records += [_record(batches[batch_id], {**received[int(h["row"])], **_matched(h)}) for h in hits]
    return records


def _rows_file(ctx: Context, batch: dict[str, Any]) -> Path:
    path = ctx.storage / str(batch["directory"]) / ROWS_FILE
    if not path.is_file():
        raise Refused(409, M("subject.rows_missing", batch=batch["batch_id"]), rule="storage")
    return path


def _rows_of(con: Any, files: dict[str, Path], nik: str) -> dict[str, list[dict[str, Any]]]:
    """batch id -> the person's rows in its `rows.parquet` (row, line, class, rejected), in file order."""
    by_path = {str(path): batch_id for batch_id, path in files.items()}
    listed = ", ".join(f"'{sql_path(p)}'" for p in files.values())
    result = con.execute(f"""SELECT filename, row, line, class, rejected
                             FROM read_parquet([{listed}], filename=true, union_by_name=true)
                             WHERE nik = $nik ORDER BY filename, row""", {"nik": nik})
    found: dict[str, list[dict[str, Any]]] = {}
    names = [d[0] for d in result.description]
    for values in result.fetchall():
        hit = dict(zip(names, values, strict=True))
        found.setdefault(by_path[hit.pop("filename")], []).append(hit)
    return found


def _as_received(ctx: Context, con: Any, batch: dict[str, Any], rows: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The rows (1-based, as `rows.parquet` numbers them) of the batch's uploaded file, every field as typed."""
    original = ctx.batch_dir(str(batch["batch_id"])) / f"original.{batch['file_format']}"
    if not original.is_file():
        raise Refused(409, M("subject.original_missing", batch=batch["batch_id"]), rule="storage")
    work = ctx.storage / "work" / uuid.uuid4().hex
    work.mkdir(parents=True, exist_ok=True)
    try:
        con.execute("DROP TABLE IF EXISTS raw")
        sources.stage(con, original, work)
        picked = ", ".join(COLUMNS)
        result = con.execute(f"SELECT rowid + 1 AS row, {picked} FROM raw WHERE rowid + 1 IN "
                             f"(SELECT unnest($rows::BIGINT[]))", {"rows": list(rows)}).fetchall()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {int(r[0]): dict(zip(COLUMNS, r[1:], strict=True)) for r in result}


def _matched(hit: dict[str, Any]) -> dict[str, FieldValue]:
    return {"baris": int(hit["line"]) if hit["line"] is not None else None, "hasil_pencocokan": hit["class"],
            "ditolak": bool(hit["rejected"])}


def _record(batch: dict[str, Any], fields: dict[str, FieldValue]) -> HeldRecord:
    received = aware(batch["received_at"])
    current = batch["status"] == "current"
    later = "" if current else f" (digantikan oleh {batch['superseded_by']})"
    return HeldRecord(
        source=SOURCE, resource_type=RESOURCE_TYPE, resource_id=str(batch["batch_id"]),
        title=f"Data balikan program {batch['program']} periode {batch['period']}, diterima {received:%Y-%m-%d}, "
              f"serah terima {batch['handover_id']}, batch {batch['batch_id']}{later}",
        held_since=received, current=current, fields=fields)
