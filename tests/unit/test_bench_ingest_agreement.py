"""bench/ingest.py's validated reference: the same publication decided by hand in one DuckDB statement. Run on a
synthetic file with the benchmark's defects, its snapshot must be ours row for row (a second, independent statement
of the layout's error rules); and `agree` must tell a snapshot with a row missing or rows swapped."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bench.ingest import DEFECTS, agree, child_validated_reference
from p3ke_ingest.adapters.sources import open_source
from p3ke_ingest.adapters.validation_engine import Engine
from p3ke_ingest.synth import generate


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    where = tmp_path_factory.mktemp("bench-ingest")
    csv = generate(where / "in", individuals=20_000, seed=3, defects=0.05, family_file=False,
                   defect_kinds=list(DEFECTS)).individual_path
    engine = Engine(where / "work")
    try:
        src = open_source(csv, "individual", where / "work")
        staged = engine.stage(src)
        result = engine.check(src, staged)
        engine.write_findings(src, where / "findings.parquet", result)
        assert result.rejected > 500, result.by_code  # the defects are there, and some rows are left out
        assert {"duplicate_nik", "duplicate_row", "region_unknown", "sex_mismatch"} <= set(result.by_code)
        ours = where / "ours.parquet"
        engine.write_snapshot(src, staged, ours)
    finally:
        engine.close()
    reference = where / "validated.parquet"
    child_validated_reference(str(csv), str(reference), threads=0, memory_mb=512)
    return ours, reference


def test_the_hand_written_publication_is_ours_row_for_row(snapshots: tuple[Path, Path]) -> None:
    ours, reference = snapshots
    agree(ours, reference)
    columns = [[(f.name, f.type) for f in pq.read_schema(path)] for path in (ours, reference)]
    assert columns[0] == columns[1]


def test_a_row_missing_or_rows_swapped_stop_the_benchmark(snapshots: tuple[Path, Path], tmp_path: Path) -> None:
    ours, reference = snapshots
    table = pq.read_table(ours)
    missing = tmp_path / "missing.parquet"
    pq.write_table(table.slice(1), missing)
    swapped = tmp_path / "swapped.parquet"
    pq.write_table(table.take([1, 0, *range(2, table.num_rows)]), swapped)
    for changed in (missing, swapped):
        with pytest.raises(RuntimeError, match="differ"):
            agree(changed, reference)
