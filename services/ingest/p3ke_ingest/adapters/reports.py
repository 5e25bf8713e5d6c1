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

from p3ke_platform.tabular.csv_safe import formula_safe_row

FINDINGS_SCHEMA = pa.schema([("file", pa.string()), ("data_row", pa.int64()), ("line", pa.int64()),
                             ("field", pa.string()), ("code", pa.string()), ("severity", pa.string()),
                             ("message", pa.string()), ("value", pa.string())])
COLUMNS = FINDINGS_SCHEMA.names


def _filter(code: str | None, severity: str | None, file: str | None) -> Any:
    expr = None
    for name, value in (("code", code), ("severity", severity), ("file", file)):
        if value:
            term = pc.field(name) == value
            expr = term if expr is None else expr & term
    return expr


def page(path: Path, offset: int, limit: int, *, code: str | None = None, severity: str | None = None,
         file: str | None = None) -> tuple[int, list[dict[str, Any]]]:
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
        rows.extend(take.to_pylist())
        skipped += batch.num_rows
        if len(rows) >= limit:
            break
    return total, rows


def export(path: Path, fmt: str) -> Iterator[bytes]:
    """The whole report as CSV (with a header) or JSON Lines, in chunks."""
    dataset = ds.dataset(path, format="parquet")
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(COLUMNS)
        yield buf.getvalue().encode()
    for batch in dataset.to_batches(batch_size=20_000):
        buf = io.StringIO()
        if fmt == "csv":
            writer = csv.writer(buf, lineterminator="\n")
            for row in batch.to_pylist():
                writer.writerow(formula_safe_row(row[c] for c in COLUMNS))  # None -> ""; formulas kept text
        else:
            for row in batch.to_pylist():
                buf.write(json.dumps(row, ensure_ascii=False) + "\n")
        yield buf.getvalue().encode()


def count(path: Path) -> int:
    return ds.dataset(path, format="parquet").count_rows()
