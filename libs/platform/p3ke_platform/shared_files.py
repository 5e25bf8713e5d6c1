"""Files that events name on the shared data directory: where such a file is, and whether it is intact.

An event names a file (a targeting extract, an ingest snapshot) by a URI, a path or a `file://` URI,
and fixes its content by a SHA-256. The file must lie under the shared root, so an event cannot point
a service at any other file. The error type is the service's own (its callers catch it), and so are the
words for the file, so each service keeps its refusal reasons.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlparse

DEFAULT_CHUNK = 1 << 20


def extracts_dir(data_dir: Path) -> Path:
    """Where targeting writes its extracts and delivery and feedback read them: `<data dir>/extracts` (in
    Kubernetes a volume of its own, read-only for the readers: deploy/k8s/README.md, "Storage")."""
    return Path(data_dir) / "extracts"


def resolve_under(uri: str, root: Path, what: str, *, error: Callable[[str], Exception],
                  uri_subject: str | None = None) -> Path:
    """The local path of the existing file `uri`, which must lie under `root`.

    `uri` is a path (relative ones are taken from `root`), a Windows drive path or a `file://` URI
    naming no remote host. Any problem raises `error(message)`; the message names the file as
    `the {what}`, and problems with the URI itself as `uri_subject` (default `the {what}`).
    """
    subject = f"the {what}" if uri_subject is None else uri_subject
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise error(f"{subject} URI names a remote host ({parsed.netloc}); only local files are read")
        raw = unquote(parsed.path)
    elif parsed.scheme == "" or (len(parsed.scheme) == 1 and uri[1:3] in (":\\", ":/")):
        raw = uri
    else:
        raise error(f"{subject} URI scheme '{parsed.scheme}' is not supported (a path or file:// URI)")
    path = Path(raw)
    if not path.is_absolute():
        path = root / path
    resolved, base = path.resolve(), root.resolve()
    if not resolved.is_relative_to(base):
        raise error(f"the {what} lies outside the shared data directory {base}")
    if not resolved.is_file():
        raise error(f"the {what} file {resolved.name} does not exist")
    return resolved


def sha256_file(path: Path, chunk_size: int = DEFAULT_CHUNK) -> str:
    """The SHA-256 of the file's content in hex, read `chunk_size` bytes at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def temp_for(final: Path) -> Path:
    """A fresh hidden temporary name beside `final` (same directory, so the rename is atomic)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    return final.parent / f".{final.name}.{uuid.uuid4().hex[:8]}.tmp"


def fsync_path(path: Path) -> None:
    """Flush a file, or a directory's entries, to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish_file(temp: Path, final: Path) -> None:
    """Make a finished file visible under its final name, durably: flush it, rename it over `final` (atomic
    on one file system) and flush the directory, so a crash leaves the old file or the new one, never half."""
    fsync_path(temp)
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(temp, final)
    fsync_path(final.parent)
