"""Files feedback reads (extracts, snapshots): where they may be and whether they are intact (writing
durably is `p3ke_platform.shared_files`).

Extracts and snapshots are named by URIs in events (a path or `file://`); they must lie under the
shared root, so an event cannot point the service at any other file. Their SHA-256 is checked before
use, once per process for an unchanged file (size and modification time).
"""

from __future__ import annotations

import threading
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


