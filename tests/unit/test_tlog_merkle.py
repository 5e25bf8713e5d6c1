"""The Merkle tree against RFC 6962's worked example, the Certificate Transparency test vectors, the
RFC's recursive definitions, and mutated proofs (which must all be rejected)."""

from __future__ import annotations

import hashlib
import random

import pytest

from p3ke_platform.tlog.merkle import (
    EMPTY_ROOT,
    Frontier,
    MemoryTree,
    ProofError,
    leaf_hash,
    node_hash,
    perfect_subtrees,
    split_point,
    stored_count,
    stored_index,
    verify_consistency,
    verify_inclusion,
)

# The leaves and roots of the Certificate Transparency reference tests (merkle_tree_test.cc; the
# same literals in transparency-dev/merkle), independent of the code under test.
CT_LEAVES = [bytes.fromhex(h) for h in
             ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]]
CT_ROOTS = [bytes.fromhex(h) for h in [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]]
H = bytes.fromhex
# (leaf index from 0, tree size, audit path)
CT_INCLUSION = [
    (0, 1, []),
    (0, 8, [H("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            H("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]),
    (5, 8, [H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            H("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
    (2, 3, [H("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (1, 5, [H("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")]),
]
CT_CONSISTENCY = [
    (1, 1, []),
    (1, 8, [H("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            H("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]),
    (6, 8, [H("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            H("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
    (2, 5, [H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")]),
    (6, 7, [H("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            H("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
]


# --- the RFC's recursive definitions, written out literally as the reference -----------------------

def mth(d: list[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return leaf_hash(d[0])
    k = split_point(len(d))
    return node_hash(mth(d[:k]), mth(d[k:]))


def path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = split_point(len(d))
    return [*path(m, d[:k]), mth(d[k:])] if m < k else [*path(m - k, d[k:]), mth(d[:k])]


def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [mth(d)]
    k = split_point(len(d))
    if m <= k:
        return [*subproof(m, d[:k], b), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


def tree_of(leaves: list[bytes]) -> MemoryTree:
    return MemoryTree(leaf_hash(x) for x in leaves)


# --- the vectors ------------------------------------------------------------------------------------

def test_roots_match_the_reference_vectors() -> None:
    tree = tree_of(CT_LEAVES)
    assert tree.root(0) == EMPTY_ROOT == bytes.fromhex(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    for n in range(1, 9):
        assert tree.root(n) == CT_ROOTS[n - 1] == mth(CT_LEAVES[:n])


def test_rfc6962_worked_example_of_seven_leaves() -> None:
    """RFC 6962 §2.1.3: the audit paths of d0, d3, d4, d6 and the three consistency proofs."""
    d = CT_LEAVES[:7]
    a, b, c, dd, e, f = (leaf_hash(x) for x in d[:6])
    j = leaf_hash(d[6])  # d6's leaf is node j itself
    g, h, i = node_hash(a, b), node_hash(c, dd), node_hash(e, f)
    k, l_ = node_hash(g, h), node_hash(i, j)
    root = node_hash(k, l_)
    tree = tree_of(d)
    assert tree.root() == root == CT_ROOTS[6]
    assert tree.inclusion_proof(0) == [b, h, l_]
    assert tree.inclusion_proof(3) == [c, g, l_]
    assert tree.inclusion_proof(4) == [f, j, k]
    assert tree.inclusion_proof(6) == [i, k]
    for index, leaf in [(0, a), (3, dd), (4, e), (6, j)]:
        verify_inclusion(leaf, index, 7, tree.inclusion_proof(index), root)
    hash0, hash1, hash2 = node_hash(g, c), k, node_hash(k, i)
    assert (tree.root(3), tree.root(4), tree.root(6)) == (hash0, hash1, hash2)
    assert tree.consistency_proof(3) == [c, dd, g, l_]
    assert tree.consistency_proof(4) == [l_]
    assert tree.consistency_proof(6) == [i, j, k]
    for first, old in [(3, hash0), (4, hash1), (6, hash2)]:
        verify_consistency(first, 7, old, root, tree.consistency_proof(first))


@pytest.mark.parametrize(("index", "size", "proof"), CT_INCLUSION)
def test_inclusion_vectors(index: int, size: int, proof: list[bytes]) -> None:
    tree = tree_of(CT_LEAVES)
    assert tree.inclusion_proof(index, size) == proof
    verify_inclusion(leaf_hash(CT_LEAVES[index]), index, size, proof, CT_ROOTS[size - 1])


@pytest.mark.parametrize(("first", "second", "proof"), CT_CONSISTENCY)
def test_consistency_vectors(first: int, second: int, proof: list[bytes]) -> None:
    tree = tree_of(CT_LEAVES)
    assert tree.consistency_proof(first, second) == proof
    verify_consistency(first, second, CT_ROOTS[first - 1], CT_ROOTS[second - 1], proof)


def test_every_proof_up_to_40_leaves_matches_the_rfc_definitions() -> None:
    leaves = [i.to_bytes(2, "big") for i in range(40)]
    tree = tree_of(leaves)
    for n in range(1, 41):
        root = tree.root(n)
        assert root == mth(leaves[:n])
        for m in range(n):
            proof = tree.inclusion_proof(m, n)
            assert proof == path(m, leaves[:n])
            verify_inclusion(leaf_hash(leaves[m]), m, n, proof, root)
        for m in range(1, n + 1):
            proof = tree.consistency_proof(m, n)
            assert proof == (subproof(m, leaves[:n], True) if m < n else [])
            verify_consistency(m, n, tree.root(m), root, proof)


def test_frontier_appends_incrementally_and_reports_completed_subtrees() -> None:
    frontier = Frontier()
    completed = []
    for n, leaf in enumerate(CT_LEAVES, start=1):
        completed += [(lv, i) for lv, i, _ in frontier.append(leaf_hash(leaf))]
        assert frontier.root() == CT_ROOTS[n - 1]
        assert len(frontier.hashes) == len(perfect_subtrees(0, n)) == bin(n).count("1")
    assert completed == [(1, 0), (1, 1), (2, 0), (1, 2), (1, 3), (2, 1), (3, 0)]  # post-order, n-1 of them


# --- mutations: every one must be rejected ------------------------------------------------------------

SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def _flip(proof: list[bytes], i: int, bit: int = 3) -> list[bytes]:
    out = list(proof)
    out[i] = bytes([out[i][0] ^ (1 << bit)]) + out[i][1:]
    return out


def inclusion_mutations(index: int, size: int, proof: list[bytes], root: bytes, leaf: bytes):
    yield "index - 1", (leaf, index - 1, size, proof, root)
    yield "index + 1", (leaf, index + 1, size, proof, root)
    yield "index ^ 2", (leaf, index ^ 2, size, proof, root)
    yield "size * 2", (leaf, index, size * 2, proof, root)
    yield "size // 2", (leaf, index, size // 2, proof, root)
    yield "wrong leaf", (hashlib.sha256(b"WrongLeaf").digest(), index, size, proof, root)
    yield "flipped leaf bit", (_flip([leaf], 0)[0], index, size, proof, root)
    yield "empty root", (leaf, index, size, proof, EMPTY_ROOT)
    yield "random root", (leaf, index, size, proof, SOME_HASH)
    yield "trailing empty", (leaf, index, size, [*proof, b""], root)
    yield "trailing root", (leaf, index, size, [*proof, root], root)
    yield "preceding empty", (leaf, index, size, [b"", *proof], root)
    yield "preceding root", (leaf, index, size, [root, *proof], root)
    for i in range(len(proof)):
        yield f"flipped bit in proof[{i}]", (leaf, index, size, _flip(proof, i), root)
        yield f"missing proof[{i}]", (leaf, index, size, proof[:i] + proof[i + 1:], root)
        yield f"truncated hash proof[{i}]", (leaf, index, size, [*proof[:i], proof[i][:31], *proof[i + 1:]], root)
    if len(proof) > 1:
        yield "inserted node", (leaf, index, size, [proof[0], SOME_HASH, *proof[1:]], root)
        yield "swapped nodes", (leaf, index, size, [proof[1], proof[0], *proof[2:]], root)


def consistency_mutations(first: int, second: int, r1: bytes, r2: bytes, proof: list[bytes]):
    yield "first - 1", (first - 1, second, r1, r2, proof)
    yield "first + 1", (first + 1, second, r1, r2, proof)
    yield "first ^ 2", (first ^ 2, second, r1, r2, proof)
    yield "second * 2", (first, second * 2, r1, r2, proof)
    yield "second // 2", (first, second // 2, r1, r2, proof)
    yield "wrong first root", (first, second, SOME_HASH, r2, proof)
    yield "wrong second root", (first, second, r1, SOME_HASH, proof)
    yield "swapped roots", (first, second, r2, r1, proof)
    yield "empty proof", (first, second, r1, r2, [])
    yield "trailing empty", (first, second, r1, r2, [*proof, b""])
    yield "trailing root1", (first, second, r1, r2, [*proof, r1])
    yield "trailing root2", (first, second, r1, r2, [*proof, r2])
    yield "preceding empty", (first, second, r1, r2, [b"", *proof])
    yield "preceding root1", (first, second, r1, r2, [r1, *proof])
    yield "preceding root2", (first, second, r1, r2, [r2, *proof])
    yield "preceding proof[0]", (first, second, r1, r2, [proof[0], *proof])
    for i in range(len(proof)):
        yield f"flipped bit in proof[{i}]", (first, second, r1, r2, _flip(proof, i, 4))
        yield f"missing proof[{i}]", (first, second, r1, r2, proof[:i] + proof[i + 1:])
    if len(proof) > 1:
        yield "inserted node", (first, second, r1, r2, [proof[0], SOME_HASH, *proof[1:]])


def _inclusion_cases() -> list[tuple[int, int, list[bytes], bytes, bytes]]:
    tree = tree_of(CT_LEAVES)
    cases = [(m, n, p, CT_ROOTS[n - 1], leaf_hash(CT_LEAVES[m])) for m, n, p in CT_INCLUSION if p]
    cases += [(m, 7, tree.inclusion_proof(m, 7), CT_ROOTS[6], leaf_hash(CT_LEAVES[m])) for m in (0, 3, 4, 6)]
    return cases


@pytest.mark.parametrize(("index", "size", "proof", "root", "leaf"), _inclusion_cases())
def test_mutated_inclusion_proofs_are_rejected(index: int, size: int, proof: list[bytes], root: bytes,
                                               leaf: bytes) -> None:
    verify_inclusion(leaf, index, size, proof, root)
    for what, args in inclusion_mutations(index, size, proof, root, leaf):
        with pytest.raises(ProofError):
            verify_inclusion(*args)
            pytest.fail(f"accepted: {what}")


def _consistency_cases() -> list[tuple[int, int, bytes, bytes, list[bytes]]]:
    tree = tree_of(CT_LEAVES)
    cases = [(m, n, CT_ROOTS[m - 1], CT_ROOTS[n - 1], p) for m, n, p in CT_CONSISTENCY if p]
    cases += [(m, 7, CT_ROOTS[m - 1], CT_ROOTS[6], tree.consistency_proof(m, 7)) for m in (3, 4, 6)]
    return cases


@pytest.mark.parametrize(("first", "second", "r1", "r2", "proof"), _consistency_cases())
def test_mutated_consistency_proofs_are_rejected(first: int, second: int, r1: bytes, r2: bytes,
                                                 proof: list[bytes]) -> None:
    verify_consistency(first, second, r1, r2, proof)
    for what, args in consistency_mutations(first, second, r1, r2, proof):
        with pytest.raises(ProofError):
            verify_consistency(*args)
            pytest.fail(f"accepted: {what}")


def test_random_bit_flips_anywhere_are_rejected() -> None:
    rng = random.Random(6962)
    tree = MemoryTree(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(1000))
    for _ in range(200):
        n = rng.randrange(2, 1001)
        m = rng.randrange(n)
        proof = tree.inclusion_proof(m, n)
        i, bit = rng.randrange(len(proof)), rng.randrange(256)
        bad = list(proof)
        bad[i] = (int.from_bytes(bad[i], "big") ^ (1 << bit)).to_bytes(32, "big")
        with pytest.raises(ProofError):
            verify_inclusion(tree.nodes[(0, m)], m, n, bad, tree.root(n))
        first = rng.randrange(1, n)
        cproof = tree.consistency_proof(first, n)
        i, bit = rng.randrange(len(cproof)), rng.randrange(256)
        bad = list(cproof)
        bad[i] = (int.from_bytes(bad[i], "big") ^ (1 << bit)).to_bytes(32, "big")
        with pytest.raises(ProofError):
            verify_consistency(first, n, tree.root(first), tree.root(n), bad)


def test_edge_cases() -> None:
    leaf = leaf_hash(b"data")
    verify_inclusion(leaf, 0, 1, [], leaf)
    for args in [(leaf, 0, 0, [], leaf), (leaf, 1, 1, [], leaf), (leaf, -1, 1, [], leaf), (b"", 0, 1, [], leaf)]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(5, 5, SOME_HASH, SOME_HASH, [])
    for args in [(1, 1, SOME_HASH, EMPTY_ROOT, []), (0, 1, EMPTY_ROOT, SOME_HASH, []),
                 (2, 1, SOME_HASH, SOME_HASH, []), (1, 2, SOME_HASH, EMPTY_ROOT, []),
                 (1, 1, SOME_HASH, SOME_HASH, [EMPTY_ROOT])]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    with pytest.raises(ProofError):
        tree_of(CT_LEAVES).inclusion_proof(8, 8)


def test_stored_index_numbers_subtrees_in_completion_order() -> None:
    frontier, order = Frontier(), []
    for n in range(1, 300):
        order.append((0, n - 1))
        order += [(lv, i) for lv, i, _ in frontier.append(leaf_hash(n.to_bytes(2, "big")))]
        assert stored_count(n) == len(order)
    assert [stored_index(lv, i) for lv, i in order] == list(range(len(order)))
