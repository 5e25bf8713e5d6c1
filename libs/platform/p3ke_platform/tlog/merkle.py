"""The RFC 6962 / RFC 9162 Merkle tree over the log's entries: hashing, proofs, verifiers.

Pure functions, no I/O. Leaves are numbered from 0. A *perfect subtree* `(level, index)` covers the
leaves `[index * 2**level, (index + 1) * 2**level)`; level 0 is a leaf. The storage keeps every
perfect subtree's hash once it is complete, so a proof or a root is assembled from O(log n) stored
hashes instead of recomputing the tree:

* `perfect_subtrees(lo, hi)` splits any node of the RFC tree (and the whole tree `[0, n)`) into the
  perfect subtrees it is made of, left to right;
* `inclusion_ranges` / `consistency_ranges` name the RFC tree nodes a proof consists of
  (RFC 6962 §2.1.1 PATH, §2.1.2 PROOF/SUBPROOF), bottom-up, in the RFC's order;
* `Frontier` is the right edge of the tree (the perfect subtrees of `[0, n)`): appending a leaf
  returns the subtrees it completes, which is what the storage writes (amortised one per leaf).

The verifiers follow RFC 9162 §2.1.3.2 and §2.1.4.2 step by step.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}) = SHA-256()

Subtree = tuple[int, int]  # (level, index)
Range = tuple[int, int]  # [lo, hi) in leaf numbers
Lookup = Callable[[Iterable[Subtree]], Mapping[Subtree, bytes]]  # fetch stored perfect subtrees


class ProofError(ValueError):
    """A proof does not verify, or cannot be made for the sizes asked (message says why)."""


def stored_index(level: int, index: int) -> int:
    """The position of subtree (level, index) in completion order, leaves included (0, 1, 2, ...).

    Appending leaf n-1 completes the leaf and then the subtrees it closes, bottom-up, so the nodes
    completed while the tree grows from a to b leaves are exactly positions stored_count(a) ..
    stored_count(b) - 1: storage can be keyed, and scanned, by this one number.
    """
    n = (index + 1) << level  # the tree size at which the subtree completes
    return stored_count(n - 1) + level


def stored_count(size: int) -> int:
    """How many subtrees (leaves included) a tree of `size` leaves has completed: 2n - popcount(n)."""
    return 2 * size - size.bit_count()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2): the RFC's `k`."""
    if n < 2:
        raise ValueError("a split needs at least two leaves")
    return 1 << ((n - 1).bit_length() - 1)


def perfect_subtrees(lo: int, hi: int) -> list[Subtree]:
    """The perfect subtrees making up `[lo, hi)`, left to right (largest first).

    `lo` must be aligned to the largest of them, which holds for every node of the RFC tree and for
    `[0, n)`; the hash of the range is then the right fold of theirs (see `fold`).
    """
    out: list[Subtree] = []
    while lo < hi:
        level = (hi - lo).bit_length() - 1
        if lo % (1 << level):
            raise ValueError(f"[{lo}, {hi}) is not a node of the tree")
        out.append((level, lo >> level))
        lo += 1 << level
    return out


