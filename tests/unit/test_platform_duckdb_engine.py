"""p3ke_platform.duckdb_engine: a bounded in-memory connection, a process's kept databases, and HMAC-SHA256 as SQL
computes it."""

from __future__ import annotations

import hashlib
import hmac
import threading
from pathlib import Path

import pyarrow as pa
import pytest

from p3ke_platform.duckdb_engine import Databases, connect, hmac_keys


def test_connection_is_bounded_spills_to_the_temp_dir_and_closes(tmp_path: Path) -> None:
    temp = tmp_path / "tmp" / "duckdb"
    with connect(2, "256MB", temp) as con:
        assert temp.is_dir()
        assert con.execute("SELECT current_setting('threads')").fetchone() == (2,)
        assert con.execute("SELECT current_setting('temp_directory')").fetchone() == (str(temp),)
        assert con.execute("SELECT current_setting('memory_limit')").fetchone() == ("244.1 MiB",)  # 256 MB
        assert con.execute("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)
    with pytest.raises(Exception, match="closed"):
        con.execute("SELECT 1")


def test_connection_closes_when_the_block_fails(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), connect(1, "128MB", tmp_path) as con:
        raise RuntimeError("boom")
    with pytest.raises(Exception, match="closed"):
        con.execute("SELECT 1")


def test_kept_databases_give_each_operation_its_own_tables_and_reuse_the_database(tmp_path: Path) -> None:
    databases = Databases()
    temp = tmp_path / "spill"
    with databases.connect(2, "256MB", temp) as a, databases.connect(2, "256MB", temp) as b:
        assert temp.is_dir()
        assert a.execute("SELECT current_setting('memory_limit')").fetchone() == ("244.1 MiB",)
        assert b.execute("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)
        a.execute("CREATE TEMP TABLE sel AS SELECT 1 AS x")
        b.execute("CREATE TEMP TABLE sel AS SELECT 2 AS x UNION ALL SELECT 3")  # the same name, another operation
        a.register("rows", pa.table({"v": [1]}))
        b.register("rows", pa.table({"v": [1, 2, 3]}))
        assert a.execute("SELECT count(*) FROM sel").fetchone() == (1,)
        assert b.execute("SELECT count(*) FROM rows").fetchone() == (3,)
        a.execute("CREATE TEMP TABLE mine AS SELECT 1")
    assert len(databases._open) == 1  # one database for the same bounds
    with databases.connect(2, "256MB", temp) as c:  # what an ended operation made is gone with it
        assert c.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchone() == (0,)
    with pytest.raises(Exception, match="closed"):
        a.execute("SELECT 1")
    with databases.connect(1, "128MB", temp) as d:  # other bounds: another database
        assert d.execute("SELECT current_setting('threads')").fetchone() == (1,)
    assert len(databases._open) == 2
    databases.close()
    assert databases._open == {}
    with databases.connect(2, "256MB", temp) as e:  # reopened on the next use
        assert e.execute("SELECT 42").fetchone() == (42,)


def test_kept_databases_serve_operations_running_at_the_same_time(tmp_path: Path) -> None:
    databases = Databases()
    counts: list[int] = []
    failures: list[BaseException] = []

    def operation(n: int) -> None:
        try:
            with databases.connect(2, "256MB", tmp_path) as con:
                con.execute(f"CREATE TEMP TABLE sel AS SELECT * FROM range({n})")
                counts.append(con.execute("SELECT count(*) FROM sel").fetchone()[0])  # type: ignore[index]
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=operation, args=(1000 * (i + 1),)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert sorted(counts) == [1000 * (i + 1) for i in range(8)]
    assert len(databases._open) == 1
    databases.close()


@pytest.mark.parametrize("key", ["", "k", "a" * 64, "a" * 65, "kunci-rahasia-\u00e9" * 10])
def test_hmac_in_sql_equals_hmac_sha256(tmp_path: Path, key: str) -> None:
    opad, ipad = hmac_keys(key)
    assert len(opad) == len(ipad) == 64
    message = "3201010101010001"
    with connect(1, "128MB", tmp_path) as con:
        row = con.execute("SELECT sha256($opad::BLOB || unhex(sha256($ipad::BLOB || encode($m))))",
                          {"opad": opad, "ipad": ipad, "m": message}).fetchone()
    assert row is not None
    assert row[0] == hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()
