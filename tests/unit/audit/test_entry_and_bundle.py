"""The canonical form of an entry, and the offline bundle verifier (no database, public key only)."""

from __future__ import annotations

import base64
import copy
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from p3ke_audit.adapters.orm import entries
from p3ke_audit.domain.bundle import FORMAT, verify_bundle
from p3ke_audit.domain.entry import (
    FIELDS,
    FIELDS_V1,
    FORMAT_COLUMN,
    ORDER,
    canonical_bytes,
    canonical_fields,
    entry_leaf_hash,
)
from p3ke_platform.tlog.merkle import MemoryTree, leaf_hash
from p3ke_platform.tlog.note import Checkpoint, sign

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


EVIDENCE = {"envelope": '{"id":"ev-3","source":"x","specversion":"1.0","type":"p3ke.data-access.v1"}',
            "signature": "eyJhbGciOiJFZERTQSJ9..c2ln", "key_id": "dev-targeting"}


def test_the_canonical_form_covers_every_stored_column_but_the_key_and_the_hash() -> None:
    """Every column but seq and leaf_hash is a member of the object; leaf_format is its "v"."""
    assert set(FIELDS) == {c.name for c in entries.columns} - {"seq", "leaf_hash", FORMAT_COLUMN}
    assert set(FIELDS_V1) == set(FIELDS) - {"envelope", "signature", "key_id"}
    assert set(ORDER) == {c.name for c in entries.columns} - {"seq", "leaf_hash"}


def test_the_readme_lists_the_members_of_formats_2_and_3_in_order() -> None:
    readme = (Path(__file__).resolve().parents[3] / "services" / "audit" / "README.md").read_text()
    listed = re.search(r"exactly these (\d+) members, in this order .*?\): (.*?);\n", readme, re.S)
    assert listed is not None
    names = re.findall(r"`([a-z_]+)`", listed.group(2))
    assert names == [*ORDER[:-1], "v"] and int(listed.group(1)) == len(names)


def test_format_2_commits_to_the_origin_evidence_and_format_1_stays_as_it_was() -> None:
    old, new = row(3), row(3, **EVIDENCE)
    assert canonical_fields(old)["v"] == 1 and canonical_fields(old).keys() == {"v", *FIELDS_V1}
    assert canonical_fields(new)["v"] == 2 and canonical_fields(new).keys() == {"v", *FIELDS}
    # format 1 is byte for byte what it was before the evidence columns existed
    v1 = {"v": 1, **{name: canonical_fields(old)[name] for name in FIELDS_V1}}
    assert canonical_bytes(canonical_fields(old)) == json.dumps(v1, sort_keys=True, separators=(",", ":"),
                                                                ensure_ascii=False).encode()
    data = canonical_bytes(canonical_fields(new))
    assert b'"key_id":"dev-targeting"' in data and data.endswith(b'"v":2}')
    assert b'"envelope":"{\\"id\\":\\"ev-3\\"' in data  # the envelope as its stored text, escaped
    for changed in ({"envelope": EVIDENCE["envelope"].replace("ev-3", "ev-4")}, {"signature": "x..y"},
                    {"key_id": "dev-ingest"}, {"signature": None}):
        assert entry_leaf_hash(row(3, **{**EVIDENCE, **changed})) != entry_leaf_hash(new)
    assert entry_leaf_hash(new) != entry_leaf_hash(old)
    with pytest.raises(ValueError, match="format 2 carries"):  # a format 2 object without its evidence
        canonical_bytes({**canonical_fields(new), "envelope": None, "signature": None, "key_id": None})
    with pytest.raises(ValueError, match="exactly its canonical fields"):
        canonical_bytes({**canonical_fields(new), "v": 1})
    for version in (4, True, "2", None):
        with pytest.raises(ValueError, match="unknown entry format"):
            canonical_bytes({**canonical_fields(new), "v": version})


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
    """A log whose first 4 entries predate signing (format 1), the rest of format 2."""
    key = Ed25519PrivateKey.generate()
    rows = [row(i) if i < 4 else row(i, **EVIDENCE) for i in range(n)]
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
    assert [item["entry"]["v"] for item in bundle["entries"]] == [1, 2, 2]
    report = verify_bundle(bundle, ORIGIN, key.public_key())
    assert report.ok and report.entries_checked == 3 and report.checkpoints_checked == 1 and report.tree_size == 9


@pytest.mark.parametrize("mangle", [
    lambda b: b["entries"][1]["entry"].update(actor_subject="someone-else"),
    lambda b: b["entries"][1]["entry"].update(leaf_index=5),
    lambda b: b["entries"][1]["inclusion_proof"].pop(),
    lambda b: b["entries"][1]["inclusion_proof"].append(b["entries"][1]["inclusion_proof"][0]),
    lambda b: b["entries"][1]["inclusion_proof"].__setitem__(0, base64.b64encode(b"\x01" * 32).decode()),
    lambda b: b["entries"][1]["entry"].pop("payload"),
    lambda b: b["entries"][1]["entry"].update(signature="eyJhbGciOiJFZERTQSJ9..b3RoZXI"),
    lambda b: b["entries"][1]["entry"].update(v=1),
    lambda b: b["entries"][0]["entry"].update(v=2, envelope="{}", signature="a..b", key_id="k"),
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
