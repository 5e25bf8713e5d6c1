"""Room on the work volume, checked before a job starts: what a job will read is the table's uncompressed size (a
CSV's bytes, an XLSX's entries, a Parquet file's column chunks, cross-checked with DuckDB's own reading of the
footer), a directory that cannot be read counts at the file's size, and the reason gives the sizes with each
language's separators."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from p3ke_ingest.service_layer import work_space
from p3ke_ingest.service_layer.job_failures import reasons
from p3ke_ingest.service_layer.work_space import Shortfall, input_bytes, shortfall


def test_a_csv_counts_at_its_size(tmp_path: Path) -> None:
    csv = tmp_path / "a.csv"
    csv.write_text("nik,nama\n" + "3201010101010001,Nama Sintetis\n" * 1000, encoding="utf-8")
    assert input_bytes(csv) == csv.stat().st_size


def test_an_archive_counts_at_its_entries_uncompressed(tmp_path: Path) -> None:
    book = tmp_path / "a.xlsx"
    with zipfile.ZipFile(book, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", "<row><c>1</c></row>" * 50_000)
    expected = len("<workbook/>") + len("<row><c>1</c></row>") * 50_000
    assert book.stat().st_size < expected / 20  # it compresses well
    assert input_bytes(book) == expected


def test_a_parquet_file_counts_at_its_column_chunks_uncompressed(tmp_path: Path) -> None:
    path = tmp_path / "a.parquet"
    rows = range(200_000)
    table = pa.table({"nik": [f"32010101010{i:05d}" for i in rows], "desil": [i % 4 + 1 for i in rows]})
    pq.write_table(table, path, compression="zstd", row_group_size=50_000)
    sql = f"SELECT sum(total_uncompressed_size) FROM parquet_metadata('{path}')"
    duck = duckdb.connect().execute(sql).fetchone()[0]  # type: ignore[index]
    assert input_bytes(path) == int(duck) > path.stat().st_size


def test_a_parquet_file_whose_footer_cannot_be_read_counts_at_its_size(tmp_path: Path) -> None:
    path = tmp_path / "damaged.parquet"
    path.write_bytes(b"PAR1" + b"\x00" * 4000 + (3000).to_bytes(4, "little") + b"PAR1")
    assert input_bytes(path) == path.stat().st_size
    claims_more = tmp_path / "claims.parquet"  # a footer length beyond the file is not believed
    claims_more.write_bytes(b"PAR1" + b"\x00" * 100 + (2**31).to_bytes(4, "little") + b"PAR1")
    assert input_bytes(claims_more) == claims_more.stat().st_size


def test_a_vanished_file_is_an_error_not_a_size(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        input_bytes(tmp_path / "gone.csv")


def test_a_job_that_fits_passes_and_factor_zero_checks_nothing(tmp_path: Path) -> None:
    csv = tmp_path / "a.csv"
    csv.write_text("nik\n" + "3201010101010001\n" * 100, encoding="utf-8")
    assert shortfall(tmp_path, [csv], 1.5) is None
    assert shortfall(tmp_path, [tmp_path / "gone.csv"], 0) is None  # not even read


def test_a_job_that_does_not_fit_says_by_how_much(tmp_path: Path) -> None:
    free = shutil.disk_usage(tmp_path).free
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as fh:  # sparse: its size without its blocks
        fh.write(b"nik\n")
        fh.truncate(free // 2)
    assert huge.stat().st_blocks * 512 < 2**20, "the file system did not keep the file sparse"
    short = shortfall(tmp_path, [huge], 3.0)
    assert short is not None
    assert short.input_bytes == free // 2 and short.needed_bytes == 3 * (free // 2)
    assert short.free_bytes <= free + 2**30


def test_the_reason_gives_the_sizes_in_each_language() -> None:
    short = Shortfall(input_bytes=36_000_000_000, needed_bytes=54_000_000_000, free_bytes=12_345_678_901)
    said, said_en = reasons("job.failed.no_room", **short.params())
    assert said == ("Validasi tidak dimulai: berkas sebesar 36,0 GB memerlukan ruang kerja sekitar 54,0 GB, sedangkan "
                    "volume kerja layanan ingest hanya memiliki 12,3 GB ruang kosong. Cara memperbaiki: minta operator "
                    "memperbesar atau mengosongkan volume data layanan ingest (P3KE_DATA_DIR) hingga tersedia "
                    "sedikitnya 54,0 GB, lalu kirim ulang pengajuan ini")
    assert said_en == ("Validation did not start: files of 36.0 GB need about 54.0 GB of work space, and the ingest "
                       "service's work volume has only 12.3 GB free. How to fix: ask the operator to enlarge or free "
                       "the ingest service's data volume (P3KE_DATA_DIR) until at least 54.0 GB is free, then submit "
                       "again")
    assert work_space.size_text(1_234_567_890_123, "id") == "1,2 TB"
    assert work_space.size_text(1_234_567_890_123_456, "en") == "1,234.6 TB"
    assert work_space.size_text(1_234_567_890_123_456, "id") == "1.234,6 TB"
    assert work_space.size_text(999, "en") == "999 B"
