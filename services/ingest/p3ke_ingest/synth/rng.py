"""Deterministic, vectorised random draws on Arrow arrays.

numpy is not a dependency of the workspace (pyarrow >= 16 no longer pulls it in), so every draw is an
Arrow compute kernel: ``pyarrow.compute.random`` seeded per (run seed, chunk, stream name), plus
lookup tables for categorical choices. Each named stream is independent of the others, so adding a
field never shifts the values of another one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

_ARANGE_CACHE: list[pa.Array] = [pa.array([], pa.int64())]


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from any parts, stable across runs and platforms."""
    h = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") & 0x7FFF_FFFF_FFFF_FFFF


def arange(n: int) -> pa.Array:
    """0..n-1 as int64 (cached, sliced)."""
    cached = _ARANGE_CACHE[0]
    if len(cached) < n:
        cached = pa.array(range(max(n, 2 * len(cached))), pa.int64())
        _ARANGE_CACHE[0] = cached
    return cached.slice(0, n)


def full(n: int, value: object, type_: pa.DataType) -> pa.Array:
    return pa.repeat(pa.scalar(value, type_), n)


class Stream:
    """Random draws for one chunk: ``Stream(seed, chunk).uniform("age", n)``."""

    def __init__(self, *key: object) -> None:
        self._key = key

    def uniform(self, name: str, n: int) -> pa.Array:
        """n doubles in [0, 1)."""
        return pc.random(n, initializer=derive_seed(*self._key, name))

    def integers(self, name: str, n: int, low: object, high: object) -> pa.Array:
        """n int64 uniformly in [low, high] (inclusive); low/high scalars or int64 arrays."""
        u = self.uniform(name, n)
        span = pc.add(pc.subtract(high, low), 1)
        k = pc.cast(pc.floor(pc.multiply(u, pc.cast(span, pa.float64()))), pa.int64())
        k = pc.min_element_wise(k, pc.subtract(span, 1))
        return pc.add(k, low)

    def bernoulli(self, name: str, n: int, p: object) -> pa.Array:
        """n booleans, True with probability p (scalar or float array)."""
        return pc.less(self.uniform(name, n), p)

    def choice(self, name: str, table: CategoricalTable, group: pa.Array | int | None = None, n: int = 0) -> pa.Array:
        """Category codes (int64) drawn from ``table``; ``group`` selects the distribution per row."""
        size = n if group is None or isinstance(group, int) else len(group)
        return table.sample(self.uniform(name, size), group)


class CategoricalTable:
    """Sampling from one or more categorical distributions over the same categories by table lookup.

    Each distribution is quantised into ``resolution`` slots (largest remainder), so a draw is one
    multiply and one ``take``. Resolution 10,000 keeps every probability within 0.01 percentage points.
    """

    def __init__(self, distributions: Sequence[Sequence[float]], resolution: int = 10_000) -> None:
        self.resolution = resolution
        self.k = len(distributions[0])
        slots: list[int] = []
        for weights in distributions:
            if len(weights) != self.k:
                raise ValueError("all distributions need the same number of categories")
            slots.extend(_quantise(weights, resolution))
        self._table = pa.array(slots, pa.int64())

    @classmethod
    def single(cls, weights: Sequence[float], resolution: int = 10_000) -> CategoricalTable:
        return cls([weights], resolution)

    def sample(self, u: pa.Array, group: pa.Array | int | None = None) -> pa.Array:
        slot = pc.cast(pc.floor(pc.multiply(u, float(self.resolution))), pa.int64())
        slot = pc.min_element_wise(slot, self.resolution - 1)
        if group is not None:
            slot = pc.add(slot, pc.multiply(group, self.resolution))
        return self._table.take(slot)


def _quantise(weights: Sequence[float], resolution: int) -> list[int]:
    total = float(sum(weights))
    if total <= 0:
        raise ValueError("weights must sum to a positive number")
    exact = [w / total * resolution for w in weights]
    counts = [int(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: resolution - sum(counts)]:
        counts[i] += 1
    out: list[int] = []
    for code, c in enumerate(counts):
        out.extend([code] * c)
    return out


class AliasTable:
    """Exact sampling from a large discrete distribution (Vose's alias method), vectorised."""

    def __init__(self, weights: Sequence[float]) -> None:
        n = len(weights)
        total = float(sum(weights))
        if n == 0 or total <= 0:
            raise ValueError("need at least one positive weight")
        scaled = [w * n / total for w in weights]
        prob = [0.0] * n
        alias = list(range(n))
        small = [i for i, s in enumerate(scaled) if s < 1.0]
        large = [i for i, s in enumerate(scaled) if s >= 1.0]
        while small and large:
            s, g = small.pop(), large.pop()
            prob[s] = scaled[s]
            alias[s] = g
            scaled[g] = scaled[g] + scaled[s] - 1.0
            (small if scaled[g] < 1.0 else large).append(g)
        for i in large + small:
            prob[i] = 1.0
        self.n = n
        self._prob = pa.array(prob, pa.float64())
        self._alias = pa.array(alias, pa.int64())

    def sample(self, u1: pa.Array, u2: pa.Array) -> pa.Array:
        """Indices 0..n-1 from two independent uniform arrays."""
        i = pc.cast(pc.floor(pc.multiply(u1, float(self.n))), pa.int64())
        i = pc.min_element_wise(i, self.n - 1)
        keep = pc.less(u2, self._prob.take(i))
        return pc.if_else(keep, i, self._alias.take(i))


class SequenceCounter:
    """Per-key running counters, advanced a whole chunk at a time.

    ``next(keys)`` returns, for each row, how many earlier rows (in this and all previous chunks) had
    the same key -- the basis of unique NIK, No. KK and ID serials without keeping every issued number.
    Memory is one int64 per possible key.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._counts = pa.repeat(pa.scalar(0, pa.int64()), size)

    def next(self, keys: pa.Array) -> pa.Array:
        n = len(keys)
        if n == 0:
            return pa.array([], pa.int64())
        order = pc.cast(pc.sort_indices(keys), pa.int64())  # stable
        sk = keys.take(order)
        pos = arange(n)
        if n > 1:
            changed = pc.not_equal(sk.slice(1), sk.slice(0, n - 1))
            is_start = pa.concat_arrays([pa.array([True]), changed])
        else:
            is_start = pa.array([True])
        start_pos = pc.cumulative_max(pc.if_else(is_start, pos, 0))
        rank = pc.subtract(pos, start_pos)
        seq_sorted = pc.add(self._counts.take(sk), rank)
        # new counter value for each key = its last sequence number + 1 (rows of a key are contiguous,
        # so the last row of each run carries the highest value)
        is_end = pa.concat_arrays([is_start.slice(1), pa.array([True])]) if n > 1 else pa.array([True])
        end_keys = sk.filter(is_end)
        end_vals = pc.add(seq_sorted.filter(is_end), 1)
        updated = pc.scatter(end_vals, end_keys, max_index=self.size - 1)
        self._counts = pc.coalesce(updated, self._counts)
        return pc.scatter(seq_sorted, order)
