"""A working copy of a snapshot in DuckDB's own storage, which selections and planning read instead of the Parquet
file when it is there.

DuckDB scans its own format faster than zstd Parquet: one province of a 10^7-row snapshot (50,000 persons taken)
in 0.15-0.18 s against 0.23-0.29 s (scratch script, 2 threads). The copy is built once per dataset version, off the
extract path, by the worker's loop (`service_layer.working_copies`); until it exists, or where it is turned off
(`P3KE_TARGETING_WORKING_COPY=false`), everything reads the Parquet snapshot, with the same results.

- **Named by the snapshot's SHA-256 and a subject hash key's id** (`<data_dir>/targeting-working/<sha256>.<key
  id>.duckdb`): a copy is only ever used for the content it was made from, which was verified before the copy was
  made, and while that key is the current one. Beside the snapshot's columns it holds each person's subject
  reference under that key (`duckdb_selection.STORED_REF`), so that an extract's recipient ledger reads them
  instead of computing them.
- **Written whole or not at all**: built under a temporary name, its rows counted against the Parquet footer,
  checkpointed, flushed and renamed (`shared_files.publish_file`).
- **Holds what the snapshot holds** (personal data), so it is kept no longer: only the current version's copy is
  kept, and a copy whose snapshot is gone (disposed of by ingest's retention schedule) is deleted by the next run of
  the loop. File mode 0600.
- **Attached read-only**, once per process and database (`Attachments`); a copy deleted by another process is
  detached here when no selection is reading it; a copy that does not open (another DuckDB storage version after an
  upgrade, damage) is deleted, and rebuilt by the loop.
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from p3ke_platform.duckdb_engine import hmac_keys, sql_path
from p3ke_platform.logging import get_logger
from p3ke_platform.shared_files import publish_file, temp_for
from p3ke_platform.subject_keys import KEY_ID
from p3ke_targeting.adapters.duckdb_selection import PARQUET, STORED_REF, Rows, subject_ref_sql

log = get_logger(__name__)

TABLE = "snapshot"
SUFFIX = ".duckdb"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_ALIAS = re.compile(r"wc_[0-9a-f]{12}")


class WorkingCopyError(RuntimeError):
    """A copy that came out different from its snapshot (never published)."""


def directory(data_dir: Path) -> Path:
    """Where the copies are: beside the service's own directory, not in it (`<data_dir>/targeting` is the recipient
    ledgers' claim on Kubernetes; the copy belongs in the pod's scratch space, which dies with the pod)."""
    return Path(data_dir) / "targeting-working"


def path_for(data_dir: Path, snapshot_sha256: str, key_id: str) -> Path:
    """Where the copy of the snapshot with this SHA-256, its subject references under the key `key_id`, is kept."""
    if not _SHA256.fullmatch(snapshot_sha256):
        raise ValueError("a snapshot's SHA-256 is 64 lower-case hex digits")
    if not KEY_ID.fullmatch(key_id):
        raise ValueError("not a subject hash key id")
    return directory(data_dir) / f"{snapshot_sha256}.{key_id}{SUFFIX}"


def build(snapshot: Path, final: Path, *, hash_key: str, threads: int, memory: str, temp_dir: Path) -> int:
    """Copy the (verified) Parquet `snapshot` into a new DuckDB database at `final`, in the snapshot's row order
    (region by region, as ingest wrote it, so that region filters skip the other regions), with each person's
    subject reference under `hash_key` (the key whose id names the file) in `STORED_REF`; return its rows."""
    temp = temp_for(final)
    temp_dir.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(temp), config={"threads": threads, "memory_limit": memory,
                                                 "temp_directory": str(temp_dir), "preserve_insertion_order": True})
        try:
            con.execute("SET enable_progress_bar = false")
            opad, ipad = hmac_keys(hash_key)
            con.execute(f"CREATE TABLE {TABLE} AS SELECT *, {subject_ref_sql('nik')} AS {STORED_REF} "
                        f"FROM read_parquet('{sql_path(snapshot)}')", {"opad": opad, "ipad": ipad})
            row = con.execute(f"SELECT count(*) FROM {TABLE}").fetchone()
            rows = int(row[0]) if row else -1
            expected = pq.ParquetFile(snapshot).metadata.num_rows
            if rows != expected:
                raise WorkingCopyError(f"working copy has {rows} rows, the snapshot {expected}")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.chmod(temp, 0o600)
        publish_file(temp, final)
    finally:
        for leftover in (temp, temp.with_name(temp.name + ".wal")):
            leftover.unlink(missing_ok=True)
    return rows


def kept(data_dir: Path) -> list[Path]:
    """The copies on disk, and the leftovers of builds that stopped half-way."""
    where = directory(data_dir)
    if not where.is_dir():
        return []
    return sorted(p for p in where.iterdir() if p.is_file() and (p.suffix == SUFFIX or p.name.endswith(".tmp")
                                                                  or p.name.endswith(".tmp.wal")))


def source(alias: str | None, hash_key: str) -> Rows:
    """What a selection reads (`duckdb_selection.select_into`'s `source`): the attached copy's table, its stored
    subject references made with `hash_key` (the current key, whose id names the copy), else the Parquet
    snapshot."""
    if alias is None:
        return PARQUET
    if not _ALIAS.fullmatch(alias):
        raise ValueError(f"not a working copy's alias: {alias!r}")
    return Rows(f"{alias}.{TABLE}", refs_key=hash_key)


class Attachments:
    """The working copies attached in this process's DuckDB databases (one per bounds, `Databases`): each copy is
    attached read-only on first use and kept attached, and detached once its file is gone and no selection reads
    it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._aliases: dict[tuple[int, object, Path], str] = {}
        self._readers: Counter[str] = Counter()

    @contextmanager
    def attached(self, con: duckdb.DuckDBPyConnection, database: object, path: Path | None) -> Iterator[str | None]:
        """The alias of the copy at `path` in the database `database` (the bounds `con` was opened with), or None
        when there is no copy to read (then the selection reads the Parquet snapshot)."""
        alias = None
        with self._lock:
            self._detach_gone(con, database)
            if path is not None:
                key = (os.getpid(), database, path)
                alias = self._aliases.get(key)
                if alias is None and path.is_file():
                    alias = self._attach(con, path)
                    if alias is not None:
                        self._aliases[key] = alias
                if alias is not None:
                    self._readers[alias] += 1
        try:
            yield alias
        finally:
            if alias is not None:
                with self._lock:
                    self._readers[alias] -= 1

    @staticmethod
    def _attach(con: duckdb.DuckDBPyConnection, path: Path) -> str | None:
        """Attach the copy; one this DuckDB cannot open (written by another version of its storage format, or
        damaged) is deleted, so that the worker's loop builds it again, and the selection reads the snapshot."""
        alias = f"wc_{uuid.uuid4().hex[:12]}"
        try:
            con.execute(f"ATTACH '{sql_path(path)}' AS {alias} (READ_ONLY)")
        except duckdb.Error as exc:
            log.warning("working copy not readable, deleted", file=path.name, error=type(exc).__name__)
            path.unlink(missing_ok=True)
            return None
        return alias

    def _detach_gone(self, con: duckdb.DuckDBPyConnection, database: object) -> None:
        pid = os.getpid()
        for key, alias in list(self._aliases.items()):
            key_pid, key_database, path = key
            if key_pid == pid and key_database == database and not path.exists() and not self._readers[alias]:
                con.execute(f"DETACH {alias}")
                del self._aliases[key]
