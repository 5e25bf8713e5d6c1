"""DuckDB as the services use it: one in-memory connection per operation, bounded in threads and memory
(it spills to a temp directory beyond the limit), and HMAC-SHA256 computed in SQL.

DuckDB is a dependency of the services that query with it, not of the platform: it is imported when a
connection is made.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb


@contextmanager
def connect(threads: int, memory: str, temp_dir: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory connection using at most `threads` threads and `memory` (e.g. `"1GB"`), spilling to
    `temp_dir` (created if missing), without a progress bar; closed on leaving the block."""
    import duckdb

    temp_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(":memory:", config={"threads": threads, "memory_limit": memory,
                                             "temp_directory": str(temp_dir)})
    try:
        con.execute("SET enable_progress_bar = false")
        yield con
    finally:
        con.close()


def hmac_keys(key: str) -> tuple[bytes, bytes]:
    """The outer and inner padded keys of HMAC-SHA256 (RFC 2104), to compute it in SQL as
    `sha256(opad || unhex(sha256(ipad || message)))`."""
    raw = key.encode()
    if len(raw) > 64:
        raw = hashlib.sha256(raw).digest()
    block = raw.ljust(64, b"\0")
    return bytes(b ^ 0x5C for b in block), bytes(b ^ 0x36 for b in block)


def sql_path(path: Path) -> str:
    """A path as the content of a SQL string literal (quotes doubled): `read_parquet('{sql_path(p)}')`."""
    return str(path).replace("'", "''")
