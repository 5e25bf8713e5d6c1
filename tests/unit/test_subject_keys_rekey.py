"""The shared part of re-keying files of subject references (p3ke_platform.subject_keys.RefPairs, rekey_files): a
pairs file as `p3ke subject-keys pairs` writes it, read by DuckDB; each file's references mapped, counted, refused
when some lack a pair, recognised when an earlier run already rewrote them."""

from __future__ import annotations

from pathlib import Path

import pytest

from p3ke_platform import duckdb_engine
from p3ke_platform.subject_keys import KeyRingError, PairsHeader, RefPairs, parse_key_ring, rekey_files, write_pairs

RING = parse_key_ring("k2:second-subject-key-0123456789,k1:local-development-subject-key")
NIKS = [f"3201{n:012d}" for n in range(1, 51)]


def _pairs(path: Path, niks: list[str], newline: str = "\n") -> Path:
    with path.open("w", encoding="ascii", newline=newline) as fh:
        write_pairs(fh, RING.pairs(niks, "k1"), PairsHeader("k1", "k2"))
    return path


def _old(nik: str) -> str:
    key = RING.get("k1")
    assert key is not None
    return key.ref(nik)


def _new(nik: str) -> str:
    return RING.ref(nik)


def test_a_file_is_mapped_in_order_and_refused_when_a_reference_lacks_a_pair(tmp_path: Path) -> None:
    refs = tmp_path / "refs.txt"
    refs.write_text("".join(_old(n) + "\n" for n in [*NIKS[:5], NIKS[0]]) + "\n", encoding="ascii")
    with duckdb_engine.connect(1, "256MB", tmp_path / "tmp") as con:
        pairs = RefPairs(con, _pairs(tmp_path / "pairs.txt", NIKS, newline="\r\n"))
        assert pairs.header == PairsHeader("k1", "k2") and pairs.count == len(NIKS)
        mapped = pairs.map_lines(refs)
        assert (mapped.refs, mapped.missing, mapped.already) == (6, 0, False)
        assert [r for (r,) in con.execute("SELECT ref FROM rekeyed ORDER BY ord").fetchall()] == [
            _new(n) for n in [*NIKS[:5], NIKS[0]]]

        short = RefPairs(con, _pairs(tmp_path / "short.txt", NIKS[2:]))
        mapped = short.map_lines(refs)
        assert (mapped.refs, mapped.missing, mapped.already) == (6, 3, False)

        rewritten = tmp_path / "rewritten.txt"
        rewritten.write_text("".join(_new(n) + "\n" for n in NIKS[:5]), encoding="ascii")
        assert pairs.map_lines(rewritten).already

        empty = tmp_path / "empty.txt"
        empty.write_text("", encoding="ascii")
        assert (pairs.map_lines(empty).refs, pairs.map_lines(empty).missing) == (0, 0)


def test_rekey_files_writes_and_records_only_what_it_may(tmp_path: Path) -> None:
    files = {}
    for name, niks in {"complete": NIKS[:4], "lacking": [*NIKS[:2], "9999999999999999"]}.items():
        files[name] = tmp_path / f"{name}.txt"
        files[name].write_text("".join(_old(n) + "\n" for n in niks), encoding="ascii")
    written, recorded = [], []
    with duckdb_engine.connect(1, "256MB", tmp_path / "tmp") as con:
        pairs = RefPairs(con, _pairs(tmp_path / "pairs.txt", NIKS))
        report = rekey_files(pairs, [*files.items(), ("gone", tmp_path / "gone.txt")],
                             read=lambda p, path: p.map_lines(path), write=written.append, record=recorded.append)
    assert [(f.resource_id, f.outcome, f.refs, f.missing) for f in report.files] == [
        ("complete", "rekeyed", 4, 0), ("lacking", "refused", 3, 1), ("gone", "absent", 0, 0)]
    assert written == [files["complete"]] and recorded == ["complete"]
    assert (report.rekeyed, report.refused) == (1, 1)


@pytest.mark.parametrize("text, message", [
    ("nonsense\n", "the first line is not"),
    ("p3ke-subject-ref-pairs v1 k1 k1\n", "the same"),
    (f"p3ke-subject-ref-pairs v1 k1 k2\n{'a' * 64} {'b' * 64}\n{'A' * 64} {'b' * 64}\n", "the first line 3"),
    (f"p3ke-subject-ref-pairs v1 k1 k2\n{'a' * 64}\n", "the first line 2"),
])
def test_a_malformed_pairs_file_is_refused_naming_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "pairs.txt"
    path.write_text(text, encoding="ascii")
    with duckdb_engine.connect(1, "256MB", tmp_path / "tmp") as con, pytest.raises(KeyRingError, match=message):
        RefPairs(con, path)
