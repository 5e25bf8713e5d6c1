"""How targeting's artefacts are destroyed, and whom they hold (`p3ke_platform.retention.disposal`).

- `dispose`: an extract or a recipient ledger is one Parquet file (`retention_inventory.py`); it is deleted, with
  any temporary file a write that stopped half-way left beside it (`.<name>.<hex>.tmp`). Idempotent: a file
  already gone is nothing to do. The extract's row stays (its counts and digests are the BAST's account of what
  was handed over, nothing of a person); a ledger recorded as disposed is no longer read to exclude earlier
  recipients (`extracts.ledgers_for`).
- `subjects`: the persons an extract or a ledger holds, by keyed reference: read from the extract's recipient
  ledger, with the id of the key it was written with (`extracts.ledger_key_id`; `k1` before key ids were
  recorded). An extract whose ledger is already gone is read for its `nik` column, keyed with the current key;
  without either, none can be named.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
from sqlalchemy import select

from p3ke_platform.retention import Artefact, Kind
from p3ke_platform.retention.disposal import Disposed, Subjects, file_sha256
from p3ke_platform.subject_keys import LEGACY_KEY_ID
from p3ke_targeting.adapters.extract_files import read_refs
from p3ke_targeting.adapters.orm import extracts
from p3ke_targeting.service_layer.context import Context

BATCH = 65_536


def _leftovers(path: Path) -> list[Path]:
    """Temporary files of a write of `path` that stopped before its rename (`shared_files.temp_for`)."""
    if not path.parent.is_dir():
        return []
    return [p for p in path.parent.glob(f".{path.name}.*.tmp") if p.is_file()]


def dispose(ctx: Context, artefact: Artefact) -> Disposed:
    """Delete the artefact's file (and the leftovers of an interrupted write of it); the SHA-256 of what was
    deleted (the recorded digest when the file was already gone)."""
    path = artefact.path
    if path is None:
        return Disposed(sha256=artefact.sha256)
    sha = file_sha256(path) if path.is_file() else artefact.sha256
    leftovers = _leftovers(path)
    for file in (path, *leftovers):
        file.unlink(missing_ok=True)
    detail = f"{len(leftovers)} berkas sementara ikut dihapus / temporary files also deleted" if leftovers else ""
    return Disposed(sha256=sha, detail=detail)


def _ledger_of(ctx: Context, extract_id: str) -> tuple[Path, str] | None:
    with ctx.sessions() as session:
        row = session.execute(select(extracts.c.ledger_uri, extracts.c.ledger_key_id)
                              .where(extracts.c.extract_id == extract_id)).first()
    return None if row is None else (Path(row[0]), row[1] or LEGACY_KEY_ID)


def _refs_from_niks(ctx: Context, path: Path) -> Subjects:
    parquet = pq.ParquetFile(path)
    if "nik" not in parquet.schema_arrow.names:
        return Subjects()
    key = ctx.settings.subject_key_ring.current
    refs: set[str] = set()
    for chunk in parquet.iter_batches(batch_size=BATCH, columns=["nik"]):
        refs.update(key.ref(nik) for nik in chunk.column(0).to_pylist() if nik and str(nik).strip())
    return Subjects(refs=tuple(sorted(refs)), key_id=key.id if refs else None)


def subjects(ctx: Context, artefact: Artefact) -> Subjects:
    """The keyed references of the persons the extract (or its ledger) holds, and the id of their key."""
    if artefact.kind not in (Kind.EXTRACT, Kind.SELECTION_LEDGER):
        return Subjects()
    ledger = _ledger_of(ctx, artefact.resource_id)
    if ledger is not None and ledger[0].is_file():
        refs = tuple(dict.fromkeys(r for r in read_refs(ledger[0], BATCH) if r))
        return Subjects(refs=refs, key_id=ledger[1] if refs else None)
    if artefact.kind is Kind.EXTRACT and artefact.path is not None and artefact.path.is_file():
        return _refs_from_niks(ctx, artefact.path)
    return Subjects()
