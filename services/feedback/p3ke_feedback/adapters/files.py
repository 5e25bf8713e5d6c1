"""Files feedback reads (extracts, snapshots) and writes (batches): where they may be, whether they are
intact, and writing them so that a reader never sees half a file.

Extracts and snapshots are named by URIs in events (a path or `file://`); they must lie under the
shared root, so an event cannot point the service at any other file. Their SHA-256 is checked before
use, once per process for an unchanged file (size and modification time).
"""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path

from p3ke_platform.shared_files import resolve_under, sha256_file

CHUNK = 8 << 20


class FileProblem(Exception):
    """A file cannot be used; the message says why (names and paths, never content)."""


_verified: dict[tuple[str, int, int], str] = {}
_lock = threading.Lock()


def resolve(uri: str, root: Path, what: str) -> Path:
    """The local path of `uri`, which must lie under `root`."""
    return resolve_under(uri, root, what, error=FileProblem)


def verify(path: Path, expected: str, what: str) -> None:
    """The file is the one announced (SHA-256); checked once per process for an unchanged file."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _lock:
        if _verified.get(key) == expected:
            return
    if sha256_file(path, CHUNK) != expected:
        raise FileProblem(f"the {what} at {path.name} does not match its announced SHA-256")
    with _lock:
        _verified[key] = expected


def temp_for(final: Path) -> Path:
    final.parent.mkdir(parents=True, exist_ok=True)
    return final.parent / f".{final.name}.{uuid.uuid4().hex[:8]}.tmp"


def fsync(path: Path) -> None:
    """Flush a file (or a directory's entries) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(temp: Path, final: Path) -> None:
    """Flush `temp` to disk and rename it to `final` (atomic on one file system)."""
    with temp.open("rb") as fh:
        os.fsync(fh.fileno())
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(temp, final)
    dir_fd = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def sql_path(path: Path) -> str:
    """A path as a SQL string literal's content."""
    return str(path).replace("'", "''")
