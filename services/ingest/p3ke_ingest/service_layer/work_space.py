"""Room for a validation job on the work volume, checked before the job starts.

A job writes its work files (the staging file, DuckDB's spill, the new snapshot) under `<data dir>/work`. Measured
with `bench ingest`: 3.3 GB of work for a 3.5 GB CSV of 10^7 rows, and a run over a 35 GB CSV of 10^8 rows that
ran out of disk after 43 GB (deploy/k8s/README.md, "Storage"). Such a run fails only after minutes of work; so
before any work the job compares the free space with `P3KE_INGEST_WORK_SPACE_FACTOR` (default 1.5) times what it
will read, and a job that does not fit fails at once, saying how much it needs and how much is free, in Indonesian
and English (`job.failed.no_room`). What it will read is the table's uncompressed size: a CSV's size, an XLSX's
entries and a Parquet file's column chunks as their own directories declare them (a directory that cannot be read,
or one too large to read cheaply, counts at the file's size: the job's own checks then say what is wrong with it).
Other jobs running at the same time are not counted: `P3KE_INGEST_JOB_WORKERS` above 1 needs that much more room.
"""

from __future__ import annotations

import shutil
import struct
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from p3ke_platform.i18n import Lang
from p3ke_platform.tabular.archive_guard import declared_entries, is_zip

MAX_DIRECTORY_ENTRIES = 100_000  # an archive declaring more entries is counted at its file's size
MAX_FOOTER_BYTES = 64 * 2**20  # a Parquet footer larger than this is not read here


@dataclass(frozen=True)
class Shortfall:
    """A job that does not fit: what it reads, what it needs, what is free (bytes)."""

    input_bytes: int
    needed_bytes: int
    free_bytes: int

    def params(self) -> dict[str, object]:
        """The catalogue parameters, each formatted for the language it is said in."""
        return {"size": partial(size_text, self.input_bytes), "needed": partial(size_text, self.needed_bytes),
                "free": partial(size_text, self.free_bytes)}


def input_bytes(path: Path) -> int:
    """The uncompressed size of the table in `path` (see the module's docstring)."""
    size = path.stat().st_size
    try:
        declared = _archive_bytes(path) if is_zip(path) else _parquet_bytes(path, size)
    except FileNotFoundError:
        raise
    except Exception:  # a directory that cannot be read (damaged, refused by the archive guard): the file's size
        declared = None
    return max(size, declared or 0)


def _archive_bytes(path: Path) -> int | None:
    """An archive's entries, uncompressed, as its central directory declares them (None: too many to list)."""
    if declared_entries(path) > MAX_DIRECTORY_ENTRIES:
        return None
    with zipfile.ZipFile(path) as archive:
        return sum(info.file_size for info in archive.infolist())


def _parquet_bytes(path: Path, size: int) -> int | None:
    """A Parquet file's column chunks, uncompressed, as its footer declares them (None: not Parquet, or a footer
    too large or longer than the file)."""
    with path.open("rb") as fh:
        if size < 12 or fh.read(4) != b"PAR1":
            return None
        fh.seek(-8, 2)
        footer, magic = struct.unpack("<I4s", fh.read(8))
    if magic != b"PAR1" or footer > min(MAX_FOOTER_BYTES, size - 12):
        return None
    import pyarrow.parquet as pq

    meta = pq.read_metadata(path)
    return sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))


def shortfall(work_root: Path, paths: Iterable[Path], factor: float) -> Shortfall | None:
    """None when a job reading `paths` fits on the volume of `work_root` (or `factor` is 0: no check); else the
    figures that say by how much it does not."""
    if factor <= 0:
        return None
    read = sum(input_bytes(p) for p in paths)
    needed = int(read * factor)
    free = shutil.disk_usage(work_root).free
    return Shortfall(read, needed, free) if free < needed else None


def size_text(n: int, lang: Lang) -> str:
    """A size in bytes as a person reads it, with the language's separators: `1,2 TB` in Indonesian."""
    for unit, scale in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= scale:
            text = f"{n / scale:,.1f} {unit}"
            break
    else:
        text = f"{n} B"
    return text.translate(str.maketrans(",.", ".,")) if lang == "id" else text
