"""Freeze a selection as files: the extract (allowed fields + provenance) and its recipient ledger.

Each file is written under a temporary name, flushed to disk and renamed into place, so a reader
never sees half a file. Names are deterministic (the extract id), so a retried request rewrites
the same paths, and a refused one removes whatever an earlier failed attempt left there.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from p3ke_platform.duckdb_engine import sql_path, sql_text
from p3ke_platform.shared_files import publish_file, sha256_file, temp_for
from p3ke_platform.subject_keys import subject_refs
from p3ke_targeting.adapters.duckdb_selection import ledger_refs, order_by, q, table_name
from p3ke_targeting.domain.selection import Selection

PROVENANCE_PREFIX = "p3ke."
LEDGER_SCHEMA = pa.schema([pa.field("subject_ref", pa.string())])
"""A recipient ledger's one column, as DuckDB writes it from SQL."""


def write_extract(con: duckdb.DuckDBPyConnection, *, table: str, selection: Selection, fields: Sequence[str],
                  final: Path, provenance: Mapping[str, str]) -> str:
    """Write the selection `table` (see duckdb_selection.select_into) in priority order with only `fields`; return
    its SHA-256.

    Provenance (dataset version, request id, rules version, ...) is Parquet key-value metadata
    (`p3ke.*`), not columns: the rows carry only what the program may receive. zstd level 1: 48 ms against 58 ms at
    the default level for 50,000 persons, the file 1 % larger (scratch script), as ingest writes its snapshots.
    """
    metadata = ", ".join(f"{sql_text(PROVENANCE_PREFIX + k)}: {sql_text(v)}" for k, v in provenance.items())
    return _written(final, lambda temp: con.execute(
        f"COPY (SELECT {', '.join(q(f) for f in fields)} FROM {table_name(table)} ORDER BY {order_by(selection)}) "
        f"TO '{sql_path(temp)}' (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1, KV_METADATA {{{metadata}}})"))


LEDGER_IN_MEMORY = 1_000_000
"""Up to this many persons, a selection's subject references are computed and sorted in Python (`selected_refs`,
about 115 MB at the limit); beyond it, in SQL (`write_ledger`), where DuckDB spills to disk past the connection's
memory limit."""


def selected_refs(con: duckdb.DuckDBPyConnection, table: str, hash_key: str) -> pa.Array:
    """The subject references of the selection `table`'s persons under `hash_key` (the current key), sorted: what
    `write_ledger` writes: read from the selection's `__ref` when it came from the working copy (they were computed
    when the copy was made), else computed with `subject_refs` (OpenSSL's SHA-256). For 50,000 persons about 45 ms
    against 93-95 ms for the ledger in DuckDB's SQL, which hashes on one thread (the selection is one row group)
    with a slower SHA-256."""
    selected = con.sql(f"SELECT __nik, __ref FROM {table_name(table)} ORDER BY __ref").to_arrow_table()
    stored = selected.column(1)
    if stored.null_count == 0:  # read from the working copy (made under the same key), sorted by DuckDB
        return stored.combine_chunks()
    return pa.array(sorted(subject_refs(hash_key, selected.column(0).to_pylist())), pa.string())


def write_ledger(con: duckdb.DuckDBPyConnection, table: str, hash_key: str, final: Path) -> str:
    """Write the subject references of the selection `table`'s persons under `hash_key` (the current key), sorted,
    as the extract's recipient ledger; return its SHA-256."""
    sql, params = ledger_refs(table, hash_key)
    return _written(final, lambda temp: con.execute(
        f"COPY ({sql}) TO '{sql_path(temp)}' (FORMAT parquet, COMPRESSION zstd)", params))


def write_ledger_refs(refs: pa.Array, final: Path) -> str:
    """Write `refs` (from `selected_refs`) as the extract's recipient ledger, as `write_ledger` would; return its
    SHA-256."""
    table = pa.Table.from_arrays([refs.cast(pa.string())], schema=LEDGER_SCHEMA)
    return _written(final, lambda temp: pq.write_table(table, temp, compression="zstd"))


def _written(final: Path, write: Callable[[Path], object]) -> str:
    """Write `final` through `write(temp)` under a temporary name, flush it and rename it into place; return its
    SHA-256. The temporary file is removed whatever happened."""
    temp = temp_for(final)
    try:
        write(temp)
        digest = sha256_file(temp)
        publish_file(temp, final)
        return digest
    finally:
        temp.unlink(missing_ok=True)


def read_refs(ledger: Path, batch: int = 65_536) -> Iterator[str]:
    """A ledger's subject references, one by one, read `batch` at a time (memory stays bounded whatever
    the extract's size)."""
    for chunk in pq.ParquetFile(ledger).iter_batches(batch_size=batch, columns=["subject_ref"]):
        yield from chunk.column(0).to_pylist()


def read_provenance(path: Path) -> dict[str, str]:
    meta = pq.read_schema(path).metadata or {}
    return {k.decode()[len(PROVENANCE_PREFIX):]: v.decode() for k, v in meta.items()
            if k.decode().startswith(PROVENANCE_PREFIX)}


def remove(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def provenance_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
