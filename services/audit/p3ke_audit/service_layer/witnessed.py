"""What the witnesses vouched for, read back from the database and verified before it is believed.

`audit_cosignatures` holds the lines as received; anyone with the database can add or delete rows. So a
stored line counts only if it verifies, with the key of a *configured* witness, over the body of the
stored checkpoint note of that size (itself signed by the log). Nothing here contacts a witness
(witnessing.py does); the guard of checkpoints.py, the API and the web page read through here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from p3ke_audit.adapters.orm import cosignatures as cosignatures_table
from p3ke_audit.adapters.orm import witness_state
from p3ke_audit.adapters.tree_store import StoredCheckpoint, TreeStore
from p3ke_audit.config import AuditSettings, WitnessEndpoint
from p3ke_platform.logging import get_logger
from p3ke_platform.tlog.cosignature import Cosignature, Witness, verify_line
from p3ke_platform.tlog.note import CheckpointError, open_note, parse_body, signature_lines

log = get_logger(__name__)
CANDIDATES = 20  # cosigned sizes tried, newest first, before giving up on finding a verifiable one


def verified_cosignatures(store: TreeStore, checkpoint: StoredCheckpoint,
                          witnesses: Sequence[Witness]) -> list[Cosignature]:
    """The stored cosignatures of `checkpoint` that verify with the configured witnesses' keys (one per
    witness). A line that claims a configured key but does not verify is ignored and logged."""
    try:
        body, _ = signature_lines(checkpoint.note)
        stated = parse_body(body)
    except CheckpointError:
        return []
    if stated.size != checkpoint.tree_size or stated.root != checkpoint.root_hash:
        return []
    found: dict[str, Cosignature] = {}
    for line in store.cosignature_lines(checkpoint.tree_size):
        for witness in witnesses:
            try:
                cosig = verify_line(body, line, witness)
            except CheckpointError as exc:
                log.warning("stored cosignature does not verify", size=checkpoint.tree_size, witness=witness.name,
                            error=str(exc)[:200])
                continue
            if cosig is not None:
                found.setdefault(witness.vkey, cosig)
    return list(found.values())


def cosigned_sizes(session: Session, witnesses: Sequence[Witness], *, quorum: int = 1,
                   limit: int = CANDIDATES) -> list[int]:
    """Checkpoint sizes with stored lines of at least `quorum` configured witness keys, largest first."""
    if not witnesses or quorum < 1:
        return []
    ids = [w.key_id.hex() for w in witnesses]
    c = cosignatures_table.c
    rows = session.execute(select(c.tree_size).where(c.key_id.in_(ids)).group_by(c.tree_size)
                           .having(func.count() >= quorum).order_by(c.tree_size.desc()).limit(limit))
    return [int(size) for (size,) in rows]


def largest_cosigned(session: Session, witness: Witness) -> int:
    """The largest checkpoint size `witness` has a stored line for (0: none). One index probe."""
    c = cosignatures_table.c
    size = session.execute(select(func.max(c.tree_size)).where(c.key_id == witness.key_id.hex())).scalar()
    return 0 if size is None else int(size)


@dataclass(frozen=True)
class Witnessed:
    checkpoint: StoredCheckpoint
    cosignatures: list[Cosignature]


def latest_witnessed(session: Session, witnesses: Sequence[Witness], quorum: int) -> Witnessed | None:
    """The largest checkpoint a quorum of the configured witnesses verifiably cosigned (None: none, or no
    quorum is configured: then nothing counts as witnessed)."""
    store = TreeStore(session)
    for size in cosigned_sizes(session, witnesses, quorum=quorum):
        cp = store.checkpoint_at(size)
        if cp is None:
            continue
        found = verified_cosignatures(store, cp, witnesses)
        if len(found) >= quorum:
            return Witnessed(cp, found)
    return None


@dataclass(frozen=True)
class Trusted:
    """The largest checkpoint a configured witness cosigned that the log can still show, or the size of one
    whose checkpoint row is gone (`missing`: then nothing newer can be shown to extend it)."""

    checkpoint: StoredCheckpoint | None
    witness: str
    missing: int | None = None


def largest_trusted(session: Session, name: str, public_key: Any, witnesses: Sequence[Witness]) -> Trusted | None:
    """The largest checkpoint cosigned by at least one configured witness, its log signature and the
    cosignature verified. A size with cosignature rows but no checkpoint row is returned as `missing` (it
    cannot be checked, and its rows exist only because it was signed: someone deleted it)."""
    store = TreeStore(session)
    for size in cosigned_sizes(session, witnesses):
        cp = store.checkpoint_at(size)
        if cp is None:
            return Trusted(None, "", missing=size)
        try:
            stated = open_note(cp.note, name, public_key)
        except CheckpointError as exc:
            log.warning("cosigned checkpoint does not verify with the log key", size=size, error=str(exc)[:200])
            continue
        if stated.size != cp.tree_size or stated.root != cp.root_hash:
            continue
        found = verified_cosignatures(store, cp, witnesses)
        if found:
            return Trusted(cp, ", ".join(sorted(c.witness.name for c in found)))
    return None


@dataclass(frozen=True)
class WitnessView:
    """One configured witness as the status pages show it."""

    name: str
    vkey: str
    url: str
    status: str  # ok | unreachable | refused | behind | not-contacted
    cosigned_size: int | None
    witness_size: int | None
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class WitnessingStatus:
    tree_size: int
    quorum: int
    latest_checkpoint: StoredCheckpoint | None
    latest_witnessed: Witnessed | None
    witnesses: list[WitnessView]

    @property
    def latest_witnessed_size(self) -> int:
        return self.latest_witnessed.checkpoint.tree_size if self.latest_witnessed else 0

    @property
    def unwitnessed_entries(self) -> int:
        return max(self.tree_size - self.latest_witnessed_size, 0)

    @property
    def latest_is_witnessed(self) -> bool:
        cp = self.latest_checkpoint
        return cp is not None and self.latest_witnessed is not None and \
            self.latest_witnessed.checkpoint.tree_size == cp.tree_size


def witness_views(session: Session, endpoints: Sequence[WitnessEndpoint]) -> list[WitnessView]:
    rows = {r["vkey"]: r for r in session.execute(select(witness_state)).mappings()}
    views = []
    for e in endpoints:
        r = rows.get(e.vkey)
        views.append(WitnessView(
            name=e.name, vkey=e.vkey, url=e.url, status=r["status"] if r else "not-contacted",
            cosigned_size=r["cosigned_size"] if r else None, witness_size=r["witness_size"] if r else None,
            last_attempt_at=r["last_attempt_at"] if r else None, last_success_at=r["last_success_at"] if r else None,
            last_error=r["last_error"] if r else None))
    return views


def witnessing_status(session: Session, settings: AuditSettings) -> WitnessingStatus:
    """The tree size, the latest checkpoint, the latest witnessed one and every configured witness's state."""
    store = TreeStore(session)
    size, latest = store.head()
    witnesses = [e.witness for e in settings.audit_witnesses]
    return WitnessingStatus(size, settings.witness_quorum, latest,
                            latest_witnessed(session, witnesses, settings.witness_quorum),
                            witness_views(session, settings.audit_witnesses))
