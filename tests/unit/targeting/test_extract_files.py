"""The extract's files written from a selection table: the recipient ledger holds the same references whether its
keyed hashes are computed in Python (up to LEDGER_IN_MEMORY persons) or in DuckDB's SQL (beyond it), and the
extract keeps its provenance whatever characters it holds."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from p3ke_platform.shared_files import sha256_file
from p3ke_platform.subject_keys import subject_ref
from p3ke_targeting.adapters import extract_files
from p3ke_targeting.adapters.duckdb_selection import selection_table
from p3ke_targeting.domain.selection import Selection

KEY = "a-test-subject-hash-key-0123456789"
NIKS = [f"32{i:014d}" for i in range(3_000, 0, -1)] + [" 3201014101900001 "]  # unsorted; one with spaces


def _table(con: duckdb.DuckDBPyConnection, stored: list[str] | None = None) -> str:
    """A selection's table of NIKS; `stored`, the references a working copy would have held (else NULL, as from the
    Parquet snapshot)."""
    table = selection_table()
    con.execute(f"CREATE TABLE {table} (__nik VARCHAR NOT NULL, __desil INTEGER, __persentil INTEGER, __key VARCHAR, "
                "__ref VARCHAR, nik VARCHAR NOT NULL)")  # as a selection's: NIKs from a snapshot, where NOT NULL
    con.execute(f"INSERT INTO {table} SELECT n, 1, 1, md5(n), r, n FROM "
                "(SELECT unnest($niks) AS n, unnest($refs::VARCHAR[]) AS r)",
                {"niks": NIKS, "refs": stored or [None] * len(NIKS)})
    return table


def test_a_ledger_holds_the_same_references_hashed_in_python_or_in_sql(tmp_path: Path) -> None:
    con = duckdb.connect()
    table = _table(con)
    in_sql = extract_files.write_ledger(con, table, KEY, tmp_path / "sql.parquet")
    refs = extract_files.selected_refs(con, table, KEY)
    in_python = extract_files.write_ledger_refs(refs, tmp_path / "python.parquet")

    expected = sorted(subject_ref(KEY, nik) for nik in NIKS)
    assert refs.to_pylist() == expected
    written = pq.read_table(tmp_path / "python.parquet")
    assert written.equals(pq.read_table(tmp_path / "sql.parquet"))  # the same column, type and nullability
    assert written.column("subject_ref").to_pylist() == expected
    assert in_python == sha256_file(tmp_path / "python.parquet")
    assert in_sql != in_python  # two writers, two byte layouts: the digest is of each file as written
    assert not list(tmp_path.glob("*.tmp*"))  # nothing left beside them


def test_references_stored_in_the_working_copy_are_read_not_computed(tmp_path: Path) -> None:
    """The stored references are what both writers write: marked here (a real copy holds `subject_ref` of each NIK
    under its key, tests/unit/targeting/test_working_copy.py), so that computing them instead would show."""
    stored = [f"{i:064x}" for i in range(len(NIKS))]
    con = duckdb.connect()
    table = _table(con, stored)
    extract_files.write_ledger(con, table, KEY, tmp_path / "sql.parquet")
    assert extract_files.selected_refs(con, table, KEY).to_pylist() == sorted(stored)
    assert pq.read_table(tmp_path / "sql.parquet").column("subject_ref").to_pylist() == sorted(stored)


def test_the_extract_keeps_provenance_with_quotes_and_non_ascii_text(tmp_path: Path) -> None:
    con = duckdb.connect()
    table = _table(con)
    provenance = {"request_id": "req-1", "criteria": '{"note":"O\'Brien\'s \'\' list","kota":"Bekasi – Jawa Barat"}',
                  "empty": ""}
    selection = Selection(program="padat_karya", reference_date=date(2026, 12, 1), deciles=(1,))
    final = tmp_path / "extract.parquet"
    digest = extract_files.write_extract(con, table=table, selection=selection, fields=["nik"], final=final,
                                         provenance=provenance)
    assert extract_files.read_provenance(final) == provenance
    written = pq.read_table(final)
    assert written.column_names == ["nik"] and written.num_rows == len(NIKS)
    assert digest == sha256_file(final)
