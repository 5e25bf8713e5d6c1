"""Files feedback reads (extracts, snapshots) and writes (batches): where they may be, whether they are
intact, and writing them so that a reader never sees half a file.

Extracts and snapshots are named by URIs in events (a path or `file://`); they must lie under the
shared root, so an event cannot point the service at any other file. Their SHA-256 is checked before
use, once per process for an unchanged file (size and modification time).
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from pathlib import Path
from urllib.parse import unquote, urlparse

CHUNK = 8 << 20


class FileProblem(Exception):
    """A file cannot be used; the message says why (names and paths, never content)."""


_verified: dict[tuple[str, int, int], str] = {}
_lock = threading.Lock()


def resolve(uri: str, root: Path, what: str) -> Path:
    """The local path of `uri`, which must lie under `root`."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise FileProblem(f"the {what} URI names a remote host ({parsed.netloc}); only local files are read")
        raw = unquote(parsed.path)
    elif parsed.scheme == "" or (len(parsed.scheme) == 1 and uri[1:3] in (":\\", ":/")):
        raw = uri
    else:
        raise FileProblem(f"the {what} URI scheme '{parsed.scheme}' is not supported (a path or file:// URI)")
    path = Path(raw)
    if not path.is_absolute():
        path = root / path
    resolved, base = path.resolve(), root.resolve()
    if not resolved.is_relative_to(base):
        raise FileProblem(f"the {what} lies outside the shared data directory {base}")
    if not resolved.is_file():
        raise FileProblem(f"the {what} file {resolved.name} does not exist")
    return resolved


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, expected: str, what: str) -> None:
    """The file is the one announced (SHA-256); checked once per process for an unchanged file."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _lock:
        if _verified.get(key) == expected:
            return
    if sha256_file(path) != expected:
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
