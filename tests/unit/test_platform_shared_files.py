"""p3ke_platform.shared_files: a file an event names is found only under the shared root, and hashed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from p3ke_platform.shared_files import resolve_under, sha256_file


class Refused(ValueError):
    pass


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "root" / "extracts").mkdir(parents=True)
    (tmp_path / "root" / "extracts" / "e 1.parquet").write_bytes(b"PAR1 data")
    (tmp_path / "outside.parquet").write_bytes(b"PAR1 other")
    return tmp_path / "root"


def test_paths_relative_paths_and_file_uris_resolve(root: Path) -> None:
    path = root / "extracts" / "e 1.parquet"
    assert resolve_under(str(path), root, "extract", error=Refused) == path
    assert resolve_under("extracts/e 1.parquet", root, "extract", error=Refused) == path
    assert resolve_under(path.as_uri(), root, "extract", error=Refused) == path
    assert resolve_under(f"file://localhost{path.as_uri()[7:]}", root, "extract", error=Refused) == path


@pytest.mark.parametrize(("uri", "message"), [
    ("http://example.org/x.parquet",
     "the snapshot URI scheme 'http' is not supported (a path or file:// URI)"),
    ("file://evil.example/x.parquet",
     "the snapshot URI names a remote host (evil.example); only local files are read"),
    ("../outside.parquet", "the snapshot lies outside the shared data directory {root}"),
    ("extracts/../../outside.parquet", "the snapshot lies outside the shared data directory {root}"),
    ("extracts/missing.parquet", "the snapshot file missing.parquet does not exist"),
    ("extracts", "the snapshot file extracts does not exist"),
])
def test_refusals_name_the_file_and_use_the_callers_error(root: Path, uri: str, message: str) -> None:
    with pytest.raises(Refused) as info:
        resolve_under(uri, root, "snapshot", error=Refused)
    assert str(info.value) == message.format(root=root.resolve())


def test_uri_problems_may_name_the_file_otherwise(root: Path) -> None:
    with pytest.raises(Refused) as info:
        resolve_under("ftp://host/x", root, "extract", error=Refused, uri_subject="extract")
    assert str(info.value) == "extract URI scheme 'ftp' is not supported (a path or file:// URI)"
    with pytest.raises(Refused) as info:
        resolve_under("file://host/x", root, "extract", error=Refused, uri_subject="extract")
    assert str(info.value) == "extract URI names a remote host (host); only local files are read"
    with pytest.raises(Refused) as info:  # the file's own problems keep `the <what>`
        resolve_under("/etc/passwd", root, "extract", error=Refused, uri_subject="extract")
    assert str(info.value).startswith("the extract lies outside the shared data directory")


def test_a_link_out_of_the_root_is_refused(root: Path) -> None:
    (root / "extracts" / "link.parquet").symlink_to(root.parent / "outside.parquet")
    with pytest.raises(Refused, match="outside the shared data directory"):
        resolve_under("extracts/link.parquet", root, "extract", error=Refused)


@pytest.mark.parametrize("chunk_size", [1, 3, 1 << 20])
def test_sha256_of_the_content_whatever_the_chunk_size(tmp_path: Path, chunk_size: int) -> None:
    path = tmp_path / "f.bin"
    content = bytes(range(256)) * 5
    path.write_bytes(content)
    assert sha256_file(path, chunk_size) == hashlib.sha256(content).hexdigest()
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert sha256_file(empty, chunk_size) == hashlib.sha256(b"").hexdigest()
