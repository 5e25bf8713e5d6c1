"""Snapshots on a volume of their own (deploy/k8s: the claim p3ke-snapshots, read-only for targeting and
feedback): ingest writes a snapshot in its work directory, on its own volume, and publishes it there.

A rename cannot cross file systems, so here `snapshots/` is a real other file system: a directory on the
tmpfs /dev/shm, linked into the ingest directory (on the disk of the test's temporary directory)."""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from p3ke_ingest.adapters.storage import Storage

OTHER_FILE_SYSTEM = Path("/dev/shm")


@pytest.fixture
def snapshots_volume(tmp_path: Path) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(dir=OTHER_FILE_SYSTEM, prefix="p3ke-snapshots-") as other:
        assert os.stat(other).st_dev != os.stat(tmp_path).st_dev, (
            f"{OTHER_FILE_SYSTEM} must be another file system than {tmp_path} for this test")
        yield Path(other)


def test_a_snapshot_is_published_on_another_volume(tmp_path: Path, snapshots_volume: Path) -> None:
    root = tmp_path / "ingest"
    root.mkdir()
    (root / "snapshots").symlink_to(snapshots_volume, target_is_directory=True)
    storage = Storage(root)
    written = storage.work_dir("sub-1") / "individual-snapshot.parquet"
    content = b"PAR1 not really parquet, only bytes PAR1"
    written.write_bytes(content)

    with pytest.raises(OSError) as crossing:  # what a plain rename does here
        os.replace(written, snapshots_volume / "probe")
    assert crossing.value.errno == errno.EXDEV

    target, digest = storage.store_snapshot(written)

    assert digest == hashlib.sha256(content).hexdigest()
    assert target.resolve() == snapshots_volume / f"{digest}.parquet"
    assert target.read_bytes() == content
    assert target.stat().st_mode & 0o777 == 0o444
    assert not written.exists()
    assert sorted(p.name for p in snapshots_volume.iterdir()) == [f"{digest}.parquet", "families"]


def test_the_same_snapshot_again_is_stored_once(tmp_path: Path, snapshots_volume: Path) -> None:
    root = tmp_path / "ingest"
    root.mkdir()
    (root / "snapshots").symlink_to(snapshots_volume, target_is_directory=True)
    storage = Storage(root)
    paths = []
    for n in range(2):
        written = storage.work_dir(f"sub-{n}") / "family-snapshot.parquet"
        written.write_bytes(b"the same families")
        paths.append(storage.store_snapshot(written, family=True)[0])
        assert not written.exists()
    assert paths[0] == paths[1]
    assert [p.name for p in (snapshots_volume / "families").iterdir()] == [paths[0].name]
