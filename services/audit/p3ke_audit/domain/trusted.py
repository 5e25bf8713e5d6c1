"""Verification against what others saw: checkpoints kept outside the log, and the witnesses' cosignatures.

Someone with database access but without the signing key can edit an old entry, truncate the log, rebuild a
consistent tree over the edited history and delete the later checkpoints: the database then holds a log that
verifies on its own, and the service signs its new head. What shows it is a checkpoint saved earlier (a
*trusted* checkpoint: `GET /v1/checkpoints/latest?format=note`, kept by an auditor or cosigned by a witness):
the log must still hold at least its size, and its first `size` entries must still have its root.

`load_trusted` reads such notes: each must carry the log's signature and, given witness keys, a quorum of
valid cosignatures (C2SP tlog-cosignature v1), else it is refused (`NotTrusted`, saying why). `compare` then
judges one trusted checkpoint against the log as it is now. Pure code: `p3ke audit verify` computes the log's
root at the trusted size from the stored tree, `verify-bundle` from the bundle's checkpoints and proofs.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from p3ke_platform.tlog.cosignature import Witness, check_quorum
from p3ke_platform.tlog.note import Checkpoint, CheckpointError, open_note


class NotTrusted(ValueError):
    """A checkpoint offered as trusted that is not (the message says why, in Indonesian then English)."""


def load_trusted(notes: Sequence[str], name: str, public_key: Ed25519PublicKey,
                 witnesses: Sequence[Witness] = (), quorum: int = 0) -> list[Checkpoint]:
    """The checkpoints of `notes` (signed notes), each verified with the log's key and, with `witnesses`,
    cosigned by at least `quorum` of them; by size, without duplicates. NotTrusted names the first refused
    (`#1` is the first note)."""
    if witnesses and not 1 <= quorum <= len(witnesses):
        raise NotTrusted(f"kuorum {quorum} harus antara 1 dan {len(witnesses)} (jumlah kunci saksi) / the quorum "
                         f"{quorum} must be between 1 and {len(witnesses)} (the number of witness keys)")
    found: dict[tuple[int, bytes], Checkpoint] = {}
    for i, note in enumerate(notes, 1):
        try:
            checkpoint = open_note(note, name, public_key)
        except CheckpointError as exc:
            raise NotTrusted(f"checkpoint tepercaya #{i} tidak sah: tanda tangan log {name} tidak terverifikasi / "
                             f"trusted checkpoint #{i} is not trusted: the log's signature does not verify ({exc})"
                             ) from None
        if checkpoint.origin != name:
            raise NotTrusted(f"checkpoint tepercaya #{i} milik log lain ({checkpoint.origin[:100]!r}) / trusted "
                             f"checkpoint #{i} is of another log ({checkpoint.origin[:100]!r}, not {name!r})")
        if witnesses:
            try:
                check_quorum(note, list(witnesses), quorum)
            except CheckpointError as exc:
                raise NotTrusted(f"checkpoint tepercaya #{i} (ukuran {checkpoint.size}) tidak disaksikan: kuorum "
                                 f"{quorum} kosignatur saksi tidak terpenuhi / trusted checkpoint #{i} (size "
                                 f"{checkpoint.size}) is not witnessed: {exc}") from None
        found.setdefault((checkpoint.size, checkpoint.root), checkpoint)
    return sorted(found.values(), key=lambda c: c.size)


def _kind(witnessed: bool) -> tuple[str, str]:
    return ("tersaksi", "witnessed") if witnessed else ("tepercaya", "trusted")


def shrank(trusted: Checkpoint, size_now: int, *, witnessed: bool = False) -> str:
    """The failure of a log now smaller than a trusted checkpoint."""
    kind_id, kind_en = _kind(witnessed)
    return (f"log menyusut dari {trusted.size} menjadi {size_now} entri (checkpoint {kind_id} {trusted.size} "
            f"mencakup {trusted.size}) / the log shrank from {trusted.size} to {size_now} entries (the {kind_en} "
            f"checkpoint {trusted.size} covers {trusted.size})")


def inconsistent(trusted: Checkpoint, size_now: int, *, witnessed: bool = False,
                 why: tuple[str, str] | None = None) -> str:
    """The failure of a log whose history up to a trusted checkpoint's size differs from it; `why` (Indonesian,
    English) replaces the default reason (its root at that size differs)."""
    kind_id, kind_en = _kind(witnessed)
    detail_id, detail_en = why or (f"akar {trusted.size} entri pertamanya berbeda",
                                   f"the root of its first {trusted.size} entries differs")
    return (f"log berukuran {size_now} tidak konsisten dengan checkpoint {kind_id} {trusted.size} ({detail_id}): "
            f"riwayatnya telah ditulis ulang / the log of size {size_now} is not consistent with the {kind_en} "
            f"checkpoint {trusted.size} ({detail_en}): its history was rewritten")


def compare(trusted: Checkpoint, size_now: int, root_at_size: bytes | None, *, witnessed: bool = False) -> str | None:
    """Judge the log of `size_now` entries, whose root at `trusted.size` is `root_at_size` (None when it does not
    reach that size), against a trusted checkpoint: the failure message, or None when consistent."""
    if size_now < trusted.size:
        return shrank(trusted, size_now, witnessed=witnessed)
    if trusted.size == 0:
        return None  # every log extends the empty one
    if root_at_size is None:
        raise ValueError(f"the log of {size_now} entries has a root at {trusted.size}: pass it")
    return None if root_at_size == trusted.root else inconsistent(trusted, size_now, witnessed=witnessed)
