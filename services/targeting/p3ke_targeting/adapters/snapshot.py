"""Find a dataset version's Parquet snapshot and check that it is the file and layout we expect."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import unquote, urlparse

import pyarrow as pa
import pyarrow.parquet as pq

from p3ke_targeting.domain.layout import SELECTION_COLUMNS


class SnapshotError(Exception):
    """The snapshot cannot be used; the message says why (names and paths only, never values)."""


_KINDS = {
    "string": lambda t: pa.types.is_string(t) or pa.types.is_large_string(t),
    "integer": pa.types.is_integer,
    "date": pa.types.is_date,
}
_verified: dict[tuple[str, int, int], str] = {}
_lock = threading.Lock()


def snapshot_path(uri: str, data_dir: Path) -> Path:
    """A local path or file:// URI (a relative path is taken from the data directory)."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise SnapshotError(f"snapshot URI names a remote host ({parsed.netloc}); only local files are read")
        return Path(unquote(parsed.path))
    if parsed.scheme and len(parsed.scheme) > 1:  # (one letter would be a Windows drive)
        raise SnapshotError(f"snapshot URI scheme '{parsed.scheme}' is not supported (use a path or file://)")
    path = Path(uri)
    return path if path.is_absolute() else Path(data_dir) / path


def check_layout(path: Path, needed: Iterable[str], dataset_version_id: str) -> pa.Schema:
    """The snapshot's schema, if it has every needed column with a usable type; else SnapshotError."""
    try:
        schema = pq.read_schema(path)
    except FileNotFoundError:
        raise SnapshotError(f"the snapshot of dataset version {dataset_version_id} is not at {path}") from None
    except (OSError, pa.ArrowInvalid) as exc:
        raise SnapshotError(f"the snapshot of dataset version {dataset_version_id} is not a readable Parquet "
                            f"file ({type(exc).__name__})") from None
    names = set(schema.names)
    missing = sorted(set(needed) - names)
    problems = []
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    for column, kind in SELECTION_COLUMNS.items():
        if column in names and not _KINDS[kind](schema.field(column).type):
            problems.append(f"column {column} is {schema.field(column).type}, expected {kind}")
    if problems:
        raise SnapshotError(f"the snapshot of dataset version {dataset_version_id} does not have the P3KE "
                            f"individual layout: {'; '.join(problems)}")
    return schema


def verify_checksum(path: Path, expected: str, dataset_version_id: str) -> None:
    """The file is the one published (SHA-256). Checked once per process for an unchanged file."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _lock:
        if _verified.get(key) == expected:
            return
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(8 << 20):
            digest.update(chunk)
    if digest.hexdigest() != expected:
        raise SnapshotError(f"the snapshot of dataset version {dataset_version_id} at {path} does not match "
                            f"its published SHA-256")
    with _lock:
        _verified[key] = expected
