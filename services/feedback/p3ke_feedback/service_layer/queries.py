"""Reads for the API: handovers and their feedback state, batches, masked findings."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from p3ke_feedback.adapters.orm import feedback_batches, signed_handovers
from p3ke_feedback.domain.findings import BY_CODE
from p3ke_feedback.domain.model import aware
from p3ke_feedback.service_layer.context import Context
from p3ke_platform import i18n
from p3ke_platform.duckdb_engine import sql_path
from p3ke_platform.i18n import DEFAULT, Lang
from p3ke_platform.refusal import Refused, messages
from p3ke_platform.tabular.csv_safe import formula_safe_row

M = messages("feedback")
FINDING_COLUMNS = ("row", "line", "sheet", "field", "code", "severity", "message", "fix", "value", "detail")
_DETAIL = {"duplicate_in_batch": (re.compile(r"first reported in row (\d+)"), "row"),
           "duplicate_across_batches": (re.compile(r"reported in batch (\S+)"), "batch")}
"""A stored detail (English, as matching writes it) -> its catalogue key's parameter."""


def handovers(ctx: Context, session: Session, program: str | None = None, *, limit: int = 100,
              offset: int = 0) -> list[dict[str, Any]]:
    """Signed handovers, oldest first, a page at a time."""
    counts = (select(feedback_batches.c.handover_id, func.count().label("n"))
              .where(feedback_batches.c.status == "current").group_by(feedback_batches.c.handover_id).subquery())
    stmt = (select(signed_handovers, func.coalesce(counts.c.n, 0).label("current_batches"))
            .outerjoin(counts, counts.c.handover_id == signed_handovers.c.handover_id)
            .order_by(signed_handovers.c.signed_at, signed_handovers.c.handover_id).limit(limit).offset(offset))
    if program:
        stmt = stmt.where(signed_handovers.c.program == program)
    now = ctx.clock()
    out = []
    for row in session.execute(stmt).mappings():
        item = dict(row)
        item["overdue"] = (row["first_feedback_at"] is None
                           and (now - aware(row["signed_at"])).days > ctx.settings.feedback_overdue_days)
        out.append(item)
    return out


def batch_row(session: Session, batch_id: str) -> Any:
    row = session.execute(select(feedback_batches).where(feedback_batches.c.batch_id == batch_id)).mappings().first()
    if row is None:
        raise Refused(404, M("batch.not_found", batch=batch_id), rule="batch-unknown")
    return row


def batches(session: Session, handover_id: str | None, status: str | None, limit: int) -> list[Any]:
    stmt = select(feedback_batches).order_by(feedback_batches.c.received_at.desc()).limit(limit)
    if handover_id:
        stmt = stmt.where(feedback_batches.c.handover_id == handover_id)
    if status:
        stmt = stmt.where(feedback_batches.c.status == status)
    return list(session.execute(stmt).mappings())


def _findings_file(ctx: Context, row: Any) -> Path:
    path = ctx.storage / row["directory"] / "findings.parquet"
    if not path.is_file():
        raise Refused(409, M("batch.findings_missing", batch=row["batch_id"]), rule="storage")
    return path


def _where(code: str | None, severity: str | None) -> tuple[str, dict[str, Any]]:
    params: dict[str, Any] = {}
    parts = ["true"]
    if code:
        parts.append("code = $code")
        params["code"] = code
    if severity:
        codes = [c for c, check in BY_CODE.items() if check.severity == severity]
        parts.append("list_contains($codes, code)")
        params["codes"] = codes
    return " AND ".join(parts), params


def _finding(values: tuple[Any, ...], lang: Lang = DEFAULT) -> dict[str, Any]:
    """A stored finding as a person reads it: message and how to fix it in ``lang``, from the catalogue."""
    row, line, sheet, code, value, detail = values
    check = BY_CODE[code]
    if detail and code in _DETAIL:
        pattern, param = _DETAIL[code]
        found = pattern.fullmatch(detail)
        if found:
            detail = i18n.t("findings", f"{code}.detail", lang, **{param: found.group(1)})
    return {"row": row, "line": line, "sheet": sheet, "field": check.field, "code": code,
            "severity": check.severity, "message": check.text(lang), "fix": check.fix_text(lang), "value": value,
            "detail": detail}


def findings_page(ctx: Context, row: Any, offset: int, limit: int, code: str | None,
                  severity: str | None, lang: Lang = DEFAULT) -> tuple[int, list[dict[str, Any]]]:
    path = _findings_file(ctx, row)
    where, params = _where(code, severity)
    con = duckdb.connect()
    try:
        total = con.execute(f"SELECT count(*) FROM read_parquet('{sql_path(path)}') WHERE {where}",
                            params).fetchone()[0]  # type: ignore[index]
        rows = con.execute(f"SELECT row, line, sheet, code, value, detail FROM read_parquet('{sql_path(path)}') "
                           f"WHERE {where} ORDER BY row, code LIMIT {int(limit)} OFFSET {int(offset)}",
                           params).fetchall()
    finally:
        con.close()
    return int(total), [_finding(r, lang) for r in rows]


def findings_count(ctx: Context, row: Any) -> int:
    path = _findings_file(ctx, row)
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def findings_csv(ctx: Context, row: Any, batch: int = 10_000, lang: Lang = DEFAULT) -> Iterator[bytes]:
    """The whole findings report as CSV (UTF-8 with BOM, for spreadsheets), streamed; message and fix in
    ``lang``."""
    import pyarrow.parquet as pq

    path = _findings_file(ctx, row)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(FINDING_COLUMNS)
    for chunk in pq.ParquetFile(path).iter_batches(batch_size=batch,
                                                   columns=["row", "line", "sheet", "code", "value", "detail"]):
        for values in zip(*(chunk.column(i).to_pylist() for i in range(6)), strict=True):
            f = _finding(values, lang)
            writer.writerow(formula_safe_row(f[c] for c in FINDING_COLUMNS))  # None -> ""; formulas kept text
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()
