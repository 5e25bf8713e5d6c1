"""Freeze a selection as files: the extract (allowed fields + provenance) and its recipient ledger.

Each file is written under a temporary name, flushed to disk and renamed into place, so a reader
never sees half a file. Names are deterministic (the extract id), so a retried request rewrites
the same paths, and a refused one removes whatever an earlier failed attempt left there.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from p3ke_platform.duckdb_engine import sql_path
from p3ke_platform.parquet_stream import write_query
from p3ke_platform.shared_files import publish_file, sha256_file, temp_for
from p3ke_targeting.adapters.duckdb_selection import ledger_refs, order_by, q, table_name
from p3ke_targeting.domain.selection import Selection

PROVENANCE_PREFIX = "p3ke."


def write_extract(con: duckdb.DuckDBPyConnection, *, table: str, selection: Selection, fields: Sequence[str],
                  final: Path, provenance: Mapping[str, str]) -> str:
    """Write the selection `table` (see duckdb_selection.select_into) in priority order with only `fields`; return
    its SHA-256.

    Provenance (dataset version, request id, rules version, ...) is Parquet key-value metadata
    (`p3ke.*`), not columns: the rows carry only what the program may receive.
    """
    temp = temp_for(final)
    try:
        write_query(con, f"SELECT {', '.join(q(f) for f in fields)} FROM {table_name(table)} "
                         f"ORDER BY {order_by(selection)}", temp,
                    metadata={f"{PROVENANCE_PREFIX}{k}": v for k, v in provenance.items()})
        digest = sha256_file(temp)
        publish_file(temp, final)
        return digest
    finally:
        temp.unlink(missing_ok=True)


def write_ledger(con: duckdb.DuckDBPyConnection, table: str, hash_key: str, final: Path) -> str:
    """Write the subject references of the selection `table`'s persons under `hash_key` (the current key), sorted,
    as the extract's recipient ledger; return its SHA-256."""
    temp = temp_for(final)
    sql, params = ledger_refs(table, hash_key)
    try:
        con.execute(f"COPY ({sql}) TO '{sql_path(temp)}' (FORMAT parquet, COMPRESSION zstd)", params)
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
