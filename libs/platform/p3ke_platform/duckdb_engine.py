"""DuckDB as the services use it: one in-memory connection per operation, bounded in threads and memory
(it spills to a temp directory beyond the limit), and HMAC-SHA256 computed in SQL.

A service process keeps its databases open (`Databases`, one per service context): an operation then gets a
connection of its own to an open database instead of a new database, whose opening and closing cost about 12 ms.
Measured with `bench targeting` (3 interleaved pairs): an extract from 10^5 rows 47-50 ms against 61-68 ms, from
10^6 rows 218-233 ms against 238-242 ms.

DuckDB is a dependency of the services that query with it, not of the platform: it is imported when a
connection is made.
"""

from __future__ import annotations

import hashlib
import os
import threading
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
    with _in_use(_open(threads, memory, temp_dir)) as con:
        yield con


def _open(threads: int, memory: str, temp_dir: Path) -> duckdb.DuckDBPyConnection:
    """A new in-memory database of these bounds (its first connection); `temp_dir` is created if missing."""
    import duckdb

    temp_dir.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(":memory:", config={"threads": threads, "memory_limit": memory,
                                              "temp_directory": str(temp_dir)})


@contextmanager
def _in_use(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """`con` without a progress bar, closed on leaving the block."""
    try:
        con.execute("SET enable_progress_bar = false")
        yield con
    finally:
        con.close()


class Databases:
    """The in-memory databases of one service process, one per (threads, memory, temp directory), each opened on
    first use and kept until `close`.

    `connect` gives each operation a connection of its own: its temporary tables and registered Arrow tables are
    its own and are dropped when it ends, as with a database of its own. Operations running at the same time share
    their database's memory limit and threads (the process stays within one limit). A process forked from this one
    opens its own databases.
    """

    def __init__(self) -> None:
        self._open: dict[tuple[int, int, str, str], duckdb.DuckDBPyConnection] = {}
        self._lock = threading.Lock()

    @contextmanager
    def connect(self, threads: int, memory: str, temp_dir: Path) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the database of these bounds (see `connect`); closed on leaving the block."""
        temp_dir.mkdir(parents=True, exist_ok=True)  # again: something may have removed it since the database opened
        key = (os.getpid(), threads, memory, str(temp_dir))
        with self._lock:
            database = self._open.get(key)
            if database is None:
                database = self._open[key] = _open(threads, memory, temp_dir)
            con = database.cursor()
        with _in_use(con):
            yield con

    def close(self) -> None:
        """Close every database this process opened (their connections with them)."""
        with self._lock:
            databases = [db for (pid, *_), db in self._open.items() if pid == os.getpid()]
            self._open.clear()
        for database in databases:
            database.close()


def hmac_keys(key: str) -> tuple[bytes, bytes]:
    """The outer and inner padded keys of HMAC-SHA256 (RFC 2104), to compute it in SQL as
    `sha256(opad || unhex(sha256(ipad || message)))`."""
    raw = key.encode()
    if len(raw) > 64:
        raw = hashlib.sha256(raw).digest()
    block = raw.ljust(64, b"\0")
    return bytes(b ^ 0x5C for b in block), bytes(b ^ 0x36 for b in block)


def sql_text(value: str) -> str:
    """`value` as a SQL string literal (quotes doubled), for the places DuckDB takes no parameter (COPY's
    options)."""
    return "'" + value.replace("'", "''") + "'"


def sql_path(path: Path) -> str:
    """A path as the content of a SQL string literal (quotes doubled): `read_parquet('{sql_path(p)}')`."""
    return str(path).replace("'", "''")
