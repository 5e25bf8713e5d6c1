"""The offline bundle verifier checks every entry's origin with the event keys (`verify-bundle --event-keys`),
as `p3ke audit verify` does: a bundle of a log whose tree and checkpoint cover a forged entry (signed by a key
no one pins, or changed after signing and its tree rebuilt) verifies as a tree, and fails on the entry's origin,
named; without the keys it says that origins were not checked."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from p3ke_audit.adapters.event_keys import keys_file_text, read_keys_file, ring_of
from p3ke_audit.domain.bundle import FORMAT, verify_bundle
from p3ke_audit.domain.entry import ORDER, canonical_fields, entry_leaf_hash
from p3ke_audit.service_layer.handlers import entry_row
from p3ke_platform.cli import main
from p3ke_platform.event_keys import PLATFORMS, KeyRing, TrustedKey, dev_keys, dev_signer
from p3ke_platform.settings import ConfigurationError
from p3ke_platform.tlog.merkle import MemoryTree
from p3ke_platform.tlog.note import Checkpoint, parse_verifier_key, sign, verifier_key
from p3ke_schemas import CloudEvent, EventSigner, canonicalize, public_jwk, sign_event, verify_event
from tests.integration.audit.helpers import access, signed

ORIGIN = "p3ke.test/audit"
ROGUE = EventSigner("rogue-1", Ed25519PrivateKey.generate())
RING = KeyRing(dev_keys())


def _row(event: CloudEvent) -> dict[str, Any]:
    row, _ = entry_row(event)
    return row


def _legacy(i: int) -> dict[str, Any]:
    """An entry from before events were signed (format 1; no leaf_format, as rows from before migration 0005)."""
    row = _row(signed(access(i)))
    data = json.loads(row["payload"])
    row.update(envelope=None, signature=None, key_id=None, leaf_format=None, payload=json.dumps(data, sort_keys=True,
                                                                              separators=(",", ":")))
    return row


def _bundle(rows: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    """A log of `rows` (its tree, a checkpoint over them all, signed by the log) exported whole; and the log's
    verifier key."""
    key = Ed25519PrivateKey.generate()
    rows = [{**{name: None for name in ORDER}, **r, "leaf_index": i} for i, r in enumerate(rows)]
    tree = MemoryTree(entry_leaf_hash(r) for r in rows)
    bundle = {"format": FORMAT, "origin": ORIGIN, "checkpoint": sign(Checkpoint(ORIGIN, len(rows), tree.root()),
                                                                     ORIGIN, key),
              "entries": [{"entry": canonical_fields(r),
                           "inclusion_proof": [base64.b64encode(h).decode() for h in tree.inclusion_proof(i)]}
                          for i, r in enumerate(rows)],
              "checkpoints": []}
    return bundle, verifier_key(ORIGIN, key.public_key())


def _genuine(n: int, first: int = 0) -> list[dict[str, Any]]:
    return [_row(signed(access(i))) for i in range(first, first + n)]


def _forged() -> dict[str, Any]:
    return _row(verify_event(*sign_event(access(900, service="targeting"), ROGUE, "targeting"),
                             lambda _: ROGUE.public_key()))


def _altered() -> dict[str, Any]:
    """A genuine entry whose outcome was changed, in its column and its payload, after signing."""
    row = _row(signed(access(901, outcome="allowed")))
    return {**row, "outcome": "denied",
            "payload": canonicalize({**json.loads(row["payload"]), "outcome": "denied"}).decode()}


def _check(bundle: dict[str, Any], vkey: str, keys: KeyRing | None) -> Any:
    name, public = parse_verifier_key(vkey)
    return verify_bundle(bundle, name, public, keys=keys)


def test_a_bundle_of_signed_entries_verifies_its_origins_with_the_exported_keys(tmp_path: Path) -> None:
    bundle, vkey = _bundle([_legacy(500), _legacy(501), *_genuine(5)])
    path = tmp_path / "event-keys.json"
    path.write_text(keys_file_text(RING))
    keys = ring_of([path])
    assert {k.owner for k in keys.keys.values()} >= set(PLATFORMS)  # the platforms' keys are accepted too
    report = _check(bundle, vkey, keys)
    assert report.ok, report.problems
    assert (report.origin_checked, report.entries_checked, report.signed_entries) == (True, 7, 5)
    assert report.unsigned_leaves == [0, 1] and report.unsigned_ranges == [[0, 1]]
    assert report.warnings == ["2 entries without origin evidence (format 1, recorded before events were signed): "
                               "leaves 0..1"]
    unchecked = _check(bundle, vkey, None)
    assert unchecked.ok and not unchecked.origin_checked and unchecked.signed_entries == 0


@pytest.mark.parametrize(("forged", "reason"), [
    (_forged, "key 'rogue-1' is not a key this deployment pins"),
    (_altered, "the signature does not verify"),
    (lambda: {**_row(signed(access(902))), "signature": None}, "origin evidence is incomplete"),
    (lambda: _legacy(903), "no origin evidence (format 1) but was recorded after signed entries began at leaf 0"),
])
def test_an_entry_no_pinned_key_signed_is_named(forged: Any, reason: str) -> None:
    rows = [*_genuine(3), forged(), *_genuine(2, first=10)]
    bundle, vkey = _bundle(rows)
    assert _check(bundle, vkey, None).ok  # the tree and the checkpoint cover it: as a tree, intact
    report = _check(bundle, vkey, RING)
    assert not report.ok and report.signed_entries == 5 and report.entries_checked == 6
    [failure] = report.origin_failures
    assert (failure.leaf_index, failure.event_id) == (3, rows[3]["event_id"]) and reason in failure.reason
    assert report.problems == [f"entry at leaf 3 (event {rows[3]['event_id']}) has no valid origin signature: "
                               f"{failure.reason}"]


def test_a_key_outside_its_validity_fails(tmp_path: Path) -> None:
    bundle, vkey = _bundle(_genuine(2))
    expired = [TrustedKey(k.kid, k.owner, k.public_key, not_after=datetime(2020, 1, 1, tzinfo=UTC)) for k in dev_keys()]
    path = tmp_path / "keys.json"
    path.write_text(keys_file_text(KeyRing(expired)))
    assert '"not_after": "2020-01-01T00:00:00+00:00"' in path.read_text()
    report = _check(bundle, vkey, ring_of([path]))
    assert len(report.origin_failures) == 2 and "was not valid when the entry was recorded" in report.problems[0]


def test_the_keys_file(tmp_path: Path) -> None:
    signer = dev_signer("party-2 platform")
    jwk = public_jwk(signer.public_key())
    yml = tmp_path / "keys.yaml"
    yml.write_text(f"keys:\n  - kid: {signer.kid}\n    owner: party-2 platform\n    jwk: {json.dumps(jwk)}\n"
                   "    not_before: 2026-01-01\n")
    [key] = read_keys_file(yml)
    assert key.owner == "party-2 platform" and key.not_before is not None and key.not_after is None
    assert len(ring_of([yml, yml]).keys) == 1  # the same key in two files counts once
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"keys": [{"kid": signer.kid, "owner": "ingest",
                                           "jwk": public_jwk(dev_signer("ingest").public_key())}]}))
    with pytest.raises(ConfigurationError, match="configured twice"):
        ring_of([yml, other])
    for doc, problem in [({"keys": [{"kid": "a", "owner": "someone", "jwk": jwk}]}, "is not one of ingest"),
                         ({"keys": [{"kid": "a", "owner": "ingest", "jwk": {**jwk, "d": "x"}}]}, "no private"),
                         ({"keys": [{"kid": "a", "owner": "ingest"}]}, "needs kid, owner and jwk"),
                         ({"nokeys": []}, "a list `keys`")]:
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps(doc))
        with pytest.raises(ConfigurationError, match=problem):
            read_keys_file(bad)


def test_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keys = tmp_path / "event-keys.json"
    keys.write_text(keys_file_text(RING))
    good, vkey = _bundle([_legacy(600), *_genuine(3)])
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(good))

    assert main(["audit", "verify-bundle", str(path), "--key", vkey, "--event-keys", str(keys)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("ok: 4 entries") and out[1].startswith("asal entri: 3 tanda tangan sah, 0 gagal, 1 tanpa")
    assert out[2].startswith("origin: 3 signatures verified, 0 failed, 1 without origin evidence")
    assert "warning: 1 entries without origin evidence" in out[3]
    assert main(["audit", "verify-bundle", str(path), "--key", vkey]) == 0
    assert "TIDAK diperiksa" in capsys.readouterr().out

    bad, vkey = _bundle([*_genuine(2), _forged()])
    path.write_text(json.dumps(bad))
    assert main(["audit", "verify-bundle", str(path), "--key", vkey, "--event-keys", str(keys)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("FAILED: 1 problem(s)")
    assert f"entry at leaf 2 (event {bad['entries'][2]['entry']['event_id']}) has no valid origin signature" \
        in captured.err
    assert main(["audit", "verify-bundle", str(path), "--key", vkey, "--event-keys", str(keys), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["origin_checked"] is True and report["signed_entries"] == 2
    assert [(f["leaf_index"], f["event_id"]) for f in report["origin_failures"]] == \
        [(2, bad["entries"][2]["entry"]["event_id"])]
    assert "rogue-1" in report["origin_failures"][0]["reason"]

    assert main(["audit", "verify-bundle", str(path), "--key", vkey, "--event-keys", str(tmp_path / "no.json"),
                 "--json"]) == 2
    assert "--event-keys" in json.loads(capsys.readouterr().out)["error"]["message"]
