"""Where ingest keeps files, under ``<data dir>/ingest/``:

    uploads/<upload_id>            files received over HTTP, streamed to disk as they arrive
    work/<submission_id>/          a job's scratch space (staging files, DuckDB spill); removed after
    snapshots/<sha256>.parquet     published individual snapshots, content-addressed and read-only
    snapshots/families/<sha256>.parquet
    reports/<submission_id>/findings.parquet   the masked findings of a submission

A snapshot is written under a temporary name, fsynced, hashed, then renamed to its hash: the rename is
atomic, so a reader never sees a partial snapshot, and an identical snapshot is stored once. In Kubernetes
`snapshots/` is a volume of its own (read-only for its readers, deploy/k8s/README.md "Storage"): the finished
file is first moved beside its final name (a copy across volumes), then renamed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path

from p3ke_platform.shared_files import publish_file, temp_for

CHUNK = 1 << 20


class PathNotAllowed(ValueError):
    """A submitted path is outside the configured import directories (or does not exist); `key` says why, as the
    `ingest` catalogue names it (`path.<key>`: not_local, disabled, outside, no_such_file)."""

    def __init__(self, text: str, key: str = "outside") -> None:
        super().__init__(text)
        self.key = key


class Storage:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        for sub in ("uploads", "work", "snapshots/families", "reports"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    # -- uploads ---------------------------------------------------------------------------------------
    def new_upload(self) -> tuple[str, Path]:
        upload_id = uuid.uuid4().hex
        return upload_id, self.root / "uploads" / f"{upload_id}.part"

    def finish_upload(self, part: Path) -> Path:
        final = part.with_suffix("")
        os.replace(part, final)
        return final

    def relative(self, path: Path) -> str:
        return str(path.resolve().relative_to(self.root))

    def absolute(self, relative: str) -> Path:
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root):
            raise PathNotAllowed("path outside the ingest directory")
        return path

    # -- jobs ------------------------------------------------------------------------------------------
    def work_dir(self, submission_id: str, fresh: bool = False) -> Path:
        path = self.root / "work" / submission_id
        if fresh and path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def drop_work(self, submission_id: str) -> None:
        shutil.rmtree(self.root / "work" / submission_id, ignore_errors=True)

    def report_dir(self, submission_id: str) -> Path:
        path = self.root / "reports" / submission_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    # -- snapshots -------------------------------------------------------------------------------------
    def store_snapshot(self, written: Path, family: bool = False) -> tuple[Path, str]:
        """Move a finished snapshot to its content address; (path, sha256)."""
        with written.open("rb") as f:
            os.fsync(f.fileno())
        digest = sha256_file(written)
        target = self.root / "snapshots" / ("families" if family else "") / f"{digest}.parquet"
        if target.exists():
            written.unlink()
        else:
            staged = temp_for(target)
            try:
                shutil.move(written, staged)  # a rename on one volume, a copy from the work volume to the snapshots'
                publish_file(staged, target)
            finally:
                staged.unlink(missing_ok=True)
            target.chmod(0o444)
        return target, digest

    def snapshot_path(self, uri: str) -> Path:
        return Path(uri.removeprefix("file://"))


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def file_uri(path: Path) -> str:
    return path.resolve().as_uri()


def allowed_path(raw: str, import_dirs: Iterable[Path]) -> Path:
    """The file named by a path or file:// URI, if it lies inside one of the import directories."""
    text = raw.removeprefix("file://")
    if "://" in text:
        raise PathNotAllowed("only local paths and file:// URIs can be submitted", "not_local")
    path = Path(text).resolve()
    dirs = [Path(d).resolve() for d in import_dirs]
    if not dirs:
        raise PathNotAllowed("submitting by path is disabled (P3KE_INGEST_IMPORT_DIRS is empty); upload the file",
                             "disabled")
    if not any(path.is_relative_to(d) for d in dirs):
        raise PathNotAllowed("the path is outside the directories files may be submitted from")
    if not path.is_file():
        raise PathNotAllowed("no such file", "no_such_file")
    return path
