"""Protected planning counts: the cell key method (ABS TableBuilder; ONS `cell-key-perturbation`), then
rounding and small-cell suppression. Pure: counts and cell keys come in, protected counts go out.

Following the ONS specification (PyPI `cell-key-perturbation` 3.1.0, `create_perturbed_table`):

- every person carries a fixed **record key** in 0..255 (here: the first byte of HMAC-SHA256 of the NIK under a
  key derived from the server's subject hash key; see `adapters/duckdb_selection.record_key_sql`), the same in
  every snapshot and never stored;
- a cell's **cell key** is the sum of its members' record keys mod 256, so the same set of people always has the
  same cell key, whichever query produced the cell;
- the noise is looked up in a **perturbation table** (ptable) by (pcv, cell key), where pcv is the cell count up
  to 750 and `((count - 1) mod 250) + 501` above (the ONS reuses rows 501-750 for larger counts).

The ONS package's sample ptable (`ptable_10_5_rule.csv`) does not depend on the cell key (it only rounds to 5 and
zeroes cells under 10), which leaves differencing open; the ONS package itself tabulates microdata in pandas,
which does not fit a register of 10^8 persons. So the counts and cell keys are computed in DuckDB and this
module builds its own ptable in the ONS layout: for each pcv the 256 cell keys are dealt the noise values
`NOISE` (weights out of 256, zero mean, variance 2.1, at most +-3) in an order fixed by SHA-256 of
(`PTABLE_SEED`, pcv, cell key); noise never takes a count below zero.

After perturbation a count under the minimum cell (10) is suppressed, the rest are rounded to `ROUNDING_BASE` (5).
Every answer is a multiple of 5, the same cell always gets the same answer, and two overlapping queries whose
difference would be a hidden cell (or one person) differ by a multiple of 5 carrying the noise of both cells.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache

KEY_RANGE = 256
"""Record keys and cell keys are 0..255 (the ONS `key_range = 255`)."""
MAX_PCV = 750
REUSED_FROM = 501
"""Counts above `MAX_PCV` use the ptable rows of `REUSED_FROM`..`MAX_PCV` (ONS step 3)."""
NOISE: dict[int, int] = {-3: 13, -2: 26, -1: 51, 0: 76, 1: 51, 2: 26, 3: 13}
"""Noise value -> how many of the 256 cell keys get it (probability = weight / 256)."""
PTABLE_SEED = "p3ke-targeting-ptable-v1"
ROUNDING_BASE = 5
METHOD = "cell-key (ONS/ABS), ptable p3ke-targeting-ptable-v1, rounding base 5, suppression after perturbation"

assert sum(NOISE.values()) == KEY_RANGE and sum(v * w for v, w in NOISE.items()) == 0


def pcv(count: int) -> int:
    """The ptable row for a cell count (ONS: counts above 750 reuse rows 501-750)."""
    return count if count <= MAX_PCV else ((count - 1) % (MAX_PCV - REUSED_FROM + 1)) + REUSED_FROM


@cache
def _row(row: int) -> tuple[int, ...]:
    """The noise for each cell key 0..255 of ptable row `row`."""
    values = [v for v, weight in sorted(NOISE.items()) for _ in range(weight)]
    order = sorted(range(KEY_RANGE), key=lambda key: hashlib.sha256(f"{PTABLE_SEED}:{row}:{key}".encode()).digest())
    noise = [0] * KEY_RANGE
    for key, value in zip(order, values, strict=True):
        noise[key] = max(value, -row)  # never below zero
    return tuple(noise)


def pvalue(count: int, cell_key: int) -> int:
    """The ptable's noise for a cell of `count` persons with `cell_key` (0 for an empty cell)."""
    if count <= 0:
        return 0
    return _row(pcv(count))[cell_key % KEY_RANGE]


def ptable() -> list[tuple[int, int, int]]:
    """The whole ptable in the ONS layout (pcv, ckey, pvalue), for publication and review."""
    return [(row, key, _row(row)[key]) for row in range(1, MAX_PCV + 1) for key in range(KEY_RANGE)]


def round_to(value: int, base: int) -> int:
    """To the nearest multiple of `base` (halves up)."""
    return ((value + base // 2) // base) * base


@dataclass(frozen=True)
class Protected:
    count: int | None
    """Perturbed and rounded; None when suppressed."""
    suppressed: bool


def protect(count: int, cell_key: int, min_cell: int, base: int = ROUNDING_BASE) -> Protected:
    """One cell as party 2 sees it: perturbed by the ptable, suppressed under `min_cell` after perturbation,
    else rounded to `base`."""
    perturbed = count + pvalue(count, cell_key)
    if perturbed < min_cell:
        return Protected(None, True)
    return Protected(round_to(perturbed, base), False)
