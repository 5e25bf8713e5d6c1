"""Why a validation job stopped: real errors from a full disk and from DuckDB's memory limit are told apart from any
other, and said in Indonesian and English without the exception's text (which may quote a value from the file)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from p3ke_ingest.service_layer.job_failures import failure_key, reasons
from p3ke_platform.parquet_stream import write_query

FULL = "/dev/full"  # every write fails with ENOSPC, as on a full volume


def _raised(action) -> BaseException:  # type: ignore[no-untyped-def]
    with pytest.raises(BaseException) as caught:
        action()
    return caught.value


def _full_device() -> int:
    """/dev/full opened for writing, never created (O_CREAT is not given). A writer handed a path may delete a file
    it failed to write (pyarrow's write_table does), so the device is never handed to one as a path."""
    assert stat.S_ISCHR(os.stat(FULL).st_mode), f"{FULL} is not the character device"
    return os.open(FULL, os.O_WRONLY)


def test_a_full_volume_is_told_apart_as_written_by_python_and_by_arrow() -> None:
    def python_write() -> None:
        with os.fdopen(_full_device(), "wb") as f:
            f.write(b"x" * 1_000_000)

    def arrow_write() -> None:  # Arrow's own file, as the snapshot's writer uses
        os.close(_full_device())
        with pa.OSFile(FULL, "wb") as f:
            pq.write_table(pa.table({"nik": ["3201010101900001"] * 100_000}), f)

    assert failure_key(_raised(python_write)) == "job.failed.disk_full"
    assert failure_key(_raised(arrow_write)) == "job.failed.disk_full"
    assert stat.S_ISCHR(os.stat(FULL).st_mode)


def test_duckdbs_memory_limit_is_told_apart_raised_directly_and_through_the_arrow_stream(tmp_path: Path) -> None:
    con = duckdb.connect(config={"memory_limit": "8MB", "threads": 1, "temp_directory": ""})
    big = "SELECT range AS k, repeat('x', 200) AS v FROM range(2000000) ORDER BY v DESC, k"
    assert failure_key(_raised(lambda: con.execute(f"CREATE TABLE t AS {big}"))) == "job.failed.memory"
    assert failure_key(_raised(lambda: write_query(con, big, tmp_path / "t.parquet"))) == "job.failed.memory"


def test_any_other_error_is_internal_and_named_by_its_type_only() -> None:
    exc = ValueError("Could not convert string 'Budi Santoso' to INT32")  # the kind of text an error may carry
    key = failure_key(exc)
    assert key == "job.failed.internal"
    said, said_en = reasons(key, error=type(exc).__name__)
    assert said.startswith("Validasi berhenti karena kesalahan internal (ValueError)") and "Cara memperbaiki" in said
    assert said_en.startswith("Validation stopped on an internal error (ValueError)") and "How to fix" in said_en
    assert "Budi" not in said + said_en


def test_the_reasons_say_what_to_do_in_both_languages() -> None:
    said, said_en = reasons("job.failed.disk_full")
    assert "ruang disk" in said and "P3KE_DATA_DIR" in said and "kirim ulang" in said
    assert "ran out of space" in said_en and "P3KE_DATA_DIR" in said_en
    said, said_en = reasons("job.failed.memory")
    assert "P3KE_INGEST_ENGINE_MEMORY_MB" in said and "P3KE_INGEST_ENGINE_MEMORY_MB" in said_en
    said, said_en = reasons("job.failed.interrupted", count=3)
    assert "terputus 3 kali" in said and "interrupted 3 times" in said_en
