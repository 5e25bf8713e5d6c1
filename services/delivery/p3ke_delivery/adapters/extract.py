"""The extract file targeting froze: where it is, whether it is intact, and its rows in batches.

An extract is a Parquet or CSV file under the shared data directory, named by `file_uri` (a path or
a `file://` URI) and fixed by `file_sha256`. Read in batches, so memory does not grow with its size.
CSV columns are all read as text: a NIK is an identifier, never a number (spreadsheets mangle it).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from p3ke_platform.shared_files import resolve_under


class ExtractError(ValueError):
    """The extract cannot be used; the message says why (no row content, ever)."""


def resolve(uri: str, root: Path) -> Path:
    """The local path of `uri`, which must lie under `root` (an event cannot point anywhere else)."""
    return resolve_under(uri, root, "extract", error=ExtractError, uri_subject="extract")


def kind(path: Path) -> str:
    with path.open("rb") as fh:
        head = fh.read(4)
    if head == b"PAR1":
        return "parquet"
    if path.suffix.lower() in (".csv", ".txt"):
        return "csv"
    raise ExtractError(f"the extract {path.name} is neither Parquet nor CSV")


def _csv_header(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        header = next(csv.reader(fh), None)
    if not header:
        raise ExtractError(f"the CSV extract {path.name} has no header row")
    return header


def schema(path: Path) -> pa.Schema:
    if kind(path) == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).schema_arrow
    return pa.schema([(name, pa.string()) for name in _csv_header(path)])


def batches(path: Path, rows: int) -> Iterator[pa.RecordBatch]:
    """The extract's rows, about `rows` at a time, in file order."""
    if kind(path) == "parquet":
        import pyarrow.parquet as pq

        with pq.ParquetFile(path) as pf:
            yield from pf.iter_batches(batch_size=rows)
        return
    import pyarrow.csv as pcsv

    names = _csv_header(path)
    reader = pcsv.open_csv(
        path,
        read_options=pcsv.ReadOptions(block_size=max(1 << 20, rows * 160), encoding="utf8"),
        convert_options=pcsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                             strings_can_be_null=False, quoted_strings_can_be_null=False),
    )
    for batch in reader:
        # the BOM, if any, is part of the first column's name in pyarrow; keep the clean names
        yield pa.RecordBatch.from_arrays(batch.columns, names=names)
