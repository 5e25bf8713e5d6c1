"""The validation engine (DuckDB): read, check, de-duplicate, sort and write a snapshot, streaming.

Three passes per file, each a single SQL statement that DuckDB runs in parallel within a memory limit
(spilling to the job's directory when it needs more). The passes that write a file stream the statement's rows to
a Parquet writer in another thread (``p3ke_platform.parquet_stream``), in the statement's order:

1. *stage*: the file (CSV, Parquet, or XLSX already staged as Parquet) is read once and every row is
   normalised and checked on its own (NIK structure and consistency with birth date and sex, dates,
   decile range, required fields, ...). Problems are bits in two integer columns, so a row carries
   its findings at the cost of 12 bytes. The result goes to a staging Parquet file *in file order*,
   so a staged row's position is its data row (CSV lines DuckDB could not parse are counted back in
   from its rejects table).
2. *check*: what needs more than one row: region codes against the reference table, NIK districts,
   duplicate NIKs (the first occurrence wins; a later one is ``duplicate_row`` when it is an exact
   copy, else ``duplicate_nik``), individuals whose family is not in the family file. Findings are
   collected in a small table and written, masked, to the report.
3. *write*: the rows without an error, sorted by region code (then file order, which keeps families
   together), to a zstd Parquet file with typed, normalised columns. Region filters prune row groups.

Nothing here decides whether a version is published (``domain.acceptance``) or touches the service
database (``service_layer``).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from p3ke_ingest import p3ke_columns as cols
from p3ke_ingest.adapters.sources import Source
from p3ke_ingest.domain.findings import BY_CODE, mask_value
from p3ke_ingest.domain.nik import APOSTROPHES, SCIENTIFIC, SEPARATED, WS
from p3ke_platform.i18n import Lang
from p3ke_platform.parquet_stream import write_query
from p3ke_platform.tabular.errors import explain
from p3ke_platform.tabular.sources import DELIMITER_NAMES

MALE = ("laki-laki", "laki laki", "lakilaki", "l", "lk", "pria", "m", "male", "1")
FEMALE = ("perempuan", "p", "pr", "wanita", "f", "female", "2")
YES = ("ya", "y", "1", "true", "iya")
NO = ("tidak", "t", "0", "false", "tdk", "n", "no")
SCI = SCIENTIFIC.pattern
SEP = SEPARATED.pattern
DATE_FORMATS = ("%d-%m-%Y", "%d/%m/%Y", "%Y/%m/%d", "%d.%m.%Y")  # besides ISO; day first, as in Indonesia

# -- problem bits found row by row in pass 1 --------------------------------------------------------------
ROW_BITS: tuple[str, ...] = (
    "nik_missing", "nik_scientific", "nik_apostrophe", "nik_separators", "nik_format", "nik_date_invalid",
    "nik_serial_zero", "birthdate_mismatch", "sex_mismatch", "tanggal_lahir_invalid", "tanggal_lahir_future",
    "jenis_kelamin_invalid", "region_format", "desil_invalid", "desil_out_of_range", "no_kk_scientific",
    "no_kk_apostrophe", "no_kk_format", "persentil_out_of_range", "umur_invalid", "hubungan_unknown",
    "value_too_long", "id_keluarga_p3ke_missing", "id_individu_missing", "nama_missing",
    "kepala_keluarga_missing", "hubungan_dengan_kepala_keluarga_missing", "blank_row", "summary_row",
)  # fmt: skip
BIT = {code: i for i, code in enumerate(ROW_BITS)}
ERROR_MASK = sum(1 << i for code, i in BIT.items() if BY_CODE[code].severity == "error")
SKIP_MASK = (1 << BIT["blank_row"]) | (1 << BIT["summary_row"])  # rows that are not data: left out, not rejected
SUMMARY = r"(?i)^\s*(jumlah|total|sub ?total|grand ?total|rekap(itulasi)?|keterangan|catatan|sumber|dicetak|printed)\b"
"""A row whose first value starts so, with nothing like a NIK in the NIK column, is a summary row under the table
("Jumlah Data: 5000", in whichever column)."""
SHARE = 0.5  # a check failing on this share of a file's rows is a file-level problem (a column systematically wrong)
MALFORMED = {"LINE SIZE OVER MAXIMUM": "line_too_long", "TOO MANY COLUMNS": "too_many_columns",
             "MISSING COLUMNS": "missing_columns", "UNQUOTED VALUE": "unquoted_value",
             "INVALID UNICODE": "invalid_unicode"}
"""DuckDB's reject error types -> the catalogue's ``row_malformed.<reason>``."""
# the raw value shown (masked) in a finding, per field that row checks look at
RAW_FIELDS = ("nik", "no_kk", "tanggal_lahir", "jenis_kelamin", "kode_kemendagri", "desil_kesejahteraan",
              "persentil", "umur", "hubungan_dengan_kepala_keluarga")


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def lits(values: tuple[str, ...] | list[str]) -> str:
    return ", ".join(lit(v) for v in values)


def bit(code: str) -> int:
    return 1 << BIT[code]


@dataclass(frozen=True)
class Rules:
    desil_min: int = 1
    desil_max: int = 4
    persentil_max: int = 40
    max_field_bytes: int = 1000
    max_line_bytes: int = 2 * 2**20
    reference_date: dt.date = field(default_factory=dt.date.today)


@dataclass
class FileResult:
    label: str
    name: str
    rows: int = 0  # data rows, malformed lines included
    rejected: int = 0
    published: int = 0
    findings: int = 0
    by_code: dict[str, int] = field(default_factory=dict)
    snapshot: Path | None = None
    counts_by_desil: dict[str, int] = field(default_factory=dict)
    counts_by_province: dict[str, int] = field(default_factory=dict)
    families: int = 0


Progress = Callable[[str, float], None]


class Engine:
    """One DuckDB connection for one job, with its memory limit and spill directory."""

    def __init__(self, work: Path, *, memory_mb: int = 1024, threads: int = 0, rules: Rules | None = None) -> None:
        self.work = work
        self.rules = rules or Rules()
        tmp = work / "spill"
        tmp.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(config={"memory_limit": f"{memory_mb}MB", "temp_directory": str(tmp),
                                          "preserve_insertion_order": True})
        if threads:
            self.con.execute(f"SET threads={int(threads)}")
        self.con.execute("SET enable_progress_bar=false")
        # The in_clause optimizer turns a long IN list into a hash join, and a join does not keep the
        # order of its input: pass 1 must keep file order (a row's position is its row number).
        self.con.execute("SET disabled_optimizers = 'in_clause'")
        self._lock = threading.Lock()
        self._load_reference()

    def close(self) -> None:
        self.con.close()

    def progress(self) -> float:
        """The running statement's progress, 0..1 (0 when unknown)."""
        try:
            value = self.con.query_progress()
        except Exception:  # no statement running, or a closed connection
            return 0.0
        return max(0.0, min(1.0, value / 100.0)) if value and value > 0 else 0.0

    def _load_reference(self) -> None:
        from p3ke_platform.reference.wilayah import wilayah_csv_text

        path = self.work / "wilayah.csv"
        path.write_text(wilayah_csv_text(), encoding="utf-8")
        self.con.execute(f"""CREATE TEMP TABLE ref AS SELECT kode::VARCHAR AS code, tingkat::INTEGER AS level
            FROM read_csv({lit(str(path))}, header=true,
                          columns={{'kode': 'VARCHAR', 'nama': 'VARCHAR', 'tingkat': 'VARCHAR'}})""")

    # -- pass 1 ------------------------------------------------------------------------------------------
    def _relation(self, src: Source) -> tuple[str, list[str]]:
        """SQL reading the file in order with one text column per layout field; and extra columns."""
        names = [c for c in cols.columns(src.label)]
        present = src.layout.positions
        if src.fmt == "csv":
            width = src.layout.width
            spec = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width)) + "}"
            reader = (f"read_csv({lit(str(src.path))}, header=false, skip={src.header_line}, "
                      f"delim={lit(src.delimiter)}, quote='\"', escape='\"', columns={spec}, auto_detect=false, "
                      f"store_rejects=true, "
                      f"rejects_table={lit('rejects_' + src.label)}, rejects_scan={lit('scan_' + src.label)}, "
                      f"max_line_size={self.rules.max_line_bytes}, encoding={lit(src.encoding)}, strict_mode=true, "
                      f"null_padding=false)")
            select = [f"c{present[n]} AS {q(n)}" if n in present else f"NULL::VARCHAR AS {q(n)}" for n in names]
            return f"SELECT {', '.join(select)} FROM {reader}", []
        if src.fmt == "xlsx":
            assert src.staged is not None
            select = [f"{q(n)}" if n in present else f"NULL::VARCHAR AS {q(n)}" for n in names]
            staged = f"read_parquet({lit(str(src.staged))})"
            return f"SELECT {', '.join(select)}, _line, _sheet FROM {staged}", ["_line", "_sheet"]
        headers = src.layout.headers
        select = []
        for n in names:
            if n not in present:
                select.append(f"NULL::VARCHAR AS {q(n)}")
            elif n in src.numeric_identity:
                select.append(f"printf('%.14E', {q(headers[present[n]])}) AS {q(n)}")
            else:
                select.append(f"CAST({q(headers[present[n]])} AS VARCHAR) AS {q(n)}")
        return f"SELECT {', '.join(select)} FROM read_parquet({lit(str(src.path))})", []

    def stage(self, src: Source) -> Path:
        """Pass 1: normalise and check every row on its own; write the staging file in file order.

        The common case is made cheap: a value already in canonical form (16 digits, 'Ya', an ISO
        date, ...) takes one comparison; only the others are trimmed, parsed and named.
        """
        names = list(cols.columns(src.label))
        relation, extra = self._relation(src)
        r = self.rules
        ws = lit(WS)
        apos = lit(APOSTROPHES)
        fmt_list = "[" + lits(list(DATE_FORMATS)) + "]"
        keep_extra = "".join(f", {e}" for e in extra)

        def blank(x: str) -> str:
            """NULL, empty or only whitespace (trimmed only when it starts with whitespace)."""
            return (f"(CASE WHEN {x} IS NULL THEN true WHEN ascii({x}) IN (9, 32, 160) THEN trim({x}, {ws}) = '' "
                    f"ELSE false END)")

        def identity(p: str, x: str) -> str:
            """{p}_ok (already 16 digits), {p}_t (trimmed), {p}_a (apostrophe removed) of a NIK or No. KK."""
            t = f"CASE WHEN {p}_ok THEN {x} ELSE NULLIF(trim({x}, {ws}), '') END"
            return (f"{p}_ok, {t} AS {p}_t, CASE WHEN {p}_ok THEN {x} WHEN contains({apos}, left({t}, 1)) "
                    f"THEN NULLIF(trim(ltrim({t}, {apos}), {ws}), '') ELSE {t} END AS {p}_a")

        def digits16(p: str) -> str:
            return (f"CASE WHEN {p}_ok THEN {p}_a WHEN regexp_full_match({p}_a, '[0-9]{{16}}') THEN {p}_a "
                    f"WHEN regexp_full_match({p}_a, {lit(SEP)}) AND "
                    rf"length(regexp_replace({p}_a, '[ .\-]', '', 'g')) = 16 "
                    rf"THEN regexp_replace({p}_a, '[ .\-]', '', 'g') END AS {p}_d")

        def whole(x: str) -> str:
            if x not in names:
                return "NULL::INTEGER"
            x = q(x)
            return (f"COALESCE(TRY_CAST({x} AS INTEGER), CASE WHEN TRY_CAST({x} AS DOUBLE) = "
                    f"round(TRY_CAST({x} AS DOUBLE)) AND abs(TRY_CAST({x} AS DOUBLE)) < 1e9 "
                    f"THEN TRY_CAST(TRY_CAST({x} AS DOUBLE) AS INTEGER) END)")

        level0 = (f"SELECT *, regexp_full_match(nik, '[0-9]{{16}}') AS nik_ok, "
                  f"regexp_full_match(no_kk, '[0-9]{{16}}') AS kk_ok, "
                  f"regexp_full_match(kode_kemendagri, '[0-9]{{10}}') AS kode_ok FROM ({relation}) AS src")
        hub = "hubungan_dengan_kepala_keluarga"
        sex = f"lower(trim(jenis_kelamin, {ws}))"
        hub_known = lits(list(cols.HUBUNGAN_DENGAN_KEPALA_KELUARGA))
        level1 = f"""SELECT *, {identity("nik", "nik")}, {identity("kk", "no_kk")},
            CASE WHEN tanggal_lahir IS NULL THEN NULL ELSE COALESCE(TRY_CAST(tanggal_lahir AS DATE),
                 TRY_CAST(left(trim(tanggal_lahir, {ws}), 10) AS DATE),
                 TRY_CAST(try_strptime(trim(tanggal_lahir, {ws}), {fmt_list}) AS DATE)) END AS tl,
            CASE WHEN jenis_kelamin IN ({lit(cols.LAKI_LAKI)}, {lit(cols.PEREMPUAN)}) THEN jenis_kelamin
                 WHEN list_contains([{lits(MALE)}], {sex}) THEN {lit(cols.LAKI_LAKI)}
                 WHEN list_contains([{lits(FEMALE)}], {sex}) THEN {lit(cols.PEREMPUAN)} END AS jk,
            CASE WHEN kode_ok THEN kode_kemendagri ELSE replace(NULLIF(trim(kode_kemendagri, {ws}), ''), '.', '') END
                 AS kode_s,
            {whole("desil_kesejahteraan")} AS desil_i, {whole("persentil")} AS persentil_i, {whole("umur")} AS umur_i
            FROM ({level0}) AS l0"""
        level2 = f"SELECT *, {digits16('nik')}, {digits16('kk')} FROM ({level1}) AS l1"
        level3 = (f"SELECT *, TRY_CAST(substr(nik_d, 7, 2) AS INTEGER) AS nik_dd, "
                  f"TRY_CAST(substr(nik_d, 9, 2) AS INTEGER) AS nik_mm, "
                  f"TRY_CAST(substr(nik_d, 11, 2) AS INTEGER) AS nik_yy FROM ({level2}) AS l2")

        month_days = "[31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]"
        nik_day = "(CASE WHEN nik_dd > 40 THEN nik_dd - 40 ELSE nik_dd END)"
        nik_date_ok = f"(nik_mm BETWEEN 1 AND 12 AND {nik_day} BETWEEN 1 AND {month_days}[nik_mm])"
        ref_date = f"DATE '{r.reference_date.isoformat()}'"
        tl_ok = f"(tl IS NOT NULL AND tl >= DATE '1900-01-01' AND tl <= {ref_date})"
        same_date = f"({nik_day} = day(tl) AND nik_mm = month(tl) AND nik_yy = year(tl) % 100)"
        sci = lit(SCI)
        name_col = "nama" if src.label == "individual" else "kepala_keluarga"
        long_cols = [c for c in ("alamat", name_col) if c in names]
        terms = [
            ("nik_missing", "nik_t IS NULL"),
            ("nik_apostrophe", f"NOT nik_ok AND contains({apos}, left(nik_t, 1))"),
            ("nik_scientific", f"CASE WHEN nik_ok THEN false ELSE regexp_full_match(nik_a, {sci}) END"),
            ("nik_separators", "CASE WHEN nik_ok OR nik_d IS NULL THEN false "
                               "ELSE NOT regexp_full_match(nik_a, '[0-9]{16}') END"),
            ("nik_format", f"CASE WHEN nik_ok OR nik_t IS NULL OR nik_d IS NOT NULL THEN false "
                           f"ELSE nik_a IS NULL OR NOT regexp_full_match(nik_a, {sci}) END"),
            ("nik_date_invalid", f"nik_d IS NOT NULL AND NOT {nik_date_ok}"),
            ("nik_serial_zero", "nik_d IS NOT NULL AND right(nik_d, 4) = '0000'"),
            ("birthdate_mismatch", f"nik_d IS NOT NULL AND {nik_date_ok} AND tl IS NOT NULL AND NOT {same_date}"),
            ("sex_mismatch", f"nik_d IS NOT NULL AND {nik_date_ok} AND tl IS NOT NULL AND jk IS NOT NULL AND "
                             f"{same_date} AND (nik_dd > 40) <> (jk = {lit(cols.PEREMPUAN)})"),
            ("tanggal_lahir_invalid", "tl IS NULL OR tl < DATE '1900-01-01'"),
            ("tanggal_lahir_future", f"tl > {ref_date}"),
            ("jenis_kelamin_invalid", "jk IS NULL"),
            ("region_format", "CASE WHEN kode_ok THEN false WHEN kode_s IS NULL THEN true "
                              "ELSE NOT regexp_full_match(kode_s, '[0-9]{10}') END"),
            ("desil_invalid", "desil_i IS NULL"),
            ("desil_out_of_range", f"desil_i NOT BETWEEN {r.desil_min} AND {r.desil_max}"),
            ("no_kk_apostrophe", f"NOT kk_ok AND contains({apos}, left(kk_t, 1))"),
            ("no_kk_scientific", f"CASE WHEN kk_ok OR kk_a IS NULL THEN false ELSE regexp_full_match(kk_a, {sci}) END"),
            ("no_kk_format", f"CASE WHEN kk_ok OR kk_t IS NULL OR kk_d IS NOT NULL THEN false "
                             f"ELSE kk_a IS NULL OR NOT regexp_full_match(kk_a, {sci}) END"),
            ("persentil_out_of_range", f"persentil IS NOT NULL AND (persentil_i IS NULL OR persentil_i NOT BETWEEN "
                                       f"1 AND {r.persentil_max}) AND NOT {blank('persentil')}"),
            ("value_too_long", " OR ".join(f"strlen({q(c)}) > {r.max_field_bytes}" for c in long_cols)),
            ("id_keluarga_p3ke_missing", blank("id_keluarga_p3ke")),
            (f"{name_col}_missing", blank(name_col)),
        ]
        if src.label == "individual":
            terms += [
                ("umur_invalid", f"umur IS NOT NULL AND (umur_i IS NULL OR umur_i NOT BETWEEN 0 AND 150) "
                                 f"AND NOT {blank('umur')}"),
                ("id_individu_missing", blank("id_individu")),
                (f"{hub}_missing", blank(hub)),
                ("hubungan_unknown", f"{hub} IS NOT NULL AND NOT list_contains([{hub_known}], {hub}) AND "
                                     f"NOT {blank(hub)} AND NOT list_contains([{hub_known}], trim({hub}, {ws}))"),
            ]
        err = " + ".join(f"(CASE WHEN {cond} THEN {bit(code)} ELSE 0 END)" for code, cond in terms)
        present = [n for n in names if n in src.layout.positions] or names
        is_blank = " AND ".join(blank(q(n)) for n in present)
        first_values = "concat_ws(' ', " + ", ".join(q(n) for n in present) + ")"
        is_summary = (f"(NOT coalesce(regexp_matches(nik_t, '[0-9]{{6}}'), false) "
                      f"AND regexp_matches({first_values}, {lit(SUMMARY)}))")
        err = (f"CASE WHEN {is_blank} THEN {bit('blank_row')} WHEN {is_summary} THEN {bit('summary_row')} "
               f"ELSE {err} END")
        flags = [n for n in names if cols.column_spec(n).kind == "flag"]
        flag_err = " + ".join(
            f"(CASE WHEN {q(n)} IS NULL OR {q(n)} IN ('Ya', 'Tidak') THEN 0 WHEN {self._flag(q(n))} IS NULL "
            f"AND NOT {blank(q(n))} THEN {1 << i} ELSE 0 END)" for i, n in enumerate(flags)) or "0"
        long_field = ("CASE " + " ".join(f"WHEN strlen({q(c)}) > {r.max_field_bytes} THEN {lit(c)}" for c in long_cols)
                      + " END")
        level4 = (f"SELECT *, CAST({err} AS BIGINT) AS err, CAST({flag_err} AS INTEGER) AS flag_err "
                  f"FROM ({level3}) AS l3")

        out = []
        for n in names:
            kind = cols.column_spec(n).kind
            if n == "nik":
                out.append(f"nik_d AS {q(n)}")
            elif n == "no_kk":
                out.append(f"kk_d AS {q(n)}")
            elif n == "tanggal_lahir":
                out.append(f"CASE WHEN {tl_ok} THEN tl END AS {q(n)}")
            elif n == "jenis_kelamin":
                out.append(f"jk AS {q(n)}")
            elif n == "kode_kemendagri":
                out.append(f"kode_s AS {q(n)}")
            elif n == "desil_kesejahteraan":
                out.append(f"CAST(CASE WHEN desil_i BETWEEN -128 AND 127 THEN desil_i END AS TINYINT) AS {q(n)}")
            elif n == "persentil":
                out.append(f"CAST(CASE WHEN persentil_i BETWEEN 1 AND {r.persentil_max} THEN persentil_i END "
                           f"AS TINYINT) AS {q(n)}")
            elif n == "umur":
                out.append(f"CAST(CASE WHEN umur_i BETWEEN 0 AND 150 THEN umur_i END AS SMALLINT) AS {q(n)}")
            elif kind == "flag":
                out.append(f"CASE WHEN {q(n)} = 'Ya' THEN true WHEN {q(n)} = 'Tidak' THEN false "
                           f"ELSE {self._flag(q(n))} END AS {q(n)}")
            elif n == hub:
                out.append(f"CASE WHEN list_contains([{hub_known}], {q(n)}) THEN {q(n)} "
                           f"ELSE NULLIF(trim({q(n)}, {ws}), '') END AS {q(n)}")
            elif kind == "id":
                out.append(f"CASE WHEN {blank(q(n))} THEN NULL ELSE {q(n)} END AS {q(n)}")
            else:
                out.append(q(n))
        raws = []
        for f in RAW_FIELDS:
            if f not in names:
                continue
            mask = sum(bit(c) for c in ROW_BITS if BY_CODE[c].field == f)
            raws.append(f"CASE WHEN err & {mask} <> 0 THEN {q(f)} END AS {q('raw_' + f)}")
        outputs = ", ".join([*out, "err", "flag_err", f"CASE WHEN err & {bit('value_too_long')} <> 0 THEN "
                             f"({long_field}) END AS long_field", *raws, *extra])
        sql = f"SELECT {outputs} FROM ({level4}) AS l4"
        del keep_extra
        target = self.work / f"{src.label}-stage.parquet"
        self._assert_streaming(sql)
        # smaller batches than the snapshot's row groups: the staged rows are wide (every raw value) and three batches
        # are in memory at once beside DuckDB's own limit
        write_query(self.con, sql, target, compression="lz4", row_group_size=65_536, depth=1)
        return target

    def _assert_streaming(self, sql: str) -> None:
        """Pass 1 may only read, project and write: anything else could reorder the rows."""
        plan = self.con.execute(f"EXPLAIN {sql}").fetchall()[0][1]
        operators = set(re.findall(r"[╭┌]─+ ?([A-Za-z_ ]+?) ?─", plan))
        unexpected = operators - {"Copy To File", "Projection", "Read Csv", "Read Parquet", "Table Scan",
                                  "COPY_TO_FILE", "PROJECTION", "READ_CSV", "READ_PARQUET", "TABLE_SCAN"}
        if unexpected or not operators:
            raise RuntimeError(f"internal error: pass 1 would not keep file order ({', '.join(sorted(unexpected))})")

    @staticmethod
    def _flag(raw: str) -> str:
        """The slow path of a yes/no value (the fast path compares with 'Ya' and 'Tidak')."""
        norm = f"lower(trim({raw}, {lit(WS)}))"
        return (f"CASE WHEN list_contains([{lits(YES)}], {norm}) THEN true "
                f"WHEN list_contains([{lits(NO)}], {norm}) THEN false END")

    # -- pass 2 ------------------------------------------------------------------------------------------
    def check(self, src: Source, staged: Path, family_staged: Path | None = None) -> FileResult:
        """Pass 2: cross-row checks; the findings (masked) and the rejected rows of one file."""
        label = src.label
        s = f"read_parquet({lit(str(staged))}, file_row_number=true)"
        con = self.con
        result = FileResult(label, src.name)
        # every row with a row-level problem, with what a finding needs
        raw_cols = [f"raw_{f}" for f in RAW_FIELDS if f in cols.columns(label)]
        con.execute(f"""CREATE OR REPLACE TEMP TABLE bad_{label} AS SELECT file_row_number AS r, err, flag_err,
            long_field, {', '.join(raw_cols)} FROM {s} WHERE err <> 0 OR flag_err <> 0""")
        # findings table: r (staged position) or line (malformed lines), field, code, value
        con.execute(f"""CREATE OR REPLACE TEMP TABLE f_{label} (r BIGINT, line BIGINT, field VARCHAR, code VARCHAR,
            value VARCHAR, ref_r BIGINT)""")
        for code in ROW_BITS:
            fld = BY_CODE[code].field
            if code == "value_too_long":
                con.execute(f"INSERT INTO f_{label} SELECT r, NULL, long_field, {lit(code)}, NULL, NULL "
                            f"FROM bad_{label} WHERE err & {bit(code)} <> 0")
                continue
            value = f"raw_{fld}" if f"raw_{fld}" in raw_cols else "NULL"
            con.execute(f"INSERT INTO f_{label} SELECT r, NULL, {lit(fld)}, {lit(code)}, {value}, NULL "
                        f"FROM bad_{label} WHERE err & {bit(code)} <> 0")
        flags = [n for n in cols.columns(label) if cols.column_spec(n).kind == "flag"]
        for i, n in enumerate(flags):
            con.execute(f"INSERT INTO f_{label} SELECT r, NULL, {lit(n)}, {lit(n + '_invalid')}, NULL, NULL "
                        f"FROM bad_{label} WHERE flag_err & {1 << i} <> 0")
        # region codes and NIK / No. KK districts against the reference table
        con.execute(f"""INSERT INTO f_{label} SELECT file_row_number, NULL, 'kode_kemendagri', 'region_unknown',
            kode_kemendagri, NULL FROM {s} WHERE err & {bit('region_format')} = 0
            AND kode_kemendagri NOT IN (SELECT code FROM ref WHERE level = 4)""")
        con.execute(f"""INSERT INTO f_{label} SELECT file_row_number, NULL, 'nik',
            CASE WHEN substr(nik, 1, 2) NOT IN (SELECT code FROM ref WHERE level = 1) THEN 'nik_province_unknown'
                 ELSE 'nik_district_unknown' END, nik, NULL
            FROM {s} WHERE nik IS NOT NULL AND substr(nik, 1, 6) NOT IN (SELECT code FROM ref WHERE level = 3)""")
        if "no_kk" in cols.columns(label):
            con.execute(f"""INSERT INTO f_{label} SELECT file_row_number, NULL, 'no_kk', 'no_kk_district_unknown',
                no_kk, NULL FROM {s} WHERE no_kk IS NOT NULL
                AND substr(no_kk, 1, 6) NOT IN (SELECT code FROM ref WHERE level = 3)""")
        # duplicates: the first occurrence of a NIK wins; an exact copy is told apart by a hash of the row
        row_hash = "hash(" + ", ".join(q(n) for n in cols.columns(label)) + ")"
        con.execute(f"""INSERT INTO f_{label}
            WITH k AS (SELECT file_row_number AS r, CAST(nik AS BIGINT) AS key FROM {s} WHERE nik IS NOT NULL),
                 d AS (SELECT key FROM k GROUP BY key HAVING count(*) > 1),
                 c AS (SELECT file_row_number AS r, CAST(nik AS BIGINT) AS key, {row_hash} AS row_hash FROM {s}
                       WHERE nik IS NOT NULL AND CAST(nik AS BIGINT) IN (SELECT key FROM d)),
                 o AS (SELECT r, key, row_hash, first_value(r) OVER w AS first_r,
                              first_value(row_hash) OVER w AS first_hash
                       FROM c WINDOW w AS (PARTITION BY key ORDER BY r))
            SELECT r, NULL, CASE WHEN row_hash = first_hash THEN '' ELSE 'nik' END,
                   CASE WHEN row_hash = first_hash THEN 'duplicate_row' ELSE 'duplicate_nik' END,
                   NULL, first_r
            FROM o WHERE r <> first_r""")
        if label == "family":
            con.execute(f"""INSERT INTO f_{label}
                WITH k AS (SELECT file_row_number AS r, id_keluarga_p3ke AS key FROM {s}
                           WHERE id_keluarga_p3ke IS NOT NULL AND err & {SKIP_MASK} = 0),
                     d AS (SELECT key FROM k GROUP BY key HAVING count(*) > 1),
                     o AS (SELECT k.r, min(k.r) OVER (PARTITION BY k.key) AS first_r
                           FROM k SEMI JOIN d ON k.key = d.key)
                SELECT r, NULL, 'id_keluarga_p3ke', 'duplicate_family', NULL, first_r FROM o
                WHERE r <> first_r AND r NOT IN (SELECT r FROM f_{label} WHERE code = 'duplicate_row')""")
        if label == "individual" and family_staged is not None:
            fam = f"read_parquet({lit(str(family_staged))})"
            con.execute(f"""INSERT INTO f_{label} SELECT file_row_number, NULL, 'id_keluarga_p3ke', 'family_unknown',
                NULL, NULL FROM {s} WHERE id_keluarga_p3ke IS NOT NULL AND err & {SKIP_MASK} = 0
                AND id_keluarga_p3ke NOT IN
                (SELECT id_keluarga_p3ke FROM {fam} WHERE id_keluarga_p3ke IS NOT NULL)""")
        errors = [c.code for c in BY_CODE.values() if c.severity == "error"] + ["row_malformed"]
        con.execute(f"""CREATE OR REPLACE TEMP TABLE rej_{label} AS SELECT DISTINCT r FROM f_{label}
            WHERE r IS NOT NULL AND code IN ({lits(errors)})""")
        staged_rows, blank, summary, shifted = con.execute(f"""SELECT count(*),
            count(*) FILTER (WHERE err & {bit('blank_row')} <> 0),
            count(*) FILTER (WHERE err & {bit('summary_row')} <> 0),
            count(*) FILTER (WHERE bit_count(err & {ERROR_MASK}) >= 3) FROM {s}""").fetchone()  # type: ignore[misc]
        malformed = self._malformed(src)
        result.rows = staged_rows - blank - summary + malformed
        result.rejected = con.execute(f"SELECT count(*) FROM rej_{label}").fetchone()[0] + malformed  # type: ignore[index]
        self._file_notes(src, s, result.rows, blank + src.blank_rows, summary, shifted)
        return result

    def _file_notes(self, src: Source, s: str, rows: int, blank: int, summary: int, shifted: int) -> None:
        """File-level findings: rows recognised as not data, and columns systematically wrong (one reason,
        not thousands of row findings alone)."""
        from p3ke_ingest.adapters.sources import FileNote

        if blank or summary:
            src.notes.append(FileNote("rows_skipped", {"blank": f"{blank:,}", "summary": f"{summary:,}"}))
        if not rows:
            return
        codes = {n.code for n in src.notes}
        date_serial = (f"err & {bit('tanggal_lahir_invalid')} <> 0 AND regexp_full_match(trim(raw_tanggal_lahir), "
                       f"'[0-9]{{5}}(\\.[0-9]+)?')" if "tanggal_lahir" in cols.columns(src.label) else "false")
        sci, dates = self.con.execute(f"""SELECT count(*) FILTER (WHERE err & {bit('nik_scientific')} <> 0),
            count(*) FILTER (WHERE {date_serial}) FROM {s}""").fetchone()  # type: ignore[misc]
        if sci >= SHARE * rows and "nik_column_numeric" not in codes:
            src.notes.append(FileNote("nik_column_numeric", {"count": f"{sci:,}", "rows": f"{rows:,}"}))
        if dates >= SHARE * rows and "dates_as_numbers" not in codes:
            src.notes.append(FileNote("dates_as_numbers", {"column": "tanggal_lahir", "count": f"{dates:,}"}))
        if shifted >= SHARE * rows:
            src.notes.append(FileNote("columns_shifted", {"count": f"{shifted:,}", "rows": f"{rows:,}"}))

    def _malformed(self, src: Source) -> int:
        """CSV lines DuckDB could not read: turned into row_malformed findings (by line)."""
        if src.fmt != "csv":
            return 0
        label = src.label
        try:
            self.con.execute(f"""INSERT INTO f_{label} SELECT DISTINCT ON (line) NULL, line, '', 'row_malformed',
                error_type || '|' || COALESCE(regexp_extract(error_message, 'Actual Size: *([0-9]+)', 1), ''), NULL
                FROM rejects_{label} ORDER BY line""")
        except duckdb.CatalogException:  # no rejects table: nothing was rejected
            return 0
        return self.con.execute(f"SELECT count(*) FROM f_{label} WHERE code = 'row_malformed'").fetchone()[0]  # type: ignore[index]

    def _positions(self, src: Source) -> str:
        """SQL mapping a staged position r (0-based) to (data_row, line) for this file."""
        label = src.label
        wanted = (f"SELECT r FROM f_{label} WHERE r IS NOT NULL UNION "
                  f"SELECT ref_r FROM f_{label} WHERE ref_r IS NOT NULL")
        if src.fmt == "csv":
            h = src.header_line
            # rejected lines shift the rows after them: j-th malformed data row t_j = (line - h) - j
            self.con.execute(f"""CREATE OR REPLACE TEMP TABLE shift_{label} AS
                SELECT t, max(j) AS j FROM (SELECT line - {h} - row_number() OVER (ORDER BY line) AS t,
                row_number() OVER (ORDER BY line) AS j FROM f_{label} WHERE code = 'row_malformed') GROUP BY t""")
            return (f"(SELECT f.r, f.r + 1 + COALESCE(sh.j, 0) AS data_row, f.r + 1 + COALESCE(sh.j, 0) + {h} AS line, "
                    f"NULL::VARCHAR AS sheet FROM ({wanted}) f "
                    f"ASOF LEFT JOIN shift_{label} sh ON f.r >= sh.t)")
        if src.fmt == "xlsx":
            assert src.staged is not None
            staged = self.work / f"{label}-stage.parquet"
            return (f"(SELECT file_row_number AS r, file_row_number + 1 AS data_row, _line AS line, _sheet AS sheet "
                    f"FROM read_parquet({lit(str(staged))}, file_row_number=true) "
                    f"WHERE file_row_number IN ({wanted}))")
        return f"(SELECT r, r + 1 AS data_row, NULL::BIGINT AS line, NULL::VARCHAR AS sheet FROM ({wanted}))"

    def write_findings(self, src: Source, target: Path, result: FileResult) -> None:
        """The file's findings, masked, sorted by row, to a Parquet report part: the file-level findings
        (``src.notes``) first, then the rows'. Each carries its message and how to fix it, in Indonesian
        (``message``, ``fix``) and English (``message_en``, ``fix_en``)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from p3ke_ingest.adapters.reports import FINDINGS_SCHEMA as schema

        label = src.label
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE positions_{label} AS SELECT * FROM {self._positions(src)}")
        h = src.header_line if src.fmt == "csv" else 0
        sheets = src.fmt == "xlsx" and any(n.code == "sheets_combined" for n in src.notes)
        query = f"""SELECT CASE WHEN {str(sheets).lower()} AND p.sheet IS NOT NULL
                                THEN {lit(src.name)} || ':' || p.sheet ELSE {lit(src.name)} END AS file,
                   COALESCE(p.data_row, f.line - {h}) AS data_row, COALESCE(p.line, f.line) AS line,
                   f.field, f.code, f.value, p2.data_row AS ref_row
            FROM f_{label} f LEFT JOIN positions_{label} p ON f.r = p.r LEFT JOIN positions_{label} p2 ON f.ref_r = p2.r
            ORDER BY COALESCE(p.data_row, f.line - {h}), f.code"""
        by_code: dict[str, int] = {}
        count = 0
        words: dict[tuple[Any, ...], dict[str, str]] = {}  # the same message is made once

        def explained(key: tuple[Any, ...], render: Callable[[Lang], tuple[str, str]]) -> dict[str, str]:
            if key not in words:
                (m_id, f_id), (m_en, f_en) = render("id"), render("en")
                words[key] = {"message": m_id, "fix": f_id, "message_en": m_en, "fix_en": f_en}
            return words[key]

        with pq.ParquetWriter(target, schema, compression="zstd") as writer:
            file_rows = [{"file": src.name, "data_row": None, "line": None, "field": "", "code": n.code,
                          "severity": n.severity, "value": None,
                          **explained(("note", id(n)), lambda lang, n=n: (n.message(lang), n.fix(lang)))}
                         for n in src.notes]
            if file_rows:
                writer.write_table(pa.Table.from_pylist(file_rows, schema=schema))
            reader = self.con.sql(query).to_arrow_reader(50_000)
            for batch in reader:
                rows = batch.to_pylist()
                out = []
                for row in rows:
                    code = row["code"]
                    check = BY_CODE.get(code)
                    value = row["value"]
                    ref_row = row.pop("ref_row")
                    if code == "row_malformed":
                        kind, _, size = str(value).partition("|")
                        value = None
                        text = explained(("malformed", kind, size, row["line"]),
                                         lambda lang, kind=kind, size=size, line=row["line"]:
                                         self._malformed_text(src, kind, size, line, lang))
                    elif ref_row is not None:
                        text = explained(("ref", code, ref_row), lambda lang, code=code, ref_row=ref_row: (
                            f"{BY_CODE[code].text(lang)} {explain('ref_row', lang, row=ref_row)[0]}",
                            BY_CODE[code].fix_text(lang)))
                    elif check is not None:
                        params = {"min": self.rules.desil_min, "max": self.rules.desil_max}
                        text = explained((code,), lambda lang, check=check, params=params: (
                            check.text(lang, **params), check.fix_text(lang, **params)))
                    else:
                        text = {"message": code, "fix": "", "message_en": code, "fix_en": ""}
                    out.append({**row, "severity": check.severity if check else "error", **text,
                                "value": mask_value(row["field"], value) if value is not None else None})
                    by_code[code] = by_code.get(code, 0) + 1
                count += len(out)
                writer.write_table(pa.Table.from_pylist(out, schema=schema))
        result.findings = count
        result.by_code = dict(sorted(by_code.items()))

    def _malformed_text(self, src: Source, kind: str, size: str, line: int | None, lang: Lang) -> tuple[str, str]:
        """A line DuckDB could not read, in words: over-long lines say their size and the limit."""
        reason = MALFORMED.get(kind.upper())
        if reason == "line_too_long":
            limit = f"{self.rules.max_line_bytes:,}"
            shown = f"{int(size):,}" if size.isdigit() else "?"
            return explain("row_malformed.line_too_long", lang, size=shown, limit=limit)
        if reason is not None:
            delimiter = explain(f"delimiter.{DELIMITER_NAMES.get(src.delimiter, 'comma')}", lang)[0]
            return explain(f"row_malformed.{reason}", lang, delimiter=delimiter)
        return explain("row_malformed.other", lang, reason=kind.lower())

    # -- pass 3 ------------------------------------------------------------------------------------------
    def write_snapshot(self, src: Source, staged: Path, target: Path) -> None:
        """Pass 3: the rows without an error, typed and sorted by region code, to ``target`` (zstd Parquet)."""
        label = src.label
        names = cols.columns(src.label)
        select = ", ".join(q(n) for n in names)
        sql = f"""SELECT {select} FROM read_parquet({lit(str(staged))}, file_row_number=true) s
            WHERE err & {ERROR_MASK} = 0 AND err & {SKIP_MASK} = 0
            AND NOT EXISTS (SELECT 1 FROM rej_{label} j WHERE j.r = s.file_row_number)
            ORDER BY CAST(kode_kemendagri AS BIGINT), file_row_number"""
        # an integer key sorts faster than text, and gives the same order (every kept code is 10 digits);
        # zstd level 1 compresses about as well as the default level, faster
        write_query(self.con, sql, target, compression="zstd", compression_level=1, depth=1)

    def counts(self, snapshot: Path, result: FileResult) -> None:
        rel = f"read_parquet({lit(str(snapshot))})"
        rows = self.con.execute(f"SELECT CAST(desil_kesejahteraan AS VARCHAR), count(*) FROM {rel} "
                                "GROUP BY 1 ORDER BY 1").fetchall()
        result.counts_by_desil = {str(k): int(v) for k, v in rows}
        rows = self.con.execute(f"SELECT substr(kode_kemendagri, 1, 2), count(*) FROM {rel} "
                                "GROUP BY 1 ORDER BY 1").fetchall()
        result.counts_by_province = {str(k): int(v) for k, v in rows}
        result.published = sum(result.counts_by_desil.values())
        result.families = int(self.con.execute(f"SELECT count(DISTINCT id_keluarga_p3ke) FROM {rel}").fetchone()[0])  # type: ignore[index]

    def diff(self, new: Path, old: Path) -> dict[str, int]:
        """Persons (by NIK) added, removed and changed between two individual snapshots."""
        names = [n for n in cols.INDIVIDUAL_COLUMNS]
        old_names = set(self.con.execute(f"SELECT name FROM parquet_schema({lit(str(old))})").fetchall())
        common = [n for n in names if (n,) in old_names]
        h = "hash(" + ", ".join(q(n) for n in common) + ")"
        row = self.con.execute(f"""SELECT count(*) FILTER (WHERE o.k IS NULL), count(*) FILTER (WHERE n.k IS NULL),
                count(*) FILTER (WHERE n.h <> o.h)
            FROM (SELECT CAST(nik AS BIGINT) AS k, {h} AS h FROM read_parquet({lit(str(new))})) n
            FULL OUTER JOIN (SELECT CAST(nik AS BIGINT) AS k, {h} AS h FROM read_parquet({lit(str(old))})) o
            ON n.k = o.k""").fetchone()
        assert row is not None
        return {"persons_added": int(row[0]), "persons_removed": int(row[1]), "persons_changed": int(row[2])}


def run_statement_with_progress(engine: Engine, phase: str, fn: Callable[[], Any], progress: Progress | None,
                                interval: float = 1.0) -> Any:
    """Run ``fn`` (a DuckDB statement) while reporting its progress every ``interval`` seconds."""
    if progress is None:
        return fn()
    done = threading.Event()

    def watch() -> None:
        while not done.wait(interval):
            progress(phase, engine.progress())

    watcher = threading.Thread(target=watch, name=f"p3ke-ingest-progress-{phase}", daemon=True)
    watcher.start()
    try:
        return fn()
    finally:
        done.set()
        watcher.join()
