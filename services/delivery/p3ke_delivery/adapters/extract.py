"""The extract file targeting froze: where it is, whether it is intact, and its rows in batches.

An extract is a Parquet or CSV file under the shared data directory, named by `file_uri` (a path or
a `file://` URI) and fixed by `file_sha256`. Read in batches, so memory does not grow with its size.
CSV columns are all read as text: a NIK is an identifier, never a number (spreadsheets mangle it).
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

import pyarrow as pa

CHUNK = 1024 * 1024


class ExtractError(ValueError):
    """The extract cannot be used; the message says why (no row content, ever)."""


def resolve(uri: str, root: Path) -> Path:
    """The local path of `uri`, which must lie under `root` (an event cannot point anywhere else)."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise ExtractError(f"extract URI names a remote host ({parsed.netloc}); only local files are read")
        raw = unquote(parsed.path)
    elif parsed.scheme == "" or (len(parsed.scheme) == 1 and uri[1:3] in (":\\", ":/")):
        raw = uri
    else:
        raise ExtractError(f"extract URI scheme '{parsed.scheme}' is not supported (a path or file:// URI)")
    path = Path(raw)
    if not path.is_absolute():
        path = root / path
    resolved, base = path.resolve(), root.resolve()
    if not resolved.is_relative_to(base):
        raise ExtractError(f"the extract lies outside the shared data directory {base}")
    if not resolved.is_file():
        raise ExtractError(f"the extract file {resolved.name} does not exist")
    return resolved


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


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
