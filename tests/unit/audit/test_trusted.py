"""Verification against what others saw (domain/trusted.py), and the offline bundle's use of it: trusted
checkpoints must carry the log's signature (and a witness quorum); a log smaller than one, or whose root at its
size differs, fails naming both sizes; a bundle that holds no proof for one says it cannot check it."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from p3ke_audit.domain.bundle import FORMAT, verify_bundle
from p3ke_audit.domain.trusted import NotTrusted, compare, load_trusted
from p3ke_platform.tlog.cosignature import Witness, cosign
from p3ke_platform.tlog.merkle import MemoryTree, leaf_hash
from p3ke_platform.tlog.note import Checkpoint, add_signatures, sign, signature_lines

ORIGIN = "p3ke.test/audit"
LOG = Ed25519PrivateKey.generate()
W1, W2 = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
WITNESSES = [Witness("party-2.witness", W1.public_key()), Witness("inspectorate.witness", W2.public_key())]


def tree(n: int, *, edited: int | None = None) -> MemoryTree:
    return MemoryTree(leaf_hash(f"entry {i}{' (edited)' if i == edited else ''}".encode()) for i in range(n))


def note(t: MemoryTree, size: int | None = None, *, key: Ed25519PrivateKey = LOG,
         cosigners: tuple[int, ...] = ()) -> str:
    size = t.size if size is None else size
    text = sign(Checkpoint(ORIGIN, size, t.root(size)), ORIGIN, key)
    body, _ = signature_lines(text)
    lines = [cosign(body, WITNESSES[i].name, (W1, W2)[i]) for i in cosigners]
    return add_signatures(text, lines) if lines else text


def test_trusted_checkpoints_need_the_logs_signature_and_with_witness_keys_a_quorum() -> None:
    t = tree(8)
    [cp] = load_trusted([note(t)], ORIGIN, LOG.public_key())
    assert (cp.size, cp.root) == (8, t.root())
    # duplicates collapse; the result is ordered by size
    assert [c.size for c in load_trusted([note(t), note(t, 5), note(t)], ORIGIN, LOG.public_key())] == [5, 8]

    with pytest.raises(NotTrusted, match=r"trusted checkpoint #2 is not trusted: the log's signature does not verify"):
        load_trusted([note(t), note(t, key=Ed25519PrivateKey.generate())], ORIGIN, LOG.public_key())
    forged = note(t).replace("\n8\n", "\n9\n")
    with pytest.raises(NotTrusted, match=r"tidak sah: tanda tangan log .* / trusted checkpoint #1 is not trusted"):
        load_trusted([forged], ORIGIN, LOG.public_key())

    both = note(t, cosigners=(0, 1))
    assert load_trusted([both], ORIGIN, LOG.public_key(), WITNESSES, 2)
    one = note(t, cosigners=(1,))
    assert load_trusted([one], ORIGIN, LOG.public_key(), WITNESSES, 1)
    with pytest.raises(NotTrusted, match=r"#1 \(size 8\) is not witnessed: the checkpoint is cosigned by 1 of the 2 "
                       r"trusted witnesses \(inspectorate.witness\); 2 needed"):
        load_trusted([one], ORIGIN, LOG.public_key(), WITNESSES, 2)
    with pytest.raises(NotTrusted, match="tidak disaksikan"):
        load_trusted([note(t)], ORIGIN, LOG.public_key(), WITNESSES[:1], 1)
    # a cosignature line of a given witness that does not verify (copied from another checkpoint)
    other_body, _ = signature_lines(note(tree(9)))
    replayed = add_signatures(note(t), [cosign(other_body, WITNESSES[0].name, W1)])
    with pytest.raises(NotTrusted, match=r"cosignature of party-2\.witness does not verify"):
        load_trusted([replayed], ORIGIN, LOG.public_key(), WITNESSES[:1], 1)
    with pytest.raises(NotTrusted, match="the quorum 3 must be between 1 and 2"):
        load_trusted([both], ORIGIN, LOG.public_key(), WITNESSES, 3)


def test_compare_names_the_sizes_and_the_reason() -> None:
    honest, rewritten = tree(12), tree(12, edited=3)
    trusted = Checkpoint(ORIGIN, 8, honest.root(8))
    assert compare(trusted, 12, honest.root(8)) is None
    assert compare(trusted, 8, honest.root(8)) is None
    assert compare(Checkpoint(ORIGIN, 0, honest.root(0)), 3, None) is None
    problem = compare(trusted, 12, rewritten.root(8), witnessed=True)
    assert problem is not None
    assert problem.startswith("log berukuran 12 tidak konsisten dengan checkpoint tersaksi 8")
    assert "the log of size 12 is not consistent with the witnessed checkpoint 8 (the root of its first 8 entries " \
           "differs): its history was rewritten" in problem
    shrank = compare(trusted, 5, None)
    assert shrank is not None and shrank.startswith("log menyusut dari 8 menjadi 5 entri")
    assert "the log shrank from 8 to 5 entries (the trusted checkpoint 8 covers 8)" in shrank
    with pytest.raises(ValueError, match="pass it"):
        compare(trusted, 12, None)


def _bundle(t: MemoryTree, *, earlier: tuple[int, ...] = (), proofs_from: tuple[int, ...] = (),
            cosigners: tuple[int, ...] = ()) -> dict[str, Any]:
    b64 = lambda hs: [base64.b64encode(h).decode() for h in hs]  # noqa: E731
    bundle: dict[str, Any] = {
        "format": FORMAT, "origin": ORIGIN, "checkpoint": note(t, cosigners=cosigners), "entries": [],
        "checkpoints": [{"note": note(t, size), "consistency_proof": b64(t.consistency_proof(size))}
                        for size in earlier]}
    if proofs_from:
        bundle["consistency"] = [{"tree_size": size, "consistency_proof": b64(t.consistency_proof(size))}
                                 for size in proofs_from]
    return bundle


def test_a_bundle_against_trusted_checkpoints() -> None:
    honest = tree(12)
    saved = load_trusted([note(honest, 8), note(honest, 5), note(honest, 12)], ORIGIN, LOG.public_key())

    report = verify_bundle(_bundle(honest, earlier=(5,), proofs_from=(8,)), ORIGIN, LOG.public_key(), trusted=saved)
    assert report.ok and report.trusted_checked == [5, 8, 12] and not report.trusted_unchecked

    # no proof for 8 in the bundle: a warning saying how to get one, not a failure
    report = verify_bundle(_bundle(honest, earlier=(5,)), ORIGIN, LOG.public_key(), trusted=saved)
    assert report.ok and report.trusted_checked == [5, 12]
    [warning] = report.trusted_unchecked
    assert "the trusted checkpoint 8 cannot be checked from this bundle" in warning
    assert "consistency_from: [8]" in warning and warning in report.warnings

    # the history rewritten from leaf 3 on (the attacker re-signs a consistent tree with the log's own key)
    rewritten = tree(14, edited=3)
    for bundle in (_bundle(rewritten, earlier=(5,), proofs_from=(8,)), _bundle(rewritten, earlier=(5, 8))):
        report = verify_bundle(bundle, ORIGIN, LOG.public_key(), trusted=saved)
        assert not report.ok and len(report.trusted_failures) == 2, report.problems  # 5 and 8 both differ
        assert "checkpoint 12 cannot be checked from this bundle" in report.trusted_unchecked[0]
        assert "the log of size 14 is not consistent with the trusted checkpoint 8" in report.trusted_failures[1]
        assert report.trusted_failures[1] in report.problems
    # ... and truncated: smaller than a checkpoint seen before
    report = verify_bundle(_bundle(tree(10)), ORIGIN, LOG.public_key(), trusted=saved)
    assert not report.ok and report.trusted_failures[-1].endswith(
        "the log shrank from 12 to 10 entries (the trusted checkpoint 12 covers 12)")
    # a consistency proof that does not hold is no better
    bundle = _bundle(honest, proofs_from=(8,))
    bundle["consistency"][0]["consistency_proof"][0] = base64.b64encode(b"\1" * 32).decode()
    report = verify_bundle(bundle, ORIGIN, LOG.public_key(), trusted=saved)
    assert not report.ok and "the bundle's consistency proof fails" in report.trusted_failures[0]


def test_with_witness_keys_the_bundles_checkpoint_must_be_witnessed() -> None:
    honest = tree(12)
    cosigned = _bundle(honest, cosigners=(0,))
    report = verify_bundle(cosigned, ORIGIN, LOG.public_key(), witnesses=WITNESSES[:1], quorum=1)
    assert report.ok and report.witnessed_by == ["party-2.witness"]
    report = verify_bundle(cosigned, ORIGIN, LOG.public_key(), witnesses=WITNESSES, quorum=2)
    assert not report.ok and report.witnessed_by == []
    assert report.problems == ["checkpoint 12 bundel belum disaksikan (kuorum 2 tidak terpenuhi) / the bundle's "
                               "checkpoint 12 is not witnessed: the checkpoint is cosigned by 1 of the 2 trusted "
                               "witnesses (party-2.witness); 2 needed"]
    stripped = copy.deepcopy(cosigned)
    stripped["checkpoint"] = note(honest)
    assert not verify_bundle(stripped, ORIGIN, LOG.public_key(), witnesses=WITNESSES[:1], quorum=1).ok
    # without witness keys the cosignature lines are other keys' lines: the note still verifies
    assert verify_bundle(cosigned, ORIGIN, LOG.public_key()).ok
