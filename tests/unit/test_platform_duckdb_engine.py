"""p3ke_platform.duckdb_engine: a bounded in-memory connection, and HMAC-SHA256 as SQL computes it."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from p3ke_platform.duckdb_engine import connect, hmac_keys


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
