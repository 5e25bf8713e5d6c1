"""An exported bundle and its offline check: needs nothing but the log's public key.

    {
      "format": "p3ke-audit-bundle/1",
      "origin": "<the log's origin>",
      "checkpoint": "<signed note: the tree every proof below refers to, with the witnesses' cosignatures>",
      "entries": [{"entry": {<canonical fields>}, "inclusion_proof": ["<base64>", ...]}, ...],
      "checkpoints": [{"note": "<an earlier signed note, cosigned>", "consistency_proof": ["<base64>", ...]}],
      "consistency": [{"tree_size": 640, "consistency_proof": ["<base64>", ...]}],   (optional: the sizes
                                                     asked for as `consistency_from`, to the bundle's checkpoint)
      "query": {...}, "exported_at": "..."        (informational, not verified)
    }

Each entry's leaf is recomputed from its fields (so an edited field fails), in the format its `v` names
(1, 2 or 3, see entry.py: format 3 is the RFC 8785 JCS of the entry object, so any JCS library rebuilds
it), then its inclusion proof must lead to the signed root at its `leaf_index`; each earlier checkpoint must
verify and be consistent with the bundle's checkpoint (so the log never forked between them). An entry of
format 2 or 3 also carries its origin evidence (`envelope`, `payload`, `signature`, `key_id`): whoever holds
the producer's public key can verify that signature over `origin.signing_payload(envelope, payload)` too;
the tree check needs only the log's key.

Against what others saw (`trusted`, checkpoints from `trusted.load_trusted`; see trusted.py), the log the bundle
shows must still reach each trusted size and have the trusted root there: a trusted checkpoint larger than
the bundle's fails ("the log shrank"); one of the bundle's size, or of the size of one of its verified
earlier checkpoints, must have the same root; one for which the bundle carries a consistency proof (the
export's `consistency_from`) must be consistent with the bundle's checkpoint. Any other cannot be checked
from this bundle: a warning (`trusted_unchecked`), not a failure. Given witness keys (`witnesses`,
`quorum`), the bundle's checkpoint must carry a quorum of their cosignatures ("not witnessed" otherwise).

Given the event keys (`keys`, the ring of `p3ke audit event-keys`' file), every entry whose inclusion holds has
its origin verified as `p3ke audit verify` does (`origin.OriginChecker`, the same checks): a format 2 entry's
signature by the pinned key its key_id names, valid when recorded, of an owner that may produce the event, over
an envelope and payload its columns derive from. An entry of format 1 is counted as without origin evidence (a
warning), unless the bundle shows a signed entry before it in the log: then it was written around the check
and fails. Each failure names the leaf, the event id and the reason. Without keys, origins are not checked
(`origin_checked` false).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from p3ke_audit.domain.entry import FORMAT_COLUMN, INSTANT_FIELDS, ORDER, canonical_bytes
from p3ke_audit.domain.origin import (
    OriginChecker,
    OriginError,
    OriginFailure,
    unsigned_after_signed,
    unsigned_warning,
)
from p3ke_audit.domain.trusted import compare, inconsistent
from p3ke_platform.tlog.cosignature import Witness, check_quorum
from p3ke_platform.tlog.merkle import ProofError, leaf_hash, verify_consistency, verify_inclusion
from p3ke_platform.tlog.note import Checkpoint, CheckpointError, open_note

if TYPE_CHECKING:
    from p3ke_platform.event_keys import KeyRing

FORMAT = "p3ke-audit-bundle/1"
MAX_ENTRIES = 100_000


@dataclass
class BundleReport:
    tree_size: int = 0
    entries_checked: int = 0
    checkpoints_checked: int = 0
    problems: list[str] = field(default_factory=list)
    origin_checked: bool = False  # the entries' origins were verified against event keys
    signed_entries: int = 0  # entries of format 2 whose origin verified
    origin_failures: list[OriginFailure] = field(default_factory=list)
    unsigned_leaves: list[int] = field(default_factory=list)  # entries of format 1 (no origin evidence)
    trusted_checked: list[int] = field(default_factory=list)  # sizes of the trusted checkpoints shown consistent
    trusted_failures: list[str] = field(default_factory=list)  # trusted checkpoints the bundle contradicts
    trusted_unchecked: list[str] = field(default_factory=list)  # trusted checkpoints this bundle cannot judge
    witnessed_by: list[str] | None = None  # with witness keys: the witnesses that cosigned the checkpoint

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def unsigned_ranges(self) -> list[list[int]]:
        """The leaves of the format 1 entries as [first, last] runs."""
        ranges: list[list[int]] = []
        for leaf in sorted(self.unsigned_leaves):
            if ranges and ranges[-1][1] == leaf - 1:
                ranges[-1][1] = leaf
            else:
                ranges.append([leaf, leaf])
        return ranges

    @property
    def warnings(self) -> list[str]:
        return [*unsigned_warning(len(self.unsigned_leaves), self.unsigned_ranges), *self.trusted_unchecked]


def _hashes(values: Any) -> list[bytes]:
    if not isinstance(values, list) or len(values) > 64:
        raise ProofError("a proof is a list of at most 64 base64 hashes")
    try:
        return [base64.b64decode(v, validate=True) for v in values]
    except (binascii.Error, TypeError, ValueError):
        raise ProofError("a proof hash is not base64") from None


def _values(fields: Mapping[str, Any]) -> list[Any]:
    """A bundle entry's fields as the values of a stored row in ORDER (what OriginChecker reads): its instants
    as datetimes, a format 1 entry's absent evidence as None, its `v` as the row's leaf_format."""
    values = []
    for name in ORDER:
        value = fields.get("v" if name == FORMAT_COLUMN else name)
        if name in INSTANT_FIELDS and isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                raise OriginError(f"its {name} is not an instant") from None
        values.append(value)
    return values


def _check_origins(report: BundleReport, keys: KeyRing, verified: list[Mapping[str, Any]]) -> None:
    """The origin of each entry whose inclusion verified, as `p3ke audit verify` checks it."""
    checker = OriginChecker(keys)
    signed = [f["leaf_index"] for f in verified if f["v"] != 1]
    first_signed = min(signed, default=None)
    for fields in sorted(verified, key=lambda f: f["leaf_index"]):
        leaf, event_id = fields["leaf_index"], fields.get("event_id")
        event_id = event_id if isinstance(event_id, str) else None
        if fields["v"] == 1:
            if first_signed is None or leaf < first_signed:
                report.unsigned_leaves.append(leaf)
            else:
                report.origin_failures.append(OriginFailure(leaf, event_id, unsigned_after_signed(first_signed)))
            continue
        try:
            checker.check(_values(fields))
        except OriginError as exc:
            report.origin_failures.append(OriginFailure(leaf, event_id, str(exc)))
            continue
        report.signed_entries += 1
    report.problems += [failure.describe() for failure in report.origin_failures]


def _check_trusted(report: BundleReport, bundle: Mapping[str, Any], head: Checkpoint, earlier: Mapping[int, bytes],
                   trusted: Sequence[Checkpoint], witnessed: bool) -> None:
    """Each trusted checkpoint against the log as the bundle shows it (the module docstring says how)."""
    proofs: dict[int, Any] = {}
    for item in bundle.get("consistency") or []:
        if isinstance(item, Mapping) and type(item.get("tree_size")) is int:
            proofs.setdefault(item["tree_size"], item.get("consistency_proof"))
    for cp in trusted:
        if cp.size > head.size or cp.size == 0:
            problem = compare(cp, head.size, None, witnessed=witnessed)
        elif cp.size == head.size or cp.size in earlier:
            problem = compare(cp, head.size, head.root if cp.size == head.size else earlier[cp.size],
                              witnessed=witnessed)
        elif cp.size in proofs:
            try:
                verify_consistency(cp.size, head.size, cp.root, head.root, _hashes(proofs[cp.size]))
                problem = None
            except ProofError as exc:
                problem = inconsistent(cp, head.size, witnessed=witnessed, why=(
                    "bukti konsistensi dalam bundel gagal", f"the bundle's consistency proof fails: {exc}"))
        else:
            report.trusted_unchecked.append(
                f"checkpoint {'tersaksi' if witnessed else 'tepercaya'} {cp.size} tidak dapat diperiksa dengan bundel "
                f"ini (tanpa bukti konsistensi dari ukuran {cp.size}); ekspor ulang dengan consistency_from: "
                f"[{cp.size}] / the {'witnessed' if witnessed else 'trusted'} checkpoint {cp.size} cannot be checked "
                f"from this bundle (no consistency proof from size {cp.size}); export it again with "
                f"consistency_from: [{cp.size}]")
            continue
        if problem is None:
            report.trusted_checked.append(cp.size)
        else:
            report.trusted_failures.append(problem)
            report.problems.append(problem)


def verify_bundle(bundle: Mapping[str, Any], name: str, public_key: Ed25519PublicKey, *,
                  keys: KeyRing | None = None, trusted: Sequence[Checkpoint] = (),
                  witnesses: Sequence[Witness] = (), quorum: int = 1) -> BundleReport:
    """Check the bundle against the log's key; with `keys` (the event key ring), every entry's origin too; with
    `trusted` checkpoints, that the log it shows extends each; with `witnesses`, that `quorum` of them
    cosigned its checkpoint."""
    report = BundleReport(origin_checked=keys is not None)
    if bundle.get("format") != FORMAT:
        report.problems.append(f"not a {FORMAT} bundle")
        return report
    try:
        head = open_note(str(bundle.get("checkpoint", "")), name, public_key)
    except CheckpointError as exc:
        report.problems.append(f"checkpoint: {exc}")
        return report
    if head.origin != name or bundle.get("origin") != head.origin:
        report.problems.append(f"checkpoint: origin {head.origin!r} is not the log {name!r}")
        return report
    report.tree_size = head.size
    if witnesses:
        try:
            report.witnessed_by = sorted(c.witness.name for c in check_quorum(bundle["checkpoint"], list(witnesses),
                                                                             quorum))
        except CheckpointError as exc:
            report.witnessed_by = []
            report.problems.append(f"checkpoint {head.size} bundel belum disaksikan (kuorum {quorum} tidak terpenuhi) "
                                   f"/ the bundle's checkpoint {head.size} is not witnessed: {exc}")

    earlier_roots: dict[int, bytes] = {}  # the earlier checkpoints shown consistent with the head
    for i, item in enumerate(bundle.get("checkpoints") or []):
        try:
            earlier = open_note(str(item.get("note", "")), name, public_key)
            if earlier.origin != head.origin:
                raise CheckpointError(f"origin {earlier.origin!r} differs")
            verify_consistency(earlier.size, head.size, earlier.root, head.root,
                               _hashes(item.get("consistency_proof", [])))
        except (CheckpointError, ProofError, AttributeError) as exc:
            report.problems.append(f"checkpoints[{i}]: {exc}")
            continue
        report.checkpoints_checked += 1
        earlier_roots[earlier.size] = earlier.root
    _check_trusted(report, bundle, head, earlier_roots, trusted, bool(witnesses))

    entries = bundle.get("entries") or []
    if len(entries) > MAX_ENTRIES:
        report.problems.append(f"more than {MAX_ENTRIES} entries; split the export")
        return report
    verified: list[Mapping[str, Any]] = []  # entries whose leaf and inclusion hold
    for i, item in enumerate(entries):
        fields = item.get("entry") if isinstance(item, Mapping) else None
        where = fields.get("leaf_index") if isinstance(fields, Mapping) else None
        try:
            if not isinstance(fields, Mapping):
                raise ProofError("no entry")
            if not isinstance(where, int) or isinstance(where, bool):
                raise ProofError("leaf_index is not an integer")
            verify_inclusion(leaf_hash(canonical_bytes(fields)), where, head.size,
                             _hashes(item.get("inclusion_proof", [])), head.root)
        except (TypeError, ValueError, ProofError) as exc:
            report.problems.append(f"entries[{i}] (leaf {where}): {exc}")
            continue
        report.entries_checked += 1
        verified.append(fields)
    if keys is not None:
        _check_origins(report, keys, verified)
    return report
