"""How delivery's artefacts are destroyed, and whom they hold (`p3ke_platform.retention.disposal`).

- `dispose`: a package's file is deleted (with any temporary file a write that stopped half-way left beside it),
  then the handover's data key is destroyed (`data_keys.destroy_handover_key`): crypto-shredding, so every copy
  of the encrypted package (backups, volume snapshots) and the sealed password die with the key. A subject-
  reference file is deleted. Idempotent: a file already gone, a key already destroyed, is nothing to do (a run
  that stopped after destroying calls it again). The SHA-256 returned is of the file as stored (the package: its
  ciphertext); the package's own SHA-256, as the BAST names it, is in the detail.
- `subjects`: the persons a package (or its subject-reference file) holds, by keyed reference, read from the
  handover's `subject-refs.txt`, with the id of the key it was written with (`handovers.subject_key_id`; `k1`
  before key ids were recorded), so the `erase` record names them and a legal hold on one of them keeps it.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from p3ke_delivery.adapters import subjects as subject_files
from p3ke_delivery.adapters.orm import handovers
from p3ke_delivery.service_layer import data_keys
from p3ke_delivery.service_layer.context import DeliveryContext
from p3ke_platform.retention import Artefact, Kind
from p3ke_platform.retention.disposal import Disposed, Subjects, file_sha256
from p3ke_platform.subject_keys import LEGACY_KEY_ID

REASON = "pemusnahan sesuai jadwal retensi / disposal under the retention schedule"


def _leftovers(path: Path) -> list[Path]:
    """Temporary files of a write of `path` that stopped before its rename (`.<name>.<pid>.tmp`)."""
    if not path.parent.is_dir():
        return []
    return [p for p in path.parent.glob(f".{path.name}.*.tmp") if p.is_file()]


def _delete(artefact: Artefact) -> tuple[str | None, int]:
    """Delete the artefact's file and its leftovers: the SHA-256 of what was deleted (the recorded one when it was
    already gone) and how many leftovers went with it."""
    path = artefact.path
    if path is None:
        return artefact.sha256, 0
    sha = file_sha256(path) if path.is_file() else None
    leftovers = _leftovers(path)
    for file in (path, *leftovers):
        file.unlink(missing_ok=True)
    return sha, len(leftovers)


def dispose(ctx: DeliveryContext, artefact: Artefact) -> Disposed:
    """Destroy a package (its file, then its data key) or a subject-reference file."""
    sha, leftovers = _delete(artefact)
    details = [f"{leftovers} berkas sementara ikut dihapus / temporary files also deleted"] if leftovers else []
    if artefact.kind is Kind.PACKAGE:
        details.append(f"SHA-256 paket (ZIP, sebagaimana BAST) / of the package (ZIP, as the BAST names it) "
                       f"{artefact.sha256 or '-'}")
        destroyed = data_keys.destroy_handover_key(ctx, artefact.resource_id, f"{REASON} ({artefact.kind.value})")
        if destroyed is None:
            details.append("serah terima tanpa kunci data (disiapkan sebelum kunci data ada) / the handover has no "
                           "data key (prepared before data keys)")
        else:
            when = destroyed.destroyed_at.isoformat(timespec="seconds")
            details.append(f"kunci data {destroyed.key_id} dimusnahkan {when}, semua salinan paket terenkripsi dan "
                           f"kata sandinya tidak dapat dibuka lagi / data key {destroyed.key_id} destroyed {when}: no "
                           f"copy of the encrypted package nor its password opens again")
        return Disposed(sha256=sha or artefact.sha256, detail="; ".join(details))
    return Disposed(sha256=sha, detail="; ".join(details))


def subjects(ctx: DeliveryContext, artefact: Artefact) -> Subjects:
    """The keyed references of the persons the handover's package held, and the id of their key."""
    if artefact.kind not in (Kind.PACKAGE, Kind.SUBJECT_REFERENCES):
        return Subjects()
    handover_id = artefact.resource_id
    with ctx.sessions() as session:
        key_id = session.execute(select(handovers.c.subject_key_id)
                                 .where(handovers.c.handover_id == handover_id)).scalar_one_or_none()
    path = ctx.storage.located(handover_id, subject_files.REFS_FILE)
    refs = tuple(dict.fromkeys(subject_files.read_refs(path)))
    return Subjects(refs=refs, key_id=(key_id or LEGACY_KEY_ID) if refs else None)
