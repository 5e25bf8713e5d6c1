"""Whose data a handover releases: the keyed hashes of its extract's NIKs (the audit log's `subject_ref`).

Written once while the handover is prepared (streamed from the extract, one 64-hex reference a line,
in the handover's storage directory), streamed back on every download, so each download's
`data-access` events name every person released and a data subject's trail shows the download
(UU PDP Art. 31-32), without the NIK itself ever leaving the extract.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from p3ke_delivery.adapters import extract
from p3ke_platform.audit_client import subject_ref

REFS_FILE = "subject-refs.txt"
NIK_COLUMN = "nik"


def write_refs(extract_path: Path, out: Path, *, key: str, batch_rows: int) -> int:
    """Write the subject reference of every non-empty NIK of the extract to `out`; the count written.
    An extract without a `nik` column names nobody (an empty file)."""
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    count = 0
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        if NIK_COLUMN in extract.schema(extract_path).names:
            for batch in extract.batches(extract_path, batch_rows):
                column = batch.column(batch.schema.get_field_index(NIK_COLUMN))
                for nik in column.to_pylist():
                    if nik is not None and str(nik).strip():
                        fh.write(subject_ref(key, str(nik)) + "\n")
                        count += 1
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, out)
    return count


def read_refs(path: Path) -> Iterator[str]:
    """The references, one at a time, read as they are consumed (a million never sit in memory at
    once); nothing when the file is missing (a handover prepared before references were kept)."""
    if not path.is_file():
        return
    with path.open(encoding="ascii") as fh:
        for line in fh:
            ref = line.strip()
            if ref:
                yield ref
