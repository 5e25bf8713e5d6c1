"""Every defect the synthetic generator injects is reported at its row, line and field; nothing else is."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from p3ke_ingest.adapters.storage import sha256_file
from p3ke_ingest.synth import ROW_KINDS, generate, read_defect_log
from tests.unit.ingest.support import check, findings

ERRORS = {"nik_scientific", "nik_missing", "duplicate_row", "duplicate_nik", "region_unknown", "desil_out_of_range",
          "birthdate_mismatch", "sex_mismatch"}


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet"])
def test_every_injected_defect_is_found_at_its_row_line_and_field(fmt: str, tmp_path: Path) -> None:
    # csv gets every file defect too: header rows, ';', BOM, CRLF
    result = generate(tmp_path / "in", individuals=6000, seed=21, fmt=fmt, defects=0.06, chunk_families=700)
    outcome = check(tmp_path, result.individual_path, result.family_path, max_rejected_share=0.2)
    assert outcome.accepted, outcome.reasons
    log = [d for d in read_defect_log(result.defect_log) if d.kind in ROW_KINDS]  # type: ignore[arg-type]
    assert {d.kind for d in log} == set(ROW_KINDS) and len(log) > 300
    got = findings(outcome)
    by_key = {(f["file"], f["data_row"], f["code"]): f for f in got}
    for d in log:
        f = by_key.get((d.file, d.data_row, d.kind))
        assert f is not None, f"not found: {d}"
        assert f["field"] == d.field, (d, f)
        assert f["line"] == d.line, (d, f)
        assert f["severity"] == ("warning" if d.kind == "nik_apostrophe" else "error")
    # no finding on a row the generator did not spoil (file-level notes aside)
    logged = {(d.file, d.data_row) for d in log}
    unexpected = [f for f in got if f["data_row"] is not None and (f["file"], f["data_row"]) not in logged]
    assert unexpected == []
    rejected = {(d.file, d.data_row) for d in log if d.kind in ERRORS}
    assert outcome.rows_rejected == len(rejected)
    files = outcome.summary["files"]
    assert files["individual"]["rows"] == result.rows["individual"]
    rejected_individuals = sum(1 for f, _ in rejected if f == result.individual_path.name)
    assert outcome.individuals == result.rows["individual"] - rejected_individuals
    # the apostrophe NIKs were repaired and published
    snapshot = pq.read_table(outcome.snapshot[0])  # type: ignore[index]
    assert snapshot.num_rows == outcome.individuals
    assert all(len(n) == 16 and n.isdigit() for n in snapshot.column("nik").to_pylist())


def test_a_clean_snapshot_is_accepted_whole_and_written_typed_sorted_and_content_addressed(tmp_path: Path) -> None:
    result = generate(tmp_path / "in", individuals=4000, seed=3, fmt="csv")
    outcome = check(tmp_path, result.individual_path, result.family_path)
    assert outcome.accepted and outcome.reasons == []
    assert [f for f in findings(outcome) if f["data_row"] is not None] == []
    path, sha = outcome.snapshot  # type: ignore[misc]
    assert path.name == f"{sha}.parquet" and sha256_file(path) == sha
    snap = pq.read_table(path)
    source = pq.read_table(generate(tmp_path / "pq", individuals=4000, seed=3, fmt="parquet").individual_path)
    assert snap.num_rows == source.num_rows == outcome.individuals == 4000
    types = {f.name: str(f.type) for f in snap.schema}
    assert types["desil_kesejahteraan"] == "int8" and types["tanggal_lahir"] == "date32[day]"
    assert types["penerima_pkh"] == "bool" and types["umur"] == "int16" and types["nik"] == "string"
    assert snap.column_names == source.column_names
    codes = snap.column("kode_kemendagri").to_pylist()
    assert codes == sorted(codes)
    # same persons, same values (flags as booleans)
    key = {r["id_individu"]: r for r in source.to_pylist()}
    for row in snap.slice(0, 500).to_pylist():
        want = key[row["id_individu"]]
        for name, value in row.items():
            expected = want[name]
            if isinstance(value, bool):
                expected = expected == "Ya"
            assert value == expected, (name, value, expected)
    assert sum(outcome.counts_by_desil.values()) == 4000
    assert outcome.counts_by_desil == dict(Counter(str(d) for d in snap.column("desil_kesejahteraan").to_pylist()))
    assert outcome.families == result.rows["family"]
    # the same input gives the same bytes (content addressing finds the version again)
    again = check(tmp_path / "again", result.individual_path, result.family_path)
    assert again.snapshot[1] == sha  # type: ignore[index]
    # ... and the CSV, XLSX and Parquet of one snapshot give the same snapshot
    as_parquet = check(tmp_path / "p", generate(tmp_path / "pq2", individuals=4000, seed=3, fmt="parquet",
                                                family_file=False).individual_path)
    assert as_parquet.snapshot[1] == sha  # type: ignore[index]


def test_the_diff_against_the_previous_version_counts_persons(tmp_path: Path) -> None:
    old = generate(tmp_path / "old", individuals=2000, seed=8, family_file=False)
    new = generate(tmp_path / "new", individuals=2500, seed=8, family_file=False, chunk_families=100)
    first = check(tmp_path / "a", old.individual_path)
    second = check(tmp_path / "b", new.individual_path, previous=first.snapshot[0])  # type: ignore[index]
    a = {r["nik"]: r for r in pq.read_table(first.snapshot[0]).to_pylist()}  # type: ignore[index]
    b = {r["nik"]: r for r in pq.read_table(second.snapshot[0]).to_pylist()}  # type: ignore[index]
    assert second.changes == {"persons_added": len(b.keys() - a.keys()), "persons_removed": len(a.keys() - b.keys()),
                              "persons_changed": sum(1 for k in a.keys() & b.keys() if a[k] != b[k])}
