"""A query's rows streamed to Parquet beside the query: order kept, one row group per batch, the same file for the
same query, and a failure in the query or in the writing raised to the caller."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from p3ke_platform.parquet_stream import write_query

QUERY = """SELECT i, 'row ' || i AS label, CAST(i % 7 AS TINYINT) AS small, DATE '2026-01-01' + CAST(i % 300 AS INTEGER)
                  AS day, i % 3 = 0 AS flag, CASE WHEN i % 5 = 0 THEN NULL ELSE lpad(CAST(i AS VARCHAR), 16, '0') END
                  AS nik
           FROM range(250000) t(i) ORDER BY (i * 7919) % 250000"""


def _connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(config={"threads": 2, "preserve_insertion_order": True})
    con.execute("SET enable_progress_bar = false")
    return con


def test_rows_types_and_order_are_the_querys(tmp_path: Path) -> None:
    con = _connect()
    target = tmp_path / "out.parquet"
    rows = write_query(con, QUERY, target, compression="zstd", compression_level=1, row_group_size=50_000,
                       metadata={"p3ke.note": "x"})
    assert rows == 250_000
    expected = con.sql(QUERY).to_arrow_table()
    written = pq.read_table(target)
    assert written.schema.equals(expected.schema, check_metadata=False)
    assert written.equals(expected)  # same rows in the same order
    meta = pq.ParquetFile(target).metadata
    assert meta.num_row_groups == 5 and {meta.row_group(i).num_rows for i in range(5)} == {50_000}
    assert meta.row_group(0).column(0).statistics.has_min_max
    assert pq.read_schema(target).metadata[b"p3ke.note"] == b"x"
    # and DuckDB reads back what its own COPY would have written
    assert con.execute(f"SELECT count(*), sum(i), count(nik) FROM read_parquet('{target}')").fetchone() == \
        con.execute(f"SELECT count(*), sum(i), count(nik) FROM ({QUERY})").fetchone()


def test_the_same_query_writes_the_same_file(tmp_path: Path) -> None:
    digests = set()
    for i in range(3):
        target = tmp_path / f"{i}.parquet"
        write_query(_connect(), QUERY, target, row_group_size=40_000)
        digests.add(hashlib.sha256(target.read_bytes()).hexdigest())
    assert len(digests) == 1


def test_a_failing_query_is_raised_and_the_writer_ends(tmp_path: Path) -> None:
    csv = tmp_path / "in.csv"
    csv.write_text("a,b\n" + "".join(f"{i},{i}\n" for i in range(300_000)) + "1,x\n")
    con = _connect()
    sql = (f"SELECT * FROM read_csv('{csv}', header=true, strict_mode=true, auto_detect=false, "
           f"columns={{'a': 'BIGINT', 'b': 'BIGINT'}})")
    with pytest.raises(OSError, match="CSV Error"):  # DuckDB's message, as pyarrow reports a failed stream
        write_query(con, sql, tmp_path / "out.parquet", row_group_size=10_000)
    assert [t.name for t in threading.enumerate() if t.name == "parquet-writer"] == []
    assert con.execute("SELECT 42").fetchone() == (42,)  # the connection is usable again


def test_a_failing_write_is_raised(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        write_query(_connect(), QUERY, tmp_path / "missing-dir" / "out.parquet", row_group_size=10_000)