def fold(hashes: Sequence[bytes]) -> bytes:
    """MTH of consecutive perfect subtrees given left to right: H(h0, H(h1, H(h2, ...)))."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def range_hash(lo: int, hi: int, stored: Mapping[Subtree, bytes]) -> bytes:
    return fold([stored[s] for s in perfect_subtrees(lo, hi)])


# ---------------------------------------------------------------------------------------------------
# Which nodes a proof consists of
# ---------------------------------------------------------------------------------------------------

def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The nodes of PATH(index, D[size]) (RFC 6962 §2.1.1), leaf's sibling first."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size} leaves")
    out: list[Range] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = split_point(hi - lo)
        if index < lo + k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo += k
    return out[::-1]


def consistency_ranges(first: int, second: int) -> list[Range]:
    """The nodes of PROOF(first, D[second]) (RFC 6962 §2.1.2), deepest first."""
    if not 0 < first <= second:
        raise ProofError(f"no consistency proof from {first} to {second} leaves")
    out: list[Range] = []
    lo, hi, m, whole = 0, second, first, True
    while m != hi - lo:
        k = split_point(hi - lo)
        if m <= k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    if not whole:
        out.append((lo, hi))
    return out[::-1]


def subtrees_of(ranges: Iterable[Range]) -> set[Subtree]:
    return {s for lo, hi in ranges for s in perfect_subtrees(lo, hi)}


def inclusion_proof(index: int, size: int, lookup: Lookup) -> list[bytes]:
    ranges = inclusion_ranges(index, size)
    stored = lookup(subtrees_of(ranges))
    return [range_hash(lo, hi, stored) for lo, hi in ranges]


def consistency_proof(first: int, second: int, lookup: Lookup) -> list[bytes]:
    if first == second:
        return []
    ranges = consistency_ranges(first, second)
    stored = lookup(subtrees_of(ranges))
    return [range_hash(lo, hi, stored) for lo, hi in ranges]


def root_at(size: int, lookup: Lookup) -> bytes:
    subtrees = perfect_subtrees(0, size)
    stored = lookup(subtrees)
    return fold([stored[s] for s in subtrees])


# ---------------------------------------------------------------------------------------------------
# Verifiers (RFC 9162 §2.1.3.2 and §2.1.4.2)
# ---------------------------------------------------------------------------------------------------

def _check_hashes(*hashes: bytes) -> None:
    for h in hashes:
        if not isinstance(h, bytes | bytearray) or len(h) != HASH_SIZE:
            raise ProofError("a hash is not 32 bytes")


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Raise ProofError unless `proof` shows leaf hash `leaf` at `index` in the tree `root` of `size`."""
    _check_hashes(leaf, root, *proof)
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of {size} leaves")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("the proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the proof is shorter than the tree is deep")
    if r != root:
        raise ProofError("the proof does not lead to the root")


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       proof: Sequence[bytes]) -> None:
    """Raise ProofError unless `proof` shows the tree of `second` leaves extends the one of `first`."""
    _check_hashes(first_root, second_root, *proof)
    if first < 0 or second < first:
        raise ProofError(f"a tree of {second} leaves cannot extend one of {first}")
    if first == second:
        if proof:
            raise ProofError("equal sizes need an empty proof")
        if first_root != second_root:
            raise ProofError("equal sizes but different roots")
        return
    if first == 0:
        raise ProofError("every tree extends the empty tree; there is nothing to prove")
    if not proof:
        raise ProofError("the proof is empty")
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of two: the old root is a node of the new tree
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the proof is shorter than the tree is deep")
    if fr != first_root:
        raise ProofError("the proof does not lead to the first root")
    if sr != second_root:
        raise ProofError("the proof does not lead to the second root")


# ---------------------------------------------------------------------------------------------------
# Building the tree incrementally
# ---------------------------------------------------------------------------------------------------

@dataclass
class Frontier:
    """The right edge of a tree of `size` leaves: the hashes of the perfect subtrees of [0, size)."""

    size: int = 0
    hashes: list[bytes] = field(default_factory=list)  # left to right, as perfect_subtrees(0, size)

    @classmethod
    def load(cls, size: int, lookup: Lookup) -> Frontier:
        subtrees = perfect_subtrees(0, size)
        stored = lookup(subtrees)
        return cls(size, [stored[s] for s in subtrees])

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf hash; return the perfect subtrees of level >= 1 it completes (level, index, hash)."""
        index = self.size
        self.size += 1
        completed: list[tuple[int, int, bytes]] = []
        h, level = leaf, 0
        while index & 1:  # the leaf closes a pair at every level where its index is odd
            h = node_hash(self.hashes.pop(), h)
            level += 1
            index >>= 1
            completed.append((level, index, h))
        self.hashes.append(h)
        return completed

    def root(self) -> bytes:
        return fold(self.hashes)

    def copy(self) -> Frontier:
        return Frontier(self.size, list(self.hashes))


class MemoryTree:
    """A whole tree in memory, every perfect subtree kept: for verification and tests."""

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self.nodes: dict[Subtree, bytes] = {}
        self.frontier = Frontier()
        for leaf in leaves:
            self.append(leaf)

    @property
    def size(self) -> int:
        return self.frontier.size

    def append(self, leaf: bytes) -> None:
        index = self.frontier.size
        self.nodes[(0, index)] = leaf
        for level, idx, h in self.frontier.append(leaf):
            self.nodes[(level, idx)] = h

    def lookup(self, subtrees: Iterable[Subtree]) -> dict[Subtree, bytes]:
        return {s: self.nodes[s] for s in subtrees}

    def root(self, size: int | None = None) -> bytes:
        return root_at(self.size if size is None else size, self.lookup)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(index, self.size if size is None else size, self.lookup)

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        return consistency_proof(first, self.size if second is None else second, self.lookup)
