"""Open an uploaded data balikan file as a table in DuckDB: detect its format, find its header, map
its columns, and stage its rows as text (`raw`), in file order.

Only the head of a CSV is read in Python (bounded, whatever the size); DuckDB reads the rows. XLSX is
streamed once with openpyxl (read-only mode) into a staging Parquet file of text columns. Every value
is staged as text: a NIK is an identifier, never a number, and what a spreadsheet did to it must stay
visible to the validator. The file-intake plumbing is ``p3ke_platform.tabular.sources``; the data
balikan layout and the DuckDB staging are here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from p3ke_feedback.domain.layout import COLUMNS, MIN_HEADER_SCORE, Layout, map_headers, score
from p3ke_platform.duckdb_engine import sql_path
from p3ke_platform.tabular import sources as tabular
from p3ke_platform.tabular.layout import shown_names
from p3ke_platform.tabular.sources import FALLBACK_ENCODING, Format, NotATable

IDENTITY = ("nik",)  # the identity number a spreadsheet may have turned into a number
NO_HEADER = "no header row naming the data balikan columns in the first {lines} lines"
NO_SHEET = "no worksheet has a header row naming the data balikan columns in its first {rows} rows"


@dataclass
class Staged:
    fmt: Format
    layout: Layout
    rows: int
    notes: list[str] = field(default_factory=list)
    header_line: int = 1  # CSV: 1-based line of the header (a row's line is header_line + row)


def _unknown_note(layout: Layout) -> list[str]:
    if not layout.unknown:
        return []
    return [f"columns not in the data balikan layout were ignored: {shown_names(layout.unknown)}"]


def _stage_csv(con: duckdb.DuckDBPyConnection, path: Path) -> Staged:
    head = tabular.sniff_csv_head(path, score, no_header=NO_HEADER, min_score=MIN_HEADER_SCORE)
    notes = [f"the file is not UTF-8; it was read as {FALLBACK_ENCODING}"] if head.fallback_encoding else []
    headers, index, delim, encoding = head.headers, head.header_index, head.delimiter, head.encoding
    layout = map_headers(headers)
    columns = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(headers)))
    picks = ", ".join(f"c{layout.positions[c]} AS {c}" for c in COLUMNS)
    delim_sql = delim.replace("'", "''")
    con.execute(f"""
        CREATE TEMP TABLE raw AS SELECT NULL::VARCHAR AS sheet, NULL::BIGINT AS xline, {picks}, __extra
        FROM read_csv('{sql_path(path)}', skip={index}, header=true, delim='{delim_sql}', quote='"', escape='"',
                      all_varchar=true, null_padding=true, strict_mode=false, auto_detect=false,
                      encoding='{encoding}', columns={{{columns}, '__extra': 'VARCHAR'}})""")
    rows = con.execute("SELECT count(*) FROM raw").fetchone()[0]  # type: ignore[index]
    return Staged("csv", layout, int(rows), notes + _unknown_note(layout), header_line=head.header_line)


def _stage_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> Staged:
    schema = tabular.read_parquet_schema(path)
    layout = map_headers(list(schema.names))
    numeric = tabular.floating_fields(schema, layout.positions, IDENTITY)
    picks = []
    for c in COLUMNS:
        name = schema.names[layout.positions[c]]
        quoted = '"' + name.replace('"', '""') + '"'
        if c in numeric:
            # a floating-point NIK has lost digits (2^53 < 10^16): show it as what it is
            picks.append(f"printf('%.14E', {quoted}) AS nik")
        else:
            picks.append(f"CAST({quoted} AS VARCHAR) AS {c}")
    con.execute(f"""
        CREATE TEMP TABLE raw AS SELECT NULL::VARCHAR AS sheet, NULL::BIGINT AS xline, {", ".join(picks)},
               NULL::VARCHAR AS __extra
        FROM read_parquet('{sql_path(path)}')""")
    rows = con.execute("SELECT count(*) FROM raw").fetchone()[0]  # type: ignore[index]
    return Staged("parquet", layout, int(rows), _unknown_note(layout))


def _stage_xlsx(con: duckdb.DuckDBPyConnection, path: Path, work: Path) -> Staged:
    staged = work / "xlsx-staging.parquet"
    with tabular.open_workbook(path) as wb:
        scan = tabular.scan_sheets(wb, score, map_headers, no_header=NO_SHEET, min_score=MIN_HEADER_SCORE)
        sheets = scan.tables
        tabular.stage_sheets(wb, [(s.title, s.header_row, s.layout.positions) for s in sheets], staged,
                             columns=["sheet", "xline", *COLUMNS], line_column="xline", sheet_column="sheet",
                             identity=IDENTITY)
    con.execute(f"""CREATE TEMP TABLE raw AS SELECT *, NULL::VARCHAR AS __extra
                    FROM read_parquet('{sql_path(staged)}')""")
    rows = con.execute("SELECT count(*) FROM raw").fetchone()[0]  # type: ignore[index]
    notes = _unknown_note(sheets[0].layout) + scan.problems
    if len(sheets) > 1:
        notes.append(f"worksheets read one after another: {', '.join(s.title for s in sheets)}")
    return Staged("xlsx", sheets[0].layout, int(rows), notes)


def stage(con: duckdb.DuckDBPyConnection, path: Path, work: Path) -> Staged:
    """Create the temp table `raw` (sheet, xline, the fields as text, __extra) from the file, in file
    order (its rowid). Raises NotATable or LayoutError with the reason."""
    fmt = tabular.detect_format(path)
    try:
        if fmt == "csv":
            return _stage_csv(con, path)
        if fmt == "parquet":
            return _stage_parquet(con, path)
        return _stage_xlsx(con, path, work)
    except duckdb.Error as exc:
        raise NotATable(f"the {fmt.upper()} file cannot be read as a table ({type(exc).__name__})") from None


__all__ = ["NotATable", "Staged", "stage"]
