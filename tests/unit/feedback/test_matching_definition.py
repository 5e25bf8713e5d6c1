"""The matching query (`matching.match`) against a plain definition of each row's class, duplicate, cell and
whether it is served, over random batches: duplicates whose first report was rejected, NIKs counted by an
earlier batch, extracts with and without regions and deciles (some of them empty), and snapshot rows."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from p3ke_feedback.adapters import matching

Row = dict[str, Any]


def _nik(i: int) -> str:
    return f"3201{i:012d}"


def _world(seed: int) -> tuple[list[Row], list[Row], list[Row], list[Row]]:
    """(batch rows as `v` holds them, extract rows, snapshot rows, an earlier batch's rows)."""
    rng = random.Random(seed)
    pool = [_nik(i) for i in range(80)]
    regions = ["3201", "3202", "3273", "3507"]
    batch = []
    for row in range(1, 501):
        nik = None if rng.random() < 0.06 else rng.choice(pool)
        batch.append({"row": row, "nik": nik, "has_error": rng.random() < 0.25,
                      "row_region": rng.choice(["", *regions]), "status": rng.choice(["completed", "enrolled"])})
    extract = [{"nik": nik, "kode_kemendagri": None if rng.random() < 0.15 else rng.choice(regions) + "011001",
                "desil_kesejahteraan": None if rng.random() < 0.15 else rng.randint(1, 4)}
               for nik in rng.sample(pool, 40) for _ in range(rng.choice([1, 1, 1, 2]))]
    snapshot = [{"nik": nik, "kode_kemendagri": rng.choice(regions) + "022002",
                 "desil_kesejahteraan": rng.randint(1, 4)}
                for nik in rng.sample(pool, 60) for _ in range(rng.choice([1, 1, 1, 1, 2]))]
    prior = [{"row": i, "nik": nik, "served": rng.random() < 0.7} for i, nik in enumerate(rng.sample(pool, 12), 1)]
    return batch, extract, snapshot, prior


def _grouped(rows: list[Row], region: bool, desil: bool) -> dict[str, tuple[str | None, int | None]]:
    """Per NIK: the least regency code and the least decile (None where the column is missing or every value empty),
    as SQL's min() gives them."""
    out: dict[str, tuple[str | None, int | None]] = {}
    for r in rows:
        reg = r["kode_kemendagri"][:4] if region and r["kode_kemendagri"] is not None else None
        des = r["desil_kesejahteraan"] if desil else None
        old_reg, old_des = out.get(r["nik"], (None, None))
        out[r["nik"]] = (min((x for x in (old_reg, reg) if x is not None), default=None),
                         min((x for x in (old_des, des) if x is not None), default=None))
    return out


def _expected(batch: list[Row], extract: dict[str, tuple[str | None, int | None]],
              snapshot: dict[str, tuple[str | None, int | None]], prior: list[Row]) -> dict[int, Row]:
    first: dict[str, Row] = {}
    for r in sorted((r for r in batch if r["nik"] is not None), key=lambda r: (r["has_error"], r["row"])):
        first.setdefault(r["nik"], r)  # the first report without an error, else the first report
    counted = {p["nik"] for p in prior if p["served"]}
    out = {}
    for r in batch:
        nik = r["nik"]
        repeat = None if nik is None else r["row"] != first[nik]["row"]
        dup_batch = "fb-prior" if nik in counted else None
        dup = bool(repeat) or dup_batch is not None
        base = ("invalid_nik" if nik is None else "in_extract" if nik in extract
                else "in_p3ke_not_delivered" if nik in snapshot else "not_in_p3ke")
        e_reg, e_des = extract.get(nik, (None, None)) if nik else (None, None)
        s_reg, s_des = snapshot.get(nik, (None, None)) if nik else (None, None)
        if base == "in_extract":
            region = e_reg or s_reg or r["row_region"]
            desil = e_des if e_des is not None else s_des if s_des is not None else 0
        else:
            region = r["row_region"]
            desil = (s_des or 0) if base == "in_p3ke_not_delivered" else 0
        out[r["row"]] = {"class": "duplicate" if dup else base, "base_class": base, "repeat": repeat,
                         "first_row": first[nik]["row"] if nik else None,
                         "duplicate_of": dup_batch if dup and not repeat else None,
                         "served": not r["has_error"] and not dup and base != "invalid_nik",
                         "region": region, "desil": desil}
    return out


@pytest.mark.parametrize(("seed", "extract_columns"), [(1, "all"), (2, "all"), (3, "nik"), (4, "nik_region")])
def test_match_gives_what_the_plain_definition_gives(tmp_path: Path, seed: int, extract_columns: str) -> None:
    batch, extract_rows, snapshot_rows, prior_rows = _world(seed)
    names = {"all": ["nik", "kode_kemendagri", "desil_kesejahteraan"], "nik": ["nik"],
             "nik_region": ["nik", "kode_kemendagri"]}[extract_columns]
    extract_path, snapshot_path, prior_path = (tmp_path / f"{n}.parquet" for n in ("extract", "snapshot", "prior"))
    pq.write_table(pa.Table.from_pylist([{n: r[n] for n in names} for r in extract_rows]), extract_path)
    pq.write_table(pa.Table.from_pylist(snapshot_rows), snapshot_path)
    pq.write_table(pa.Table.from_pylist(prior_rows), prior_path)
    con = duckdb.connect()
    con.register("batch", pa.Table.from_pylist([{**r, "line": r["row"] + 1, "sheet": None, "mulai": None,
                                                 "selesai": None, "nilai": None} for r in batch]))
    con.execute("CREATE TEMP TABLE v AS SELECT row, line, sheet::VARCHAR AS sheet, nik, has_error, row_region, status, "
                "mulai::DATE AS mulai, selesai::DATE AS selesai, nilai::BIGINT AS nilai FROM batch")

    matching.match(con, matching.MatchInputs(
        program="padat_karya", extract=matching.extract_columns(extract_path), snapshot=snapshot_path,
        prior=[matching.PriorBatch("fb-prior", prior_path, 1)]))

    extract = _grouped(extract_rows, "kode_kemendagri" in names, "desil_kesejahteraan" in names)
    expected = _expected(batch, extract, _grouped(snapshot_rows, True, True), prior_rows)
    cursor = con.execute("SELECT row, class, base_class, repeat, first_row, duplicate_of, served, region, desil "
                         "FROM m ORDER BY row")
    columns = [d[0] for d in cursor.description]
    got = {r[0]: dict(zip(columns[1:], r[1:], strict=True)) for r in cursor.fetchall()}
    assert got == expected
    classes = {r["class"] for r in expected.values()}
    assert {"duplicate", "in_extract", "in_p3ke_not_delivered", "not_in_p3ke", "invalid_nik"} <= classes
