"""The matching engine: validation and matching of a staged feedback file with DuckDB, the keyed
references of the persons matched, and the delivered counts of an extract.

The staged rows (`raw`, see adapters.sources) are checked in one columnar pass (`chk`), reduced to the
fields kept (`v`), then matched (`m`) against the other current batches of the program, the handover's
extract and the P3KE snapshot. Only the snapshot's `nik`, `kode_kemendagri` and `desil_kesejahteraan`
columns are read, and only for the batch's NIKs that the extract does not place (a semi-join), so a 10^7-row
snapshot streams.
Only names from this module go into SQL text; values are parameters. A connection lives for one
operation, bounded in threads and memory (it spills to disk beyond the limit).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from p3ke_feedback.adapters.files import FileProblem
from p3ke_feedback.domain.cells import CELL_MEASURES
from p3ke_feedback.domain.findings import BY_CODE
from p3ke_feedback.domain.layout import COLUMNS
from p3ke_feedback.domain.vocabulary import PROGRAM_ALIASES, STATUS_ALIASES, MatchClass, Status
from p3ke_platform.duckdb_engine import hmac_keys, sql_path
from p3ke_platform.reference.wilayah import Regions

DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%Y/%m/%d", "%d.%m.%Y", "%Y-%m-%d %H:%M:%S",
                "%Y-%m-%dT%H:%M:%S"]
REGION_FORMAT = "[0-9]{2}([0-9]{2}([0-9]{2}([0-9]{4})?)?)?"


def _mask_nik(expr: str) -> str:
    return f"left({expr}, 4) || regexp_replace(substr({expr}, 5, 36), '[0-9]', '*', 'g')"


def _shown(expr: str) -> str:
    """A non-NIK value fit for a report: 40 characters, any run of 12+ digits masked."""
    return f"regexp_replace(left({expr}, 40), '([0-9]{{4}})[0-9]{{8,}}', '\\1********', 'g')"


_NIK_DATE_OK = """coalesce(
    TRY_CAST(substr(n16, 9, 2) AS INTEGER) BETWEEN 1 AND 12
    AND (CASE WHEN TRY_CAST(substr(n16, 7, 2) AS INTEGER) > 40 THEN TRY_CAST(substr(n16, 7, 2) AS INTEGER) - 40
              ELSE TRY_CAST(substr(n16, 7, 2) AS INTEGER) END)
        BETWEEN 1 AND [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][TRY_CAST(substr(n16, 9, 2) AS INTEGER)],
    false)"""

_REGION_OK = f"regexp_full_match(kw, '{REGION_FORMAT}')"
_APOSTROPHE_SET = "'''`\u2018\u2019'"  # a SQL string of the spreadsheet text markers
_APOSTROPHES = "'''', '`', '\u2018', '\u2019'"

# code -> (condition over `chk`, the value shown with the finding)
ROW_CHECKS: dict[str, tuple[str, str]] = {
    "row_malformed": ("malformed", "NULL"),
    "nik_missing": ("nik_error = 'nik_missing'", "NULL"),
    "nik_scientific": ("nik_error = 'nik_scientific'", _mask_nik("nik_raw")),
    "nik_apostrophe": ("nik_apos AND n0 <> ''", _mask_nik("n0")),
    "nik_separators": ("nik_sep", _mask_nik("nik_raw")),
    "nik_format": ("nik_error = 'nik_format'", _mask_nik("nik_raw")),
    "nik_province_unknown": ("nik_error = 'nik_province_unknown'", _mask_nik("nik_raw")),
    "nik_date_invalid": ("nik_error = 'nik_date_invalid'", _mask_nik("nik_raw")),
    "nik_serial_zero": ("nik_error = 'nik_serial_zero'", _mask_nik("nik_raw")),
    "nama_missing": ("nama_raw IS NULL", "NULL"),
    "kode_wilayah_missing": ("kw_raw IS NULL", "NULL"),
    "kode_wilayah_format": (f"kw_raw IS NOT NULL AND NOT {_REGION_OK}", _shown("kw_raw")),
    "kode_wilayah_unknown": (f"kw_raw IS NOT NULL AND {_REGION_OK} AND NOT kw_known", _shown("kw_raw")),
    "program_missing": ("program_raw IS NULL", "NULL"),
    "program_mismatch": ("program_raw IS NOT NULL AND coalesce(program_code, ptoken) <> $program",
                         _shown("program_raw")),
    "kegiatan_missing": ("kegiatan IS NULL", "NULL"),
    "value_too_long": ("coalesce(length(nama_raw) > 200, false) OR coalesce(length(kegiatan) > 500, false)",
                       "NULL"),
    "tanggal_mulai_missing": ("mulai_raw IS NULL", "NULL"),
    "tanggal_mulai_invalid": ("mulai_raw IS NOT NULL AND mulai IS NULL", _shown("mulai_raw")),
    "tanggal_selesai_invalid": ("selesai_raw IS NOT NULL AND selesai IS NULL", _shown("selesai_raw")),
    "tanggal_selesai_before_mulai": ("coalesce(selesai < mulai, false)", _shown("selesai_raw")),
    "tanggal_mulai_before_handover": ("coalesce(mulai < $signed_on, false)", _shown("mulai_raw")),
    "status_missing": ("status_raw IS NULL", "NULL"),
    "status_unknown": ("status_raw IS NOT NULL AND status_code IS NULL", _shown("status_raw")),
    "status_completed_without_end": ("status_code = 'completed' AND selesai_raw IS NULL", "NULL"),
    "nilai_manfaat_invalid": ("nilai_raw IS NOT NULL AND nilai IS NULL", _shown("nilai_raw")),
    "nilai_manfaat_negative": ("coalesce(nilai < 0, false)", _shown("nilai_raw")),
}
assert set(ROW_CHECKS) <= set(BY_CODE), set(ROW_CHECKS) - set(BY_CODE)


def register_vocabularies(con: duckdb.DuckDBPyConnection, regions: Regions) -> None:
    con.register("wilayah", regions.codes_table())
    con.register("provinces", regions.provinces_table())
    con.register("program_alias", pa.table({"alias": list(PROGRAM_ALIASES), "program": list(PROGRAM_ALIASES.values())}))
    con.register("status_alias", pa.table({"alias": list(STATUS_ALIASES),
                                           "status": [s.value for s in STATUS_ALIASES.values()]}))


SUMMARY = r"(?i)^\s*(jumlah|total|sub ?total|grand ?total|rekap(itulasi)?|keterangan|catatan|sumber|dicetak|printed)\b"
"""A row whose first value starts so, with nothing like a NIK in the NIK column, is a summary row under the table
("Jumlah Data: 5000", in whichever column)."""


def _summary_row() -> str:
    """SQL: the row of `raw` is a summary row (`SUMMARY`); the expression is only looked at when the NIK column
    holds no run of six digits (most rows do)."""
    return (f"CASE WHEN coalesce(regexp_matches(nik, '[0-9]{{6}}'), false) THEN false "
            f"ELSE coalesce(regexp_matches(concat_ws(' ', {', '.join(COLUMNS)}), $summary), false) END")


def _trimmed(field: str) -> str:
    """SQL: the field without surrounding spaces, NULL when empty. `trim` copies every value; most values have no
    space to take off and are kept as they are (0.5 s less over 9 fields of 10^6 rows)."""
    return (f"nullif(CASE WHEN starts_with({field}, ' ') OR ends_with({field}, ' ') THEN trim({field}) "
            f"ELSE {field} END, '')")


def skipped_rows(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """(blank rows, summary rows) of `raw`: not data, left out by `validate` (not rejected)."""
    every_blank = " AND ".join(f"nullif(trim({f}), '') IS NULL" for f in COLUMNS)
    # a row with a NIK is neither (most rows: the other fields are not looked at)
    blank = f"CASE WHEN trim(nik) <> '' THEN false ELSE {every_blank} AND coalesce(trim(__extra), '') = '' END"
    row = con.execute(f"""SELECT count(*) FILTER (WHERE {blank}), count(*) FILTER (WHERE {_summary_row()})
                          FROM raw""", {"summary": SUMMARY}).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def validate(con: duckdb.DuckDBPyConnection, *, program: str, signed_on: date, header_line: int | None) -> None:
    """From `raw` create `v`: the fields kept, `has_error`, and the row's findings (code and masked value).
    Blank rows and summary rows (`SUMMARY`, no NIK) are not data: left out (`skipped_rows` counts them).

    The trimmed rows that are data (`b`) are materialised once, as five parts of the query read them (left to
    DuckDB, each part filtered and trimmed the rows again: 1.8 s instead of 1.0 s for 10^6 rows); the checks'
    intermediate values live in the pipeline. Columns with few distinct values (dates, status, program, benefit
    value) are parsed once per distinct value and joined back; a well-formed NIK takes the fast path (one regular
    expression)."""
    line = f"{int(header_line)} + rowid + 1" if header_line is not None else "xline"
    raw = ", ".join(f"{_trimmed(f)} AS {f}" for f in COLUMNS)
    chk_sql = f"""
        WITH t AS (SELECT rowid + 1 AS row, {line} AS line, sheet, {raw},
                          coalesce(trim(__extra), '') <> '' AS malformed FROM raw),
        b AS MATERIALIZED (SELECT row, line, sheet, nik AS nik_raw, nama AS nama_raw, kode_wilayah AS kw_raw,
                     program AS program_raw, kegiatan, tanggal_mulai AS mulai_raw, tanggal_selesai AS selesai_raw,
                     status AS status_raw, nilai_manfaat AS nilai_raw, malformed
              FROM t WHERE (coalesce({", ".join(COLUMNS)}) IS NOT NULL AND NOT {_summary_row()})
                           OR malformed),
        dates AS (SELECT d, CASE WHEN year(v) BETWEEN 2000 AND 2100 THEN v END AS v FROM (
                      SELECT d, coalesce(TRY_CAST(d AS DATE), try_strptime(d, $formats)::DATE,
                                         TRY_CAST(d AS TIMESTAMP)::DATE) AS v
                      FROM (SELECT mulai_raw AS d FROM b UNION SELECT selesai_raw FROM b) WHERE d IS NOT NULL)),
        tokens AS (SELECT x, trim(regexp_replace(lower(x), '[^0-9a-z]+', '_', 'g'), '_') AS token
                   FROM (SELECT program_raw AS x FROM b UNION SELECT status_raw FROM b) WHERE x IS NOT NULL),
        amounts AS (SELECT x, CASE WHEN isfinite(v) AND abs(v) < 1e13 THEN v END AS v FROM (
                      SELECT x, CASE
                          WHEN regexp_full_match(nv, '[0-9]{{1,3}}(\\.[0-9]{{3}})+(,[0-9]+)?')
                              THEN TRY_CAST(replace(replace(nv, '.', ''), ',', '.') AS DOUBLE)
                          WHEN regexp_full_match(nv, '[0-9]{{1,3}}(,[0-9]{{3}})+(\\.[0-9]+)?')
                              THEN TRY_CAST(replace(nv, ',', '') AS DOUBLE)
                          WHEN regexp_full_match(nv, '-?[0-9]+,[0-9]{{1,2}}')
                              THEN TRY_CAST(replace(nv, ',', '.') AS DOUBLE)
                          ELSE TRY_CAST(nv AS DOUBLE) END AS v
                      FROM (SELECT x, regexp_replace(regexp_replace(lower(x), '^rp\\.?', ''), '[ ]', '', 'g') AS nv
                            FROM (SELECT DISTINCT nilai_raw AS x FROM b WHERE nilai_raw IS NOT NULL)))),
        n AS (SELECT b.*, coalesce(regexp_full_match(nik_raw, '[0-9]{{16}}'), false) AS nik_ok,
                     replace(replace(kw_raw, '.', ''), ' ', '') AS kw
              FROM b),
        c AS (
            SELECT n.*,
                CASE WHEN nik_ok THEN false ELSE coalesce(left(nik_raw, 1) IN ({_APOSTROPHES}), false) END
                    AS nik_apos,
                CASE WHEN nik_ok THEN nik_raw ELSE coalesce(ltrim(nik_raw, {_APOSTROPHE_SET}), '') END AS n0
            FROM n),
        d AS (
            SELECT c.*,
                CASE WHEN nik_ok THEN false ELSE regexp_full_match(n0, '[0-9]([.,][0-9]+)?[eE][+]?[0-9]+') END
                    AS nik_sci,
                CASE WHEN nik_ok THEN false ELSE
                    NOT regexp_full_match(n0, '[0-9]{{16}}') AND regexp_full_match(n0, '[0-9][0-9 .\\-]*[0-9]')
                    AND length(regexp_replace(n0, '[ .\\-]', '', 'g')) = 16 END AS nik_sep
            FROM c),
        e AS (SELECT d.*, CASE WHEN nik_sep THEN regexp_replace(n0, '[ .\\-]', '', 'g') ELSE n0 END AS n16 FROM d)
        SELECT e.*,
            CASE WHEN n0 = '' THEN 'nik_missing'
                 WHEN nik_sci THEN 'nik_scientific'
                 WHEN NOT (nik_ok OR regexp_full_match(n16, '[0-9]{{16}}')) THEN 'nik_format'
                 WHEN pv.kode IS NULL THEN 'nik_province_unknown'
                 WHEN NOT {_NIK_DATE_OK} THEN 'nik_date_invalid'
                 WHEN right(n16, 4) = '0000' THEN 'nik_serial_zero' END AS nik_error,
            w.kode IS NOT NULL AS kw_known, tp.token AS ptoken, pa.program AS program_code, sa.status AS status_code,
            dm.v AS mulai, ds.v AS selesai, am.v AS nilai
        FROM e
        LEFT JOIN provinces pv ON pv.kode = left(e.n16, 2)
        LEFT JOIN wilayah w ON w.kode = e.kw
        LEFT JOIN tokens tp ON tp.x = e.program_raw
        LEFT JOIN program_alias pa ON pa.alias = tp.token
        LEFT JOIN tokens ts ON ts.x = e.status_raw
        LEFT JOIN status_alias sa ON sa.alias = ts.token
        LEFT JOIN dates dm ON dm.d = e.mulai_raw
        LEFT JOIN dates ds ON ds.d = e.selesai_raw
        LEFT JOIN amounts am ON am.x = e.nilai_raw"""
    # each check is evaluated once, to a boolean column; whether the row has an error, and its findings, are read
    # from those columns
    flags = ", ".join(f"coalesce(({cond}), false) AS f_{code}" for code, (cond, _) in ROW_CHECKS.items())
    has_error = " OR ".join(f"f_{code}" for code in ROW_CHECKS if BY_CODE[code].severity == "error")
    anything = " OR ".join(f"f_{code}" for code in ROW_CHECKS)
    found = ", ".join(f"CASE WHEN f_{code} THEN {{'code': '{code}', 'value': ({value})::VARCHAR}} END"
                      for code, (_, value) in ROW_CHECKS.items())
    con.execute(f"""
        CREATE TEMP TABLE v AS WITH chk AS ({chk_sql}), flagged AS (SELECT *, {flags} FROM chk)
        SELECT row, line, sheet, CASE WHEN nik_error IS NULL THEN n16 END AS nik,
            ({has_error}) AS has_error,
            CASE WHEN kw_known THEN left(kw, 4) ELSE '' END AS row_region,
            status_code AS status, mulai, selesai, CAST(round(nilai) AS BIGINT) AS nilai,
            CASE WHEN {anything} THEN list_filter([{found}], lambda f: f IS NOT NULL) END AS findings
        FROM flagged""", {"program": program, "signed_on": signed_on, "formats": DATE_FORMATS, "summary": SUMMARY})
    con.execute("DROP TABLE raw")


@dataclass(frozen=True)
class FileColumns:
    """How to read an extract: its relation in SQL and which of the useful columns it has."""

    relation: str
    has_nik: bool
    region: str | None  # SQL for the 4-digit regency code, or None
    desil: str | None  # SQL for the desil, or None


def extract_columns(path: Path) -> FileColumns:
    with path.open("rb") as fh:
        parquet = fh.read(4) == b"PAR1"
    if parquet:
        try:
            names = set(pq.read_schema(path).names)
        except (pa.ArrowInvalid, OSError) as exc:
            raise FileProblem(f"the extract {path.name} is not a readable Parquet file ({type(exc).__name__})") \
                from None
        relation = f"read_parquet('{sql_path(path)}')"
    else:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            names = set(next(csv.reader(fh), []))
        if not names:
            raise FileProblem(f"the extract {path.name} is neither Parquet nor a CSV with a header")
        relation = f"read_csv('{sql_path(path)}', header=true, all_varchar=true)"
    return FileColumns(
        relation=relation, has_nik="nik" in names,
        region="left(kode_kemendagri, 4)" if "kode_kemendagri" in names else None,
        desil="TRY_CAST(desil_kesejahteraan AS INTEGER)" if "desil_kesejahteraan" in names else None)


SNAPSHOT_COLUMNS = ("nik", "kode_kemendagri", "desil_kesejahteraan")


def check_snapshot(path: Path, version: str) -> None:
    try:
        names = set(pq.read_schema(path).names)
    except (pa.ArrowInvalid, OSError) as exc:
        raise FileProblem(f"the snapshot of dataset version {version} is not a readable Parquet file "
                          f"({type(exc).__name__})") from None
    missing = [c for c in SNAPSHOT_COLUMNS if c not in names]
    if missing:
        raise FileProblem(f"the snapshot of dataset version {version} lacks column(s) {', '.join(missing)}")


@dataclass(frozen=True)
class PriorBatch:
    """Another current batch of the program and year: whom it counts as served is not counted again."""

    batch_id: str
    rows_file: Path
    order: int  # the order batches were received in (earlier first)
    promoted: tuple[int, ...] = ()  # its duplicate rows counted since (see `orphans`)
    period: str = ""  # its handover's period (where its cells are)


@dataclass(frozen=True)
class MatchInputs:
    program: str
    extract: FileColumns
    snapshot: Path
    prior: Sequence[PriorBatch] = ()


def register_prior(con: duckdb.DuckDBPyConnection, prior: Sequence[PriorBatch]) -> str:
    """Register the prior batches; return SQL for their rows (batch_id, ord, effective `counted`, the stored
    columns). A promoted row counts although it was stored as a duplicate."""
    con.register("prior_files", pa.table({"filename": [str(b.rows_file) for b in prior],
                                          "batch_id": [b.batch_id for b in prior],
                                          "ord": pa.array([b.order for b in prior], pa.int64())}))
    con.register("promoted", pa.table({"batch_id": [b.batch_id for b in prior for _ in b.promoted],
                                       "row": pa.array([r for b in prior for r in b.promoted], pa.int64())}))
    files = ", ".join(f"'{sql_path(b.rows_file)}'" for b in prior)
    return f"""SELECT f.batch_id, f.ord, r.*, r.served OR pr.row IS NOT NULL AS counted, pr.row IS NOT NULL AS promoted
               FROM read_parquet([{files}], filename=true) r JOIN prior_files f ON f.filename = r.filename
               LEFT JOIN promoted pr ON pr.batch_id = f.batch_id AND pr.row = r.row"""


def match(con: duckdb.DuckDBPyConnection, inputs: MatchInputs) -> None:
    """From `v` create `m`: every row with its match class, whether it counts as served, its cell.

    `base_class` is what the row is leaving duplicates aside; a duplicate's cell is its base class's, so
    that counting it later (see `orphans`) only moves figures within that cell. A person not handed over
    is counted in the region the row names, never the snapshot's (party 2 reads the regions); the
    snapshot's desil of a person in P3KE is kept for party 1's view only (`domain.report`).

    A person's first report is their first without an error, else their first; a later one `repeat`s it. The
    snapshot is looked up only for the NIKs the extract does not place (not in it, or without a region or a
    decile there): for most rows of a batch the extract answers, and the semi-join's build side is that much
    smaller (at 10^6 rows against a 10^7-row snapshot, the query takes 1.1 s instead of 1.5 s).
    """
    ext = inputs.extract
    params: dict[str, Any] = {}
    prior_sql = "SELECT NULL::VARCHAR AS nik, NULL::VARCHAR AS batch_id WHERE false"
    if inputs.prior:
        prior_sql = f"SELECT nik, batch_id FROM ({register_prior(con, inputs.prior)}) WHERE counted"
    ext_sql = "SELECT NULL::VARCHAR AS nik, NULL::VARCHAR AS region, NULL::INTEGER AS desil WHERE false"
    if ext.has_nik:
        ext_sql = (f"SELECT nik, min({ext.region or 'NULL'}) AS region, min({ext.desil or 'NULL'}) AS desil "
                   f"FROM {ext.relation} WHERE nik IN (SELECT nik FROM keys) GROUP BY nik")
    params["snapshot"] = str(inputs.snapshot)
    con.execute(f"""
        CREATE TEMP TABLE m AS
        WITH keys AS (SELECT nik, coalesce(min(row) FILTER (WHERE NOT has_error), min(row)) AS first_row
                      FROM v WHERE nik IS NOT NULL GROUP BY nik),
        prior AS (SELECT p.nik, min(p.batch_id) AS batch_id FROM ({prior_sql}) p
                  WHERE p.nik IN (SELECT nik FROM keys) GROUP BY p.nik),
        ext AS ({ext_sql}),
        unplaced AS (SELECT k.nik FROM keys k LEFT JOIN ext e ON e.nik = k.nik
                     WHERE e.nik IS NULL OR e.region IS NULL OR e.desil IS NULL),
        snap AS (SELECT nik, min(left(kode_kemendagri, 4)) AS region,
                        min(CAST(desil_kesejahteraan AS INTEGER)) AS desil
                 FROM read_parquet($snapshot) WHERE nik IN (SELECT nik FROM unplaced) GROUP BY nik),
        classed AS (
            SELECT v.*, v.row <> f.first_row AS repeat, f.first_row, p.batch_id AS dup_batch,
                e.region AS e_region, e.desil AS e_desil, s.region AS s_region, s.desil AS s_desil,
                coalesce(repeat OR p.nik IS NOT NULL, false) AS dup,
                CASE WHEN v.nik IS NULL THEN 'invalid_nik'
                     WHEN e.nik IS NOT NULL THEN 'in_extract'
                     WHEN s.nik IS NOT NULL THEN 'in_p3ke_not_delivered'
                     ELSE 'not_in_p3ke' END AS base_class
            FROM v LEFT JOIN keys f ON f.nik = v.nik LEFT JOIN prior p ON p.nik = v.nik
                   LEFT JOIN ext e ON e.nik = v.nik LEFT JOIN snap s ON s.nik = v.nik)
        SELECT row, line, sheet, nik, has_error, repeat, first_row, dup_batch, base_class,
            CASE WHEN dup THEN 'duplicate' ELSE base_class END AS class,
            CASE WHEN NOT repeat AND dup THEN dup_batch END AS duplicate_of,
            NOT has_error AND NOT dup AND base_class <> 'invalid_nik' AS served,
            CASE base_class WHEN 'in_extract' THEN coalesce(e_region, s_region, row_region)
                            ELSE row_region END AS region,
            CASE base_class WHEN 'in_extract' THEN coalesce(e_desil, s_desil, 0)
                            WHEN 'in_p3ke_not_delivered' THEN coalesce(s_desil, 0)
                            ELSE 0 END AS desil,
            status, mulai, selesai, nilai
        FROM classed""", params)


@dataclass(frozen=True)
class Promotion:
    """A row stored as a duplicate that now counts: the row it repeated is gone (its batch was superseded)."""

    batch_id: str
    row: int
    region: str
    desil: int
    base_class: str
    status: str | None
    nilai_manfaat: int | None


def orphans(con: duckdb.DuckDBPyConnection, prior: Sequence[PriorBatch]) -> list[Promotion]:
    """After `m` supersedes a batch (not among `prior`): the duplicates in `prior` whose person is now
    counted nowhere; the earliest received one per person is to count from now on."""
    if not prior:
        return []
    rows = con.execute(f"""
        WITH cur AS ({register_prior(con, prior)}),
        counted AS (SELECT nik FROM cur WHERE counted UNION SELECT nik FROM m WHERE served),
        candidates AS (SELECT * FROM cur WHERE duplicate_of IS NOT NULL AND NOT rejected AND NOT promoted
                       AND nik NOT IN (SELECT nik FROM counted)),
        picked AS (SELECT *, row_number() OVER (PARTITION BY nik ORDER BY ord, row) AS pick FROM candidates)
        SELECT batch_id, row, region, CAST(desil AS INTEGER), base_class, status, nilai_manfaat
        FROM picked WHERE pick = 1 ORDER BY batch_id, row""").fetchall()
    return [Promotion(str(b), int(r), str(reg), int(d), str(c), s, None if v is None else int(v))
            for b, r, reg, d, c, s, v in rows]


@dataclass
class Outcome:
    rows: int
    rejected: int
    served: int
    by_class: dict[str, int]
    by_status: dict[str, int]
    by_province: dict[str, int]
    by_code: dict[str, int] = field(default_factory=dict)
    cells: list[dict[str, Any]] = field(default_factory=list)  # per (region, desil): CELL_MEASURES


def outcome(con: duckdb.DuckDBPyConnection) -> Outcome:
    classes = ", ".join(f"count(*) FILTER (class = '{c.value}') AS cls_{c.value}" for c in MatchClass)
    statuses = ", ".join(f"count(*) FILTER (served AND status = '{s.value}') AS st_{s.value}" for s in Status)
    relation = con.sql(f"""
        SELECT region, desil, count(*) AS rows, count(*) FILTER (has_error) AS rejected, {classes},
               count(*) FILTER (served) AS served,
               count(*) FILTER (served AND class = 'in_extract') AS served_in_extract,
               {statuses}, coalesce(sum(nilai) FILTER (served), 0) AS benefit_value
        FROM m GROUP BY region, desil ORDER BY region, desil""")
    names = relation.columns
    cells = [{n: (v if n == "region" else int(v)) for n, v in zip(names, row, strict=True)}
             for row in relation.fetchall()]
    total = {k: sum(c[k] for c in cells) for k in CELL_MEASURES}
    by_province: dict[str, int] = {}
    for c in cells:
        if c["served"]:
            key = c["region"][:2] or "unknown"
            by_province[key] = by_province.get(key, 0) + c["served"]
    return Outcome(
        rows=total["rows"], rejected=total["rejected"], served=total["served"],
        by_class={c.value: total[f"cls_{c.value}"] for c in MatchClass if total[f"cls_{c.value}"]},
        by_status={s.value: total[f"st_{s.value}"] for s in Status if total[f"st_{s.value}"]},
        by_province=dict(sorted(by_province.items())), cells=cells)


def findings_sql() -> str:
    """Every finding of the batch, from `v` (the row checks) and `m` (duplicates), masked."""
    return f"""
        SELECT row, line, sheet, f.code AS code, f.value AS value, NULL::VARCHAR AS detail
        FROM (SELECT row, line, sheet, unnest(findings) AS f FROM v WHERE findings IS NOT NULL)
        UNION ALL SELECT row, line, sheet, 'duplicate_in_batch', {_mask_nik('nik')},
                         'first reported in row ' || first_row FROM m WHERE repeat
        UNION ALL SELECT row, line, sheet, 'duplicate_across_batches', {_mask_nik('nik')},
                         'reported in batch ' || dup_batch FROM m WHERE NOT repeat AND dup_batch IS NOT NULL"""


def write_findings(con: duckdb.DuckDBPyConnection, path: Path) -> dict[str, int]:
    """Write the findings (row, line, sheet, code, value, detail) to `path`; return counts by code."""
    con.execute(f"CREATE TEMP TABLE f AS {findings_sql()}")
    con.execute(f"COPY (SELECT * FROM f ORDER BY row, code) TO '{sql_path(path)}' "
                f"(FORMAT parquet, COMPRESSION zstd)")
    counts = con.execute("SELECT code, count(*) FROM f GROUP BY code ORDER BY code").fetchall()
    return {str(c): int(n) for c, n in counts}


ROWS_FILE_COLUMNS = ("row", "line", "nik", "class", "base_class", "duplicate_of", "rejected", "served", "region",
                     "desil", "status", "tanggal_mulai", "tanggal_selesai", "nilai_manfaat")
"""What a batch keeps per row (no name, no free text: those stay in the uploaded file as received)."""


def write_rows(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """The matched rows as kept (no name): what reports are recomputed from and duplicates checked against."""
    con.execute(f"""COPY (SELECT row, line, nik, class, base_class, duplicate_of, has_error AS rejected, served,
                                 region, CAST(desil AS TINYINT) AS desil, status, mulai AS tanggal_mulai,
                                 selesai AS tanggal_selesai, nilai AS nilai_manfaat
                          FROM m ORDER BY row) TO '{sql_path(path)}' (FORMAT parquet, COMPRESSION zstd)""")


def subject_refs(con: duckdb.DuckDBPyConnection, hash_key: str, batch: int = 10_000) -> Iterator[str]:
    """HMAC-SHA256(key, NIK) of every distinct valid NIK of the batch (the audit log's subject_ref), one at a
    time: DuckDB hands them over `batch` at a time, so a million never sit in memory at once."""
    opad, ipad = hmac_keys(hash_key)
    reader = con.sql("SELECT DISTINCT sha256($opad::BLOB || unhex(sha256($ipad::BLOB || encode(nik)))) AS ref "
                     "FROM m WHERE nik IS NOT NULL", params={"opad": opad, "ipad": ipad}).to_arrow_reader(batch)
    for chunk in reader:
        yield from chunk.column(0).to_pylist()


def delivered(con: duckdb.DuckDBPyConnection, extract: FileColumns,
              snapshot: Path | None) -> list[tuple[str, int, int]]:
    """(regency, desil, persons) of an extract: its own region/desil columns, else the snapshot's by NIK."""
    need_snapshot = ext_needs_snapshot(extract)
    if need_snapshot and snapshot is None:
        raise ValueError("the extract needs the snapshot for its regions or deciles")
    if need_snapshot:
        sql = f"""
            WITH e AS (SELECT nik, {extract.region or 'NULL'} AS region, {extract.desil or 'NULL'} AS desil
                       FROM {extract.relation}),
                 s AS (SELECT nik, min(left(kode_kemendagri, 4)) AS region,
                              min(CAST(desil_kesejahteraan AS INTEGER)) AS desil
                       FROM read_parquet($snapshot) WHERE nik IN (SELECT nik FROM e) GROUP BY nik)
            SELECT coalesce(e.region, s.region, '') AS region, coalesce(e.desil, s.desil, 0) AS desil, count(*)
            FROM e LEFT JOIN s ON s.nik = e.nik GROUP BY ALL ORDER BY 1, 2"""
        rows = con.execute(sql, {"snapshot": str(snapshot)}).fetchall()
    else:
        rows = con.execute(f"""SELECT coalesce({extract.region or "''"}, '') AS region,
                                      coalesce({extract.desil or '0'}, 0) AS desil, count(*)
                               FROM {extract.relation} GROUP BY ALL ORDER BY 1, 2""").fetchall()
    return [(str(r), int(d), int(n)) for r, d, n in rows]


def ext_needs_snapshot(extract: FileColumns) -> bool:
    return extract.has_nik and (extract.region is None or extract.desil is None)
