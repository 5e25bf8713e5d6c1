"""Where a handover's files live: `<storage_dir>/handovers/<handover_id>/` (mode 0700).

Files are written under a temporary name and renamed, so a reader never sees half a file; names
carry the content's hash where versions follow each other (the BAST as signed so far).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


class Storage:
    def __init__(self, root: Path) -> None:
        self.root = root

    def directory(self, handover_id: str) -> Path:
        if not _SAFE.match(handover_id):
            raise ValueError("unsafe handover id")
        path = self.root / "handovers" / handover_id
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    def located(self, handover_id: str, name: str) -> Path:
        """Where the file would be, without creating the handover's directory (for listings)."""
        if not _SAFE.match(handover_id) or not _SAFE.match(name):
            raise ValueError("unsafe handover id or file name")
        return self.root / "handovers" / handover_id / name

    def path(self, handover_id: str, name: str) -> Path:
        if not _SAFE.match(name):
            raise ValueError("unsafe file name")
        return self.directory(handover_id) / name

    def write(self, handover_id: str, name: str, data: bytes) -> Path:
        path = self.path(handover_id, name)
        tmp = path.with_name(f".{name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        return path

    def read(self, handover_id: str, name: str) -> bytes:
        return self.path(handover_id, name).read_bytes()

    def remove(self, handover_id: str, name: str) -> None:
        self.path(handover_id, name).unlink(missing_ok=True)
