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
from p3ke_platform.i18n import DEFAULT, Lang
from p3ke_platform.tabular import sources as tabular
from p3ke_platform.tabular.errors import Explained, explain
from p3ke_platform.tabular.layout import shown_names
from p3ke_platform.tabular.sources import FALLBACK_ENCODING, Format, NotATable

IDENTITY = ("nik",)  # the identity number a spreadsheet may have turned into a number
NO_HEADER = "file.no_header_feedback"  # catalogue keys (findings.po)
NO_SHEET = "file.no_sheet_feedback"


class Note(Explained):
    """A file-level note (``file.<code>`` of the findings catalogue): what was read, what was ignored, a column
    systematically wrong. ``explained(lang)``: the message and how to fix it."""

    def _params(self, lang: Lang) -> dict[str, object]:
        out = super()._params(lang)
        if "delimiter" in out:
            out["delimiter"] = explain(f"delimiter.{out['delimiter']}", lang)[0]
        return out


@dataclass
class Staged:
    fmt: Format
    layout: Layout
    rows: int
    notes: list[Note] = field(default_factory=list)
    header_line: int = 1  # CSV: 1-based line of the header (a row's line is header_line + row)

    def note_texts(self, lang: Lang = DEFAULT) -> list[str]:
        return [n.explained(lang) for n in self.notes]


def _unknown_note(layout: Layout) -> list[Note]:
    if not layout.unknown:
        return []
    return [Note(key="file.columns_unknown", columns=shown_names(layout.unknown))]


def _stage_csv(con: duckdb.DuckDBPyConnection, path: Path) -> Staged:
    head = tabular.sniff_csv_head(path, score, no_header=NO_HEADER, min_score=MIN_HEADER_SCORE)
    notes = [Note(key="file.file_read", **head.what_was_read())]
    if head.fallback_encoding:
        notes.append(Note(key="file.encoding_not_utf8", encoding=FALLBACK_ENCODING))
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
    return Staged("parquet", layout, int(rows), [Note(key="file.file_read_parquet", columns=len(schema.names)),
                                                 *_unknown_note(layout)])


def _stage_xlsx(con: duckdb.DuckDBPyConnection, path: Path, work: Path) -> Staged:
    staged = work / "xlsx-staging.parquet"
    with tabular.open_workbook(path) as wb:
        scan = tabular.scan_sheets(wb, score, map_headers, no_header=NO_SHEET, min_score=MIN_HEADER_SCORE)
        sheets = scan.tables
        stats = tabular.stage_sheets(wb, [(s.title, s.header_row, s.layout.positions) for s in sheets], staged,
                                     columns=["sheet", "xline", *COLUMNS], line_column="xline", sheet_column="sheet",
                                     identity=IDENTITY, dates=("tanggal_mulai", "tanggal_selesai"))
    con.execute(f"""CREATE TEMP TABLE raw AS SELECT *, NULL::VARCHAR AS __extra
                    FROM read_parquet('{sql_path(staged)}')""")
    rows = con.execute("SELECT count(*) FROM raw").fetchone()[0]  # type: ignore[index]
    notes = [Note(key="file.file_read_xlsx", sheets=", ".join(s.title for s in sheets),
                  header_line=sheets[0].header_row, title_rows=sheets[0].header_row - 1),
             *_unknown_note(sheets[0].layout), *(Note(p) for p in scan.problems)]
    if len(sheets) > 1:
        notes.append(Note(key="file.sheets_combined", sheets=", ".join(s.title for s in sheets)))
    nik, exact = stats.numeric.get("nik", 0), stats.exact.get("nik", 0)
    if nik - exact:
        notes.append(Note(key="file.nik_column_numeric", count=f"{nik - exact:,}", rows=f"{stats.rows:,}"))
    if exact:
        notes.append(Note(key="file.nik_column_numeric_exact", count=f"{exact:,}"))
    for column, count in stats.numeric_dates.items():
        notes.append(Note(key="file.dates_as_numbers", column=column, count=f"{count:,}"))
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
        raise NotATable(key="file.table_unreadable", format=fmt.upper(), error=type(exc).__name__) from None


__all__ = ["NotATable", "Note", "Staged", "stage"]
