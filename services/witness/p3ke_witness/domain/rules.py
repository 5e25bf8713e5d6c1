"""The C2SP tlog-witness rules for one `add-checkpoint`, as a pure function: what to answer and what to alarm.

Given a request whose checkpoint the log has validly signed, and what this witness cosigned before for its
origin, `judge` answers as the spec says (in its order):

* 400: the old size is larger than the checkpoint's size;
* 409 (with the size the witness knows): the old size is not the size it knows, or the sizes are equal and the
  roots are not;
* 422: the consistency proof from the known checkpoint to the new one does not verify;
* 200: cosign (and the state moves to the new checkpoint).

On top of the spec's answer, an ALARM when the log provably misbehaved:

* fork: the same size as the cosigned checkpoint with another root, or a consistency proof from the cosigned
  checkpoint that does not verify;
* rollback: a checkpoint smaller than the cosigned size whose root is not one this witness cosigned at that size
  (a stale resubmission of a checkpoint it did cosign is no alarm, just a 409 or 400).

  One more case is no alarm: a request that lost a race. When a log sends two checkpoints at once from the same
  old size (two replicas), the smaller one arrives after the larger was cosigned; it is smaller than the known
  size and was never cosigned, but its proof shows it extends the checkpoint this witness cosigned at its old
  size (old > 0). It is answered 409 like any stale request. A log that presents a smaller tree from scratch
  (old 0) or from the known size itself is alarmed: it lost entries it was witnessed with.

Messages are Indonesian first, then English, and name the sizes; they never hold anything but sizes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from p3ke_platform.tlog.merkle import ProofError, verify_consistency
from p3ke_platform.tlog.note import Checkpoint
from p3ke_platform.tlog.witness_protocol import AddCheckpoint

AlarmKind = Literal["fork", "rollback"]
EMPTY_ROOT = hashlib.sha256(b"").digest()  # RFC 6962: the root of the empty tree


@dataclass(frozen=True)
class Known:
    """The latest checkpoint this witness cosigned for an origin."""

    size: int
    root: bytes
    note: str


@dataclass(frozen=True)
class Verdict:
    status: int  # 200 cosign, 400, 409, 422
    message: str  # for people (Indonesian / English)
    known_size: int  # the 409 body
    alarm: AlarmKind | None = None

    @property
    def cosign(self) -> bool:
        return self.status == 200


def judge(request: AddCheckpoint, checkpoint: Checkpoint, known: Known | None,
          cosigned_root_at: Callable[[int], bytes | None]) -> Verdict:
    size, old = checkpoint.size, request.old_size
    if known is None:
        return _first(request, checkpoint)
    k = known.size
    alarm: AlarmKind | None = None
    if size < k and cosigned_root_at(size) != checkpoint.root and not _lost_a_race(request, checkpoint,
                                                                                  cosigned_root_at):
        alarm = "rollback"
    if old > size:
        return Verdict(400, _rollback_text(size, k) if alarm else
                       f"ukuran lama {old} melebihi ukuran checkpoint {size} / "
                       f"the old size {old} is larger than the checkpoint's size {size}", k, alarm)
    if old != k:
        return Verdict(409, _rollback_text(size, k) if alarm else
                       f"ukuran lama {old} bukan ukuran checkpoint terakhir yang sudah dikosign ({k}) / "
                       f"the old size {old} is not the size of the latest cosigned checkpoint ({k})", k, alarm)
    if size == k:
        if checkpoint.root != known.root:
            return Verdict(409, f"checkpoint {size} memiliki root yang berbeda dari checkpoint {k} yang sudah "
                           f"dikosign (fork) / checkpoint {size} has another root than the cosigned {k} (fork)",
                           k, "fork")
        if request.proof:
            return Verdict(400, f"ukuran lama sama dengan ukuran checkpoint ({size}): bukti konsistensi harus kosong"
                           f" / the old size equals the checkpoint's size ({size}): the proof must be empty", k)
        return Verdict(200, f"checkpoint {size} dikosign ulang / checkpoint {size} cosigned again", k)
    try:
        verify_consistency(k, size, known.root, checkpoint.root, request.proof)
    except ProofError as exc:
        return Verdict(422, f"checkpoint {size} tidak konsisten dengan checkpoint {k} yang sudah dikosign (fork): "
                       f"bukti konsistensi tidak valid / checkpoint {size} is not consistent with the cosigned {k} "
                       f"(fork): {exc}", k, "fork")
    return Verdict(200, f"checkpoint {size} dikosign / checkpoint {size} cosigned", k)


def _lost_a_race(request: AddCheckpoint, checkpoint: Checkpoint,
                 cosigned_root_at: Callable[[int], bytes | None]) -> bool:
    """Whether the request verifiably extends a checkpoint this witness cosigned at its old size (> 0)."""
    old = request.old_size
    root = cosigned_root_at(old) if 0 < old < checkpoint.size else None
    if root is None:
        return False
    try:
        verify_consistency(old, checkpoint.size, root, checkpoint.root, request.proof)
    except ProofError:
        return False
    return True


def _first(request: AddCheckpoint, checkpoint: Checkpoint) -> Verdict:
    """Nothing cosigned yet for this origin: the known size is 0."""
    size, old = checkpoint.size, request.old_size
    if old > size:
        return Verdict(400, f"ukuran lama {old} melebihi ukuran checkpoint {size} / "
                       f"the old size {old} is larger than the checkpoint's size {size}", 0)
    if old != 0:
        return Verdict(409, f"saksi belum pernah mengkosign log ini: ukuran lama harus 0, bukan {old} / "
                       f"this witness never cosigned this log: the old size must be 0, not {old}", 0)
    if size == 0 and checkpoint.root != EMPTY_ROOT:
        return Verdict(400, "checkpoint berukuran 0 harus memiliki root pohon kosong / "
                       "a checkpoint of size 0 must have the empty tree's root", 0)
    return Verdict(200, f"checkpoint {size} dikosign (yang pertama) / checkpoint {size} cosigned (the first)", 0)


def _rollback_text(size: int, known: int) -> str:
    return (f"checkpoint {size} lebih kecil dari checkpoint {known} yang sudah dikosign dan tidak pernah dikosign "
            f"pada ukuran itu (rollback) / checkpoint {size} is smaller than the cosigned {known} and was never "
            f"cosigned at that size (rollback)")
