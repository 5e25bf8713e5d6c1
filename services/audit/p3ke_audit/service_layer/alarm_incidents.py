"""Incidents opened from the log's own alarms: a log that was tampered with, or that forked, may hide or fake
accesses to personal data (UU PDP Art. 46), so each alarm opens an incident with its 72-hour clock from the
moment the alarm was raised, and is announced like any other (Kafka `incident-opened`, email to both parties).

* `log-tamper`, found by the audit-incidents job (`tamper_alarms`, each pass of incident_scan.scan). A full
  `p3ke audit verify` reads the whole log and is too long to run every minute, so each pass does three bounded
  checks instead:

  1. the full verifications recorded since the last pass (audit_verifications, from `p3ke audit verify`) that
     failed: their first bad leaf (or, when none is named, the verification itself) is the alarm;
  2. the latest checkpoint: the log is not shorter than it, its stored root is the one its note states (signed
     with the log's key), the root recomputed from the stored tree nodes is that root, and a consistency proof
     from the previous checkpoint, built from the stored nodes, verifies (O(log n) nodes);
  3. a rolling window of LEAVES_PER_PASS leaves (aligned on the tree; the next window's first leaf is kept in
     audit_incident_scan, row `integrity`, and wraps to 0 at the end of the log): each entry's leaf hash
     recomputed from its columns and compared with the stored one, a missing leaf noticed, and the window's
     subtree hashes recomputed and compared with the stored nodes. The whole log is re-read every
     size / LEAVES_PER_PASS passes (1 million entries: about 4 hours at one pass a minute).

* `witness-fork`: witnessing.py calls `witness_alarm` in the transaction that records a witness's answer, when
  that answer says the log forked or rolled back (FORK_REASONS): the witness cosigned a larger checkpoint than
  the log's latest, or calls the log's checkpoint inconsistent with one it cosigned, or knows another root.
  The audit service sees only what the witnesses answer; the witness's own alarms stay in party 2's witness.

Each alarm is a piece of evidence with a stable key (audit_incident_evidence: kind, key) written with the
incident, so an alarm raised again by the next pass, by another process or after a restart opens nothing new.
Alarms of one kind are grouped into the open incident of that kind (per witness for forks), as evidence;
after its closure a new alarm opens a new incident. Nothing here names a data subject but by keyed reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from p3ke_audit.adapters.orm import checkpoints, entries, incident_scan, subject_refs, verifications
from p3ke_audit.adapters.tree_store import MissingNode, TreeStore
from p3ke_audit.domain.entry import entry_leaf_hash
from p3ke_audit.service_layer import incidents as register
from p3ke_audit.service_layer.case_history import as_utc
from p3ke_platform.logging import get_logger
from p3ke_platform.tlog.merkle import ProofError, consistency_proof, node_hash, root_at, verify_consistency
from p3ke_platform.tlog.note import CheckpointError, open_note

log = get_logger(__name__)

TAMPER = "log-tamper"
FORK = "witness-fork"
LEAVES_PER_PASS = 1 << 12
"""Leaves the rolling integrity window reads per pass (a power of two: windows are whole subtrees)."""
WINDOW_CURSOR = "integrity"
VERIFY_CURSOR = "verifications"
FORK_REASONS = {
    "log-rollback": ("saksi telah menandatangani checkpoint yang lebih besar daripada checkpoint terbaru log: log "
                     "menyusut atau dimundurkan", "the witness cosigned a larger checkpoint than the log's latest: "
                     "the log shrank or was rolled back"),
    "inconsistent": ("saksi menyatakan checkpoint log tidak konsisten dengan checkpoint yang telah ia tandatangani: "
                     "riwayat log bercabang (fork)", "the witness says the log's checkpoint is not consistent with "
                     "one it cosigned: the log's history forked"),
    "conflict": ("saksi mengenal root lain untuk ukuran log yang sama: riwayat log bercabang (fork)",
                 "the witness knows another root for the same size: the log's history forked"),
}
"""Witness answers (witnessing.py's refusal reasons) that mean the log's history forked or was rolled back. A
witness that lost its own state (`witness-rollback`) is not one: the log's history is intact and is witnessed
again; it is logged as critical and counted (p3ke_audit_witness_refusals_total)."""
TAMPER_TITLE = ("Integritas log audit rusak: entri atau pohon Merkle diubah di luar aplikasi / The audit log's "
                "integrity is broken: an entry or the Merkle tree was changed outside the application")


@dataclass(frozen=True)
class Alarm:
    """One integrity alarm: its stable key, where it is (a leaf, when known) and what was found."""

    key: str
    leaf: int | None
    found: str  # "<Indonesian> / <English>", sizes and hashes only
    discovered_at: datetime | None = None  # None: now


# -- the bounded checks -----------------------------------------------------------------------------------------

def _cursor(session: Session, name: str) -> int | None:
    return session.scalar(select(incident_scan.c.last_seq).where(incident_scan.c.name == name))


def _set_cursor(session: Session, name: str, value: int, now: datetime, *, known: bool) -> None:
    if known:
        session.execute(update(incident_scan).where(incident_scan.c.name == name)
                        .values(last_seq=value, scanned_at=now))
    else:
        session.execute(insert(incident_scan).values(name=name, last_seq=value, scanned_at=now))


def failed_verifications(session: Session, now: datetime) -> list[Alarm]:
    """The full verifications recorded since the last pass that failed."""
    last = _cursor(session, VERIFY_CURSOR)
    rows = session.execute(select(verifications).where(verifications.c.id > (last or 0))
                           .order_by(verifications.c.id)).mappings().all()
    if rows:
        _set_cursor(session, VERIFY_CURSOR, int(rows[-1]["id"]), now, known=last is not None)
    alarms = []
    for row in rows:
        if row["ok"]:
            continue
        leaf = row["first_bad_leaf"]
        key = f"leaf:{leaf}" if leaf is not None else f"verification:{row['id']}"
        alarms.append(Alarm(key, None if leaf is None else int(leaf),
                            f"verifikasi penuh (p3ke audit verify) #{row['id']} gagal pada ukuran {row['tree_size']}: "
                            f"{str(row['message'])[:600]} / a full verification failed",
                            as_utc(row["finished_at"])))
    return alarms


def latest_checkpoint(session: Session, origin: str, public_key: Ed25519PublicKey | None) -> list[Alarm]:
    """The latest checkpoint against the stored tree and the previous checkpoint (O(log n) nodes)."""
    store = TreeStore(session)
    size, latest = store.head()
    if latest is None:
        return []
    n = latest.tree_size
    previous = session.execute(select(checkpoints.c.tree_size, checkpoints.c.root_hash)
                               .where(checkpoints.c.tree_size < n)
                               .order_by(checkpoints.c.tree_size.desc()).limit(1)).first()
    p = int(previous[0]) if previous else 0
    key = f"checkpoint:{p}:{n}"
    root = latest.root_hash.hex()
    if size < n:
        return [Alarm(key, size, f"log hanya memuat {size} entri, padahal checkpoint {n} (root {root}) telah "
                                 f"ditandatangani: entri dari leaf {size} hilang / the log holds {size} entries but "
                                 f"checkpoint {n} was signed: entries from leaf {size} on are missing")]
    if public_key is not None:
        try:
            stated = open_note(latest.note, origin, public_key)
            if stated.size != n or stated.root != latest.root_hash:
                raise CheckpointError("its columns differ from the signed note")
        except CheckpointError as exc:
            return [Alarm(key, None, f"checkpoint {n} tidak ditandatangani log ini atau kolomnya diubah ({exc}) / "
                                     f"checkpoint {n} is not one the log signed")]
    try:
        if root_at(n, store.lookup) != latest.root_hash:
            return [Alarm(key, None, f"root yang dihitung dari simpul pohon tersimpan berbeda dari root checkpoint "
                                     f"{n} ({root}): simpul pohon diubah / the root recomputed from the stored "
                                     f"nodes differs from checkpoint {n}'s")]
        if previous is not None:
            verify_consistency(p, n, bytes(previous[1]), latest.root_hash,
                               consistency_proof(p, n, store.lookup))
    except (MissingNode, ProofError) as exc:
        return [Alarm(key, None, f"checkpoint {n} ({root}) tidak dapat dibuktikan konsisten dengan checkpoint {p} "
                                 f"({bytes(previous[1]).hex() if previous else '-'}) dari pohon tersimpan: {exc} / "
                                 f"checkpoint {n} cannot be proven consistent with checkpoint {p}")]
    return []


def _window_nodes(lo: int, leaves: list[bytes]) -> dict[tuple[int, int], bytes]:
    """The complete subtrees (level >= 1) over `leaves`, the first at `lo` (aligned on the window)."""
    found: dict[tuple[int, int], bytes] = {}
    level, current = 0, leaves
    while len(current) > 1:
        level += 1
        current = [node_hash(a, b) for a, b in zip(current[::2], current[1::2], strict=False)]
        found.update({(level, (lo >> level) + i): h for i, h in enumerate(current)})
    return found


def rolling_window(session: Session, now: datetime, size: int, width: int = LEAVES_PER_PASS) -> list[Alarm]:
    """The next window of leaves: every entry against its leaf hash, the window's nodes against the stored ones."""
    cursor = _cursor(session, WINDOW_CURSOR)
    lo = cursor if cursor is not None and cursor < size else 0
    hi = min(lo + width, size)
    _set_cursor(session, WINDOW_CURSOR, hi if hi < size else 0, now, known=cursor is not None)
    if hi <= lo:
        return []
    rows = session.execute(select(entries).where(entries.c.leaf_index >= lo, entries.c.leaf_index < hi)
                           .order_by(entries.c.leaf_index)).mappings()
    leaves: list[bytes] = []
    for expected, row in enumerate(rows, start=lo):
        index = int(row["leaf_index"])
        if index != expected:
            return [Alarm(f"leaf:{expected}", expected, f"entri pada leaf {expected} hilang (dihapus?) / the entry "
                                                        f"at leaf {expected} is missing (deleted?)")]
        leaf = entry_leaf_hash(dict(row))
        if row["leaf_hash"] is None or bytes(row["leaf_hash"]) != leaf:
            return [Alarm(f"leaf:{index}", index, f"entri pada leaf {index} (seq {row['seq']}) tidak cocok dengan "
                                                  f"hash daunnya: isinya diubah / the entry at leaf {index} does "
                                                  f"not match its leaf hash: its content was changed")]
        leaves.append(leaf)
    if len(leaves) != hi - lo:
        return [Alarm(f"leaf:{lo + len(leaves)}", lo + len(leaves), f"entri dari leaf {lo + len(leaves)} hilang / "
                                                                    f"entries from leaf {lo + len(leaves)} are "
                                                                    f"missing")]
    computed = _window_nodes(lo, leaves)
    try:
        stored = TreeStore(session).lookup(computed) if computed else {}
    except MissingNode as exc:
        stored = {}
        log.warning("integrity window lacks stored nodes", error=str(exc)[:200])
    for (level, idx), h in sorted(computed.items()):  # the smallest subtree that differs names the damage
        if stored.get((level, idx)) != h:
            first, last = idx << level, ((idx + 1) << level) - 1
            return [Alarm(f"leaf:{first}", first, f"hash pohon atas leaf {first}..{last} tidak cocok dengan entrinya: "
                                                  f"sebuah entri diganti dan hash daunnya ditulis ulang / the tree's "
                                                  f"hash over leaves {first}..{last} does not match the entries")]
    return []


# -- opening the incidents --------------------------------------------------------------------------------------

def _refs(session: Session, leaf: int | None) -> list[str]:
    if leaf is None:
        return []
    return list(session.execute(select(subject_refs.c.subject_ref)
                                .where(subject_refs.c.leaf_index == leaf)).scalars())


def _open_tamper(session: Session, now: datetime, alarm: Alarm) -> str | None:
    refs = _refs(session, alarm.leaf)
    known = register.Known(
        description=f"Alarm integritas log audit ({alarm.key}): {alarm.found}"[:4000],
        subject_count=len(refs) or None, subject_refs=refs,
        resources=[("audit-log", alarm.key)])
    return register.attach_evidence(session, now, kind=TAMPER, entry_key=alarm.key, leaf_index=alarm.leaf,
                                    source=TAMPER, source_key=TAMPER, title=TAMPER_TITLE,
                                    discovered_at=alarm.discovered_at or now, known=known)


def tamper_alarms(session: Session, now: datetime, *, origin: str, public_key: Ed25519PublicKey | None,
                  width: int = LEAVES_PER_PASS) -> list[str]:
    """The bounded integrity checks of one pass (in the caller's transaction); the incidents opened."""
    size = TreeStore(session).size()
    alarms = (failed_verifications(session, now) + latest_checkpoint(session, origin, public_key)
              + rolling_window(session, now, size, width))
    opened = []
    for alarm in alarms:
        log.critical("audit log integrity alarm", key=alarm.key)
        opened += [new] if (new := _open_tamper(session, now, alarm)) else []
    return opened


def witness_alarm(session: Session, now: datetime, *, witness: str, reason: str, tree_size: int,
                  witness_size: int | None, cosigned_size: int, error: str | None) -> str | None:
    """A witness's answer that says the log forked or rolled back (`reason` in FORK_REASONS), in the transaction
    that records it: the incident opened (None: an alarm already known, or not a fork). One alarm per witness,
    reason and the witnessed size the log contradicts; a concurrent recorder of the same alarm wins quietly."""
    if reason not in FORK_REASONS:
        return None
    anchor = witness_size if witness_size is not None else cosigned_size
    key = f"{witness}:{reason}:{anchor}"
    indonesian, english = FORK_REASONS[reason]
    known = register.Known(
        description=(f"Saksi {witness}: {indonesian}. Checkpoint terbaru log: {tree_size}; ukuran yang dikenal "
                     f"saksi: {witness_size if witness_size is not None else '-'}; terbesar yang ditandatangani "
                     f"saksi untuk log ini: {cosigned_size}. Jawaban: {(error or '-')[:500]} / Witness {witness}: "
                     f"{english}; the log's latest checkpoint {tree_size}, the witness's size "
                     f"{witness_size if witness_size is not None else '-'}, its largest cosigned {cosigned_size}. "
                     f"Check with p3ke audit verify --trusted-checkpoint and the witness's alarms (p3ke witness "
                     f"alarms)"),
        resources=[("audit-log", f"checkpoint:{tree_size}")])
    try:
        with session.begin_nested():
            return register.attach_evidence(
                session, now, kind=FORK, entry_key=key, leaf_index=None, source=FORK,
                source_key=f"{FORK}:{witness}"[:300], discovered_at=now, known=known,
                title=f"Saksi {witness} melaporkan cabang atau kemunduran log audit / Witness {witness} reports a "
                      f"fork or rollback of the audit log")
    except IntegrityError:
        return None
