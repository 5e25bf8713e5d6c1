"""Signing checkpoints: every N entries or T seconds, never one inconsistent with the previous, nor
with the largest checkpoint a witness cosigned.

Called with the append lock held (inside an append transaction, or by `issue_checkpoint`), so the
tree cannot move while its head is signed. Before signing, the previous checkpoint's note is
verified with our key and a consistency proof from it to the new head is built from the stored
nodes and verified: if the stored tree no longer extends what we signed (someone altered it), we
refuse to sign and say so, instead of certifying the altered tree. The same is done from the largest
checkpoint a configured witness cosigned (its note and a cosignature verified first, see witnessed.py):
deleting the later checkpoints then no longer lets the log sign a rewritten history. (Deleting the
cosignature rows too defeats this guard; the witness itself then refuses the rewritten checkpoint.)
Witnesses are asked for cosignatures after the transaction, never under the lock (witnessing.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter
from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from p3ke_audit.adapters.keys import Signer
from p3ke_audit.adapters.orm import checkpoints
from p3ke_audit.adapters.tree_store import MissingNode, StoredCheckpoint, TreeStore
from p3ke_audit.config import AuditSettings
from p3ke_audit.service_layer.witnessed import largest_trusted
from p3ke_platform.logging import describe_error, get_logger
from p3ke_platform.tlog.cosignature import Witness
from p3ke_platform.tlog.merkle import Frontier, ProofError, consistency_proof, verify_consistency
from p3ke_platform.tlog.note import Checkpoint, CheckpointError, open_note, sign

if TYPE_CHECKING:
    from p3ke_audit.service_layer.context import AuditContext

log = get_logger(__name__)
ISSUED = Counter("p3ke_audit_checkpoints_total", "signed checkpoints issued")
REFUSED = Counter("p3ke_audit_checkpoint_refusals_total",
                  "checkpoints not signed because the stored tree does not extend the previous one, "
                  "or the largest one a witness cosigned")
INSERT_CHECKPOINT = insert(checkpoints)


class InconsistentTree(RuntimeError):
    """The stored tree does not extend the last signed checkpoint, or the largest witnessed one."""


def is_due(settings: AuditSettings, size: int, last: StoredCheckpoint | None, now: datetime) -> bool:
    grown = size - (last.tree_size if last else 0)
    if grown <= 0:
        return False
    if last is None or grown >= settings.audit_checkpoint_every:
        return True
    issued = last.issued_at if last.issued_at.tzinfo else last.issued_at.replace(tzinfo=UTC)
    return (now - issued).total_seconds() >= settings.audit_checkpoint_seconds


def check_witnessed(session: Session, store: TreeStore, signer: Signer, frontier: Frontier, root: bytes,
                    last: StoredCheckpoint | None, witnesses: Sequence[Witness]) -> None:
    """Raise InconsistentTree unless the head of `frontier` extends the largest checkpoint a configured
    witness verifiably cosigned (nothing to check if there is none, or it is `last`, checked already)."""
    trusted = largest_trusted(session, signer.name, signer.public_key, witnesses)
    if trusted is None:
        return
    n = frontier.size
    if trusted.checkpoint is None:
        raise InconsistentTree(
            f"tidak menandatangani ukuran {n}: checkpoint {trusted.missing} telah disaksikan (cosigned) tetapi "
            f"hilang dari audit_checkpoints, jadi kesinambungan dengannya tidak dapat dibuktikan (not signing "
            f"size {n}: the witnessed checkpoint {trusted.missing} is missing from audit_checkpoints)")
    cp = trusted.checkpoint
    if last is not None and cp.tree_size == last.tree_size and cp.root_hash == last.root_hash:
        return
    if cp.tree_size > n:
        raise InconsistentTree(
            f"tidak menandatangani ukuran {n}: log menyusut dari {cp.tree_size} (checkpoint yang disaksikan "
            f"{trusted.witness}) menjadi {n} (not signing size {n}: the log shrank from the witnessed {cp.tree_size})")
    try:
        proof = consistency_proof(cp.tree_size, n, store.lookup)
        verify_consistency(cp.tree_size, n, cp.root_hash, root, proof)
    except (ProofError, MissingNode) as exc:
        raise InconsistentTree(
            f"tidak menandatangani ukuran {n}: checkpoint {n} tidak konsisten dengan checkpoint {cp.tree_size} "
            f"yang disaksikan {trusted.witness} (not signing size {n}: not consistent with the witnessed "
            f"checkpoint {cp.tree_size}: {exc})") from None


def sign_head(session: Session, store: TreeStore, signer: Signer, frontier: Frontier,
              last: StoredCheckpoint | None, now: datetime, witnesses: Sequence[Witness] = ()) -> StoredCheckpoint:
    """Verify the head extends `last` and the largest checkpoint one of `witnesses` cosigned, sign it and
    store it (same transaction). Lock must be held."""
    root = frontier.root()
    if last is not None:
        try:
            previous = open_note(last.note, signer.name, signer.public_key)
            if previous.size != last.tree_size or previous.root != last.root_hash:
                raise CheckpointError("the stored columns differ from the signed note")
            proof = consistency_proof(previous.size, frontier.size, store.lookup)
            verify_consistency(previous.size, frontier.size, previous.root, root, proof)
        except (CheckpointError, ProofError, MissingNode) as exc:
            REFUSED.inc()
            raise InconsistentTree(f"not signing size {frontier.size}: the tree does not extend "
                                   f"checkpoint {last.tree_size}: {exc}") from None
    if witnesses:
        try:
            check_witnessed(session, store, signer, frontier, root, last, witnesses)
        except InconsistentTree:
            REFUSED.inc()
            raise
    note = sign(Checkpoint(signer.name, frontier.size, root), signer.name, signer.private_key)
    row = StoredCheckpoint(frontier.size, root, note, signer.key_id_hex, now)
    session.execute(INSERT_CHECKPOINT, [{"tree_size": row.tree_size, "root_hash": row.root_hash,
                                         "note": row.note, "key_id": row.key_id, "issued_at": now}])
    ISSUED.inc()
    return row


_UNREAD: Any = object()


def maybe_sign(session: Session, store: TreeStore, signer_factory: Callable[[], Signer], settings: AuditSettings,
               frontier: Frontier, *, force: bool = False,
               last: StoredCheckpoint | None = _UNREAD) -> StoredCheckpoint | None:
    """Sign the head if a checkpoint is due (or `force` and the log grew). Lock must be held; `last` is
    the latest checkpoint if the caller read it under the same lock."""
    now = datetime.now(UTC)
    if last is _UNREAD:
        last = store.last_checkpoint()
    if not (is_due(settings, frontier.size, last, now) or (force and frontier.size > (last.tree_size if last else 0))):
        return None
    try:
        return sign_head(session, store, signer_factory(), frontier, last, now,
                         [w.witness for w in settings.audit_witnesses])
    except InconsistentTree as exc:
        log.critical("audit checkpoint refused", error=str(exc)[:500])
        return None


def issue_checkpoint(sessions: sessionmaker[Session], settings: AuditSettings, signer_factory: Callable[[], Signer],
                     *, force: bool = True) -> StoredCheckpoint | None:
    """In its own transaction: sign the current head if due (or whenever it grew, with `force`)."""
    with sessions() as session, session.begin():
        store = TreeStore(session)
        store.lock()
        frontier = Frontier.load(store.size(), store.lookup)
        return maybe_sign(session, store, signer_factory, settings, frontier, force=force)


def checkpointer(ctx: AuditContext, stop: threading.Event) -> None:
    """The `audit-checkpointer` background loop: sign a checkpoint when one is due (N entries or T seconds),
    also while no batch arrives, until `stop` is set."""
    interval = min(ctx.settings.audit_checkpoint_seconds, 5.0)
    while not stop.wait(interval):
        try:
            ctx.issue_checkpoint(force=False)
        except Exception as exc:  # keep trying; the next round may succeed
            log.warning("checkpoint round failed", error=describe_error(exc))
