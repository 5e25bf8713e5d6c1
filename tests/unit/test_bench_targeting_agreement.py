"""bench/targeting.py's check that our extract and the hand-written reference select alike (the reference restates
the program's rules by hand; the benchmark stops when the two drift apart)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench.targeting import agree


def _extract(path: Path, people: list[tuple[str, int]]) -> Path:
    pq.write_table(pa.table({"nik": [n for n, _ in people], "desil_kesejahteraan": pa.array(
        [d for _, d in people], pa.int8())}), path)
    return path


def test_the_same_persons_in_another_tie_order_agree(tmp_path: Path) -> None:
    ours = _extract(tmp_path / "ours.parquet", [("3201", 1), ("3202", 1), ("3203", 2)])
    agree(ours, _extract(tmp_path / "ref.parquet", [("3202", 1), ("3201", 1), ("3203", 2)]), quota=10)


def test_a_full_quota_may_differ_in_whom_among_ties_but_not_in_deciles(tmp_path: Path) -> None:
    ours = _extract(tmp_path / "ours.parquet", [("3201", 1), ("3202", 2)])
    agree(ours, _extract(tmp_path / "tie.parquet", [("3201", 1), ("3299", 2)]), quota=2)
    with pytest.raises(RuntimeError, match="select differently"):
        agree(ours, _extract(tmp_path / "deciles.parquet", [("3201", 1), ("3202", 1)]), quota=2)


@pytest.mark.parametrize("ref", [[("3201", 1)], [("3201", 1), ("3299", 2)]], ids=["fewer", "another-person"])
def test_other_persons_or_counts_stop_the_benchmark(tmp_path: Path, ref: list[tuple[str, int]]) -> None:
    ours = _extract(tmp_path / "ours.parquet", [("3201", 1), ("3202", 2)])
    with pytest.raises(RuntimeError, match="select differently"):
        agree(ours, _extract(tmp_path / "ref.parquet", ref), quota=10)
