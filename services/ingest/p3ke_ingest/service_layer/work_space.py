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
        return {"size": _sized(self.input_bytes), "needed": _sized(self.needed_bytes), "free": _sized(self.free_bytes)}


def input_bytes(path: Path) -> int:
    """The uncompressed size of the table in `path` (see the module's docstring)."""
    size = path.stat().st_size
    try:
        if is_zip(path):
            if declared_entries(path) > MAX_DIRECTORY_ENTRIES:
                return size
            with zipfile.ZipFile(path) as archive:
                return max(size, sum(info.file_size for info in archive.infolist()))
        with path.open("rb") as fh:
            if size >= 12 and fh.read(4) == b"PAR1":
                fh.seek(-8, 2)
                footer, magic = struct.unpack("<I4s", fh.read(8))
                if magic == b"PAR1" and footer <= min(MAX_FOOTER_BYTES, size - 12):
                    import pyarrow.parquet as pq

                    meta = pq.read_metadata(path)
                    return max(size, sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups)))
    except FileNotFoundError:
        raise
    except Exception:  # a directory that cannot be read (damaged, refused by the archive guard): the file's size
        return size
    return size


def shortfall(work_root: Path, paths: Iterable[Path], factor: float) -> Shortfall | None:
    """None when a job reading `paths` fits on the volume of `work_root` (or `factor` is 0: no check); else the
    figures that say by how much it does not."""
    if factor <= 0:
        return None
    read = sum(input_bytes(p) for p in paths)
    needed = int(read * factor)
    free = shutil.disk_usage(work_root).free
    return Shortfall(read, needed, free) if free < needed else None


def _sized(n: int) -> object:
    """A size as a person reads it, with each language's separators: a function of the language."""
    return lambda lang: size_text(n, lang)


def size_text(n: int, lang: Lang) -> str:
    for unit, scale in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= scale:
            text = f"{n / scale:,.1f} {unit}"
            break
    else:
        text = f"{n} B"
    return text.translate(str.maketrans(",.", ".,")) if lang == "id" else text
