"""An exported bundle and its offline check: needs nothing but the log's public key.

    {
      "format": "p3ke-audit-bundle/1",
      "origin": "<the log's origin>",
      "checkpoint": "<signed note: the tree every proof below refers to>",
      "entries": [{"entry": {<canonical fields>}, "inclusion_proof": ["<base64>", ...]}, ...],
      "checkpoints": [{"note": "<an earlier signed note>", "consistency_proof": ["<base64>", ...]}],
      "query": {...}, "exported_at": "..."        (informational, not verified)
    }

Each entry's leaf is recomputed from its fields (so an edited field fails), in the format its `v` names
(1 or 2, see entry.py), then its inclusion proof must lead to the signed root at its `leaf_index`; each
earlier checkpoint must verify and be consistent with the bundle's checkpoint (so the log never forked
between them). An entry of format 2 also carries its origin evidence (`envelope`, `payload`, `signature`,
`key_id`): whoever holds the producer's public key can verify that signature over
`origin.signing_payload(envelope, payload)` too; the tree check needs only the log's key.

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
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from p3ke_audit.domain.entry import INSTANT_FIELDS, ORDER, canonical_bytes, format_of
from p3ke_audit.domain.origin import (
    OriginChecker,
    OriginError,
    OriginFailure,
    unsigned_after_signed,
    unsigned_warning,
)
from p3ke_platform.tlog.merkle import ProofError, leaf_hash, verify_consistency, verify_inclusion
from p3ke_platform.tlog.note import CheckpointError, open_note

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
        return unsigned_warning(len(self.unsigned_leaves), self.unsigned_ranges)


def _hashes(values: Any) -> list[bytes]:
    if not isinstance(values, list) or len(values) > 64:
        raise ProofError("a proof is a list of at most 64 base64 hashes")
    try:
        return [base64.b64decode(v, validate=True) for v in values]
    except (binascii.Error, TypeError, ValueError):
        raise ProofError("a proof hash is not base64") from None


def _values(fields: Mapping[str, Any]) -> list[Any]:
    """A bundle entry's fields as the values of a stored row in ORDER (what OriginChecker reads): its instants
    as datetimes, a format 1 entry's absent evidence as None."""
    values = []
    for name in ORDER:
        value = fields.get(name)
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
    signed = [f["leaf_index"] for f in verified if format_of(f) == 2]
    first_signed = min(signed, default=None)
    for fields in sorted(verified, key=lambda f: f["leaf_index"]):
        leaf, event_id = fields["leaf_index"], fields.get("event_id")
        event_id = event_id if isinstance(event_id, str) else None
        if format_of(fields) == 1:
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


def verify_bundle(bundle: Mapping[str, Any], name: str, public_key: Ed25519PublicKey, *,
                  keys: KeyRing | None = None) -> BundleReport:
    """Check the bundle against the log's key; with `keys` (the event key ring), every entry's origin too."""
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
