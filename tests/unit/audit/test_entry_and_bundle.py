"""The canonical form of an entry, and the offline bundle verifier (no database, public key only)."""

from __future__ import annotations

import base64
import copy
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from p3ke_audit.adapters.orm import entries
from p3ke_audit.domain.bundle import FORMAT, verify_bundle
from p3ke_audit.domain.checkpoint import Checkpoint, sign
from p3ke_audit.domain.entry import FIELDS, canonical_bytes, canonical_fields, entry_leaf_hash
from p3ke_audit.domain.merkle import MemoryTree, leaf_hash

ORIGIN = "p3ke.test/audit"


def row(i: int, **kw: Any) -> dict[str, Any]:
    base = {c.name: None for c in entries.columns}
    base.update(seq=1000 + i, leaf_index=i, event_id=f"ev-{i}", event_type="p3ke.data-access.v1", source="x",
                service="targeting", actor_org="kemnaker", actor_subject="officer-1", actor_roles=" a b ",
                action="read", resource_type="extract", resource_id=f"ext-{i}", outcome="allowed",
                program="padat_karya", agreement_id="PKS", record_count=i,
                occurred_at=datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC), recorded_at=datetime(2026, 3, 1),
                payload='{"a":1}', leaf_hash=b"ignored")
    base.update(kw)
    return base


def test_the_canonical_form_covers_every_stored_column_but_the_key_and_the_hash() -> None:
    assert set(FIELDS) == {c.name for c in entries.columns} - {"seq", "leaf_hash"}


def test_canonical_bytes_are_sorted_compact_utc() -> None:
    data = canonical_bytes(canonical_fields(row(3)))
    assert data.startswith(b'{"action":"read","actor_org":"kemnaker"')
    assert b'"occurred_at":"2026-03-01T10:00:00.123456Z"' in data
    assert b'"recorded_at":"2026-03-01T00:00:00.000000Z"' in data  # naive (SQLite) is UTC
    assert b'"v":1' in data and b" " not in data.replace(b" a b ", b"")
    wib = timezone(timedelta(hours=7))
    same = row(3, occurred_at=datetime(2026, 3, 1, 17, 0, 0, 123456, tzinfo=wib))
    assert entry_leaf_hash(same) == entry_leaf_hash(row(3))
    assert entry_leaf_hash(row(3, seq=1)) == entry_leaf_hash(row(3))  # the database key is not covered
    for changed in ({"leaf_index": 4}, {"payload": '{"a":2}'}, {"record_count": 4}, {"kafka_partition": 0}):
        assert entry_leaf_hash(row(3, **changed)) != entry_leaf_hash(row(3))
    with pytest.raises(TypeError):
        canonical_fields(row(3, record_count=1.5))


def _bundle(n: int = 9, picks: tuple[int, ...] = (0, 4, 8)) -> tuple[dict[str, Any], Ed25519PrivateKey]:
    key = Ed25519PrivateKey.generate()
    rows = [row(i) for i in range(n)]
    tree = MemoryTree(entry_leaf_hash(r) for r in rows)
    b64 = lambda hs: [base64.b64encode(h).decode() for h in hs]  # noqa: E731
    earlier = 5
    bundle = {
        "format": FORMAT, "origin": ORIGIN,
        "checkpoint": sign(Checkpoint(ORIGIN, n, tree.root()), ORIGIN, key),
        "entries": [{"entry": canonical_fields(rows[i]), "inclusion_proof": b64(tree.inclusion_proof(i))}
                    for i in picks],
        "checkpoints": [{"note": sign(Checkpoint(ORIGIN, earlier, tree.root(earlier)), ORIGIN, key),
                         "consistency_proof": b64(tree.consistency_proof(earlier))}],
    }
    return bundle, key


def test_a_bundle_verifies_with_the_public_key_only() -> None:
    bundle, key = _bundle()
    report = verify_bundle(bundle, ORIGIN, key.public_key())
    assert report.ok and report.entries_checked == 3 and report.checkpoints_checked == 1 and report.tree_size == 9


@pytest.mark.parametrize("mangle", [
    lambda b: b["entries"][1]["entry"].update(actor_subject="someone-else"),
    lambda b: b["entries"][1]["entry"].update(leaf_index=5),
    lambda b: b["entries"][1]["inclusion_proof"].pop(),
    lambda b: b["entries"][1]["inclusion_proof"].append(b["entries"][1]["inclusion_proof"][0]),
    lambda b: b["entries"][1]["inclusion_proof"].__setitem__(0, base64.b64encode(b"\x01" * 32).decode()),
    lambda b: b["entries"][1]["entry"].pop("payload"),
    lambda b: b["checkpoints"][0]["consistency_proof"].pop(0),
    lambda b: b["checkpoints"][0].update(note=b["checkpoints"][0]["note"].replace("\n5\n", "\n6\n")),
])
def test_a_changed_bundle_is_rejected(mangle: Any) -> None:
    bundle, key = _bundle()
    mangle(bundle)
    report = verify_bundle(bundle, ORIGIN, key.public_key())
    assert not report.ok and len(report.problems) == 1, report.problems


def test_a_bundle_signed_by_another_key_or_log_is_rejected() -> None:
    bundle, key = _bundle()
    assert not verify_bundle(bundle, ORIGIN, Ed25519PrivateKey.generate().public_key()).ok
    other, _ = _bundle()
    forged = copy.deepcopy(bundle)
    forged["checkpoint"] = other["checkpoint"]
    assert not verify_bundle(forged, ORIGIN, key.public_key()).ok
    renamed = copy.deepcopy(bundle)
    renamed["origin"] = "elsewhere/log"
    assert not verify_bundle(renamed, ORIGIN, key.public_key()).ok
    assert leaf_hash(b"") != leaf_hash(b"\x00")
