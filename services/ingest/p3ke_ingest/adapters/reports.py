"""The findings report: a Parquet file of masked findings, paged and exported as CSV or JSON Lines."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from p3ke_platform.i18n import DEFAULT, Lang
from p3ke_platform.tabular.csv_safe import formula_safe_row

FINDINGS_SCHEMA = pa.schema([("file", pa.string()), ("data_row", pa.int64()), ("line", pa.int64()),
                             ("field", pa.string()), ("code", pa.string()), ("severity", pa.string()),
                             ("message", pa.string()), ("fix", pa.string()), ("value", pa.string()),
                             ("message_en", pa.string()), ("fix_en", pa.string())])
COLUMNS = ["file", "data_row", "line", "field", "code", "severity", "message", "fix", "value"]
"""What a reader gets: ``message`` and ``fix`` in the language asked for (Indonesian unless English)."""


def _in(row: dict[str, Any], lang: Lang) -> dict[str, Any]:
    """One stored finding as served: message and fix in ``lang`` (a report written before the fix column
    existed has none: "")."""
    en = lang == "en"
    message = (row.get("message_en") if en else None) or row.get("message") or row.get("code") or ""
    fix = (row.get("fix_en") if en else row.get("fix")) or ""
    return {**{c: row.get(c) for c in COLUMNS}, "message": message, "fix": fix}


def _filter(code: str | None, severity: str | None, file: str | None) -> Any:
    expr = None
    for name, value in (("code", code), ("severity", severity), ("file", file)):
        if value:
            term = pc.field(name) == value
            expr = term if expr is None else expr & term
    return expr


def page(path: Path, offset: int, limit: int, *, code: str | None = None, severity: str | None = None,
         file: str | None = None, lang: Lang = DEFAULT) -> tuple[int, list[dict[str, Any]]]:
    """(total matching, the rows of one page); reads the file batch by batch."""
    dataset = ds.dataset(path, format="parquet")
    flt = _filter(code, severity, file)
    total = dataset.count_rows(filter=flt)
    rows: list[dict[str, Any]] = []
    skipped = 0
    for batch in dataset.to_batches(filter=flt, batch_size=65_536):
        if skipped + batch.num_rows <= offset:
            skipped += batch.num_rows
            continue
        start = max(0, offset - skipped)
        take = batch.slice(start, limit - len(rows))
        rows.extend(_in(r, lang) for r in take.to_pylist())
        skipped += batch.num_rows
        if len(rows) >= limit:
            break
    return total, rows


def export(path: Path, fmt: str, lang: Lang = DEFAULT) -> Iterator[bytes]:
    """The whole report as CSV (with a header; UTF-8 with a BOM, for spreadsheets) or JSON Lines, in chunks;
    message and fix in ``lang``."""
    dataset = ds.dataset(path, format="parquet")
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        buf.write("\ufeff")
        writer.writerow(COLUMNS)
        yield buf.getvalue().encode()
    for batch in dataset.to_batches(batch_size=20_000):
        buf = io.StringIO()
        if fmt == "csv":
            writer = csv.writer(buf, lineterminator="\n")
            for row in batch.to_pylist():
                row = _in(row, lang)
                writer.writerow(formula_safe_row(row[c] for c in COLUMNS))  # None -> ""; formulas kept text
        else:
            for row in batch.to_pylist():
                buf.write(json.dumps(_in(row, lang), ensure_ascii=False) + "\n")
        yield buf.getvalue().encode()


def count(path: Path) -> int:
    return ds.dataset(path, format="parquet").count_rows()
