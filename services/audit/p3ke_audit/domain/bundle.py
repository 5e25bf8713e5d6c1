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
`origin.signing_payload(envelope, payload)` too; this check needs only the log's key.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from p3ke_audit.domain.checkpoint import CheckpointError, open_note
from p3ke_audit.domain.entry import canonical_bytes
from p3ke_audit.domain.merkle import ProofError, leaf_hash, verify_consistency, verify_inclusion

FORMAT = "p3ke-audit-bundle/1"
MAX_ENTRIES = 100_000


@dataclass
class BundleReport:
    tree_size: int = 0
    entries_checked: int = 0
    checkpoints_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _hashes(values: Any) -> list[bytes]:
    if not isinstance(values, list) or len(values) > 64:
        raise ProofError("a proof is a list of at most 64 base64 hashes")
    try:
        return [base64.b64decode(v, validate=True) for v in values]
    except (binascii.Error, TypeError, ValueError):
        raise ProofError("a proof hash is not base64") from None


def verify_bundle(bundle: Mapping[str, Any], name: str, public_key: Ed25519PublicKey) -> BundleReport:
    report = BundleReport()
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
    return report
