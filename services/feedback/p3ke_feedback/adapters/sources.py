"""Open an uploaded data balikan file as a table in DuckDB: detect its format, find its header, map
its columns, and stage its rows as text (`raw`), in file order.

Only the head of a CSV is read in Python (bounded, whatever the size); DuckDB reads the rows. XLSX is
streamed once with openpyxl (read-only mode) into a staging Parquet file of text columns. Every value
is staged as text: a NIK is an identifier, never a number, and what a spreadsheet did to it must stay
visible to the validator.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from p3ke_feedback.adapters.files import sql_path
from p3ke_feedback.domain.layout import COLUMNS, MIN_HEADER_SCORE, Layout, LayoutError, map_headers, score

Format = Literal["csv", "xlsx", "parquet"]
HEAD_BYTES = 1 << 20
HEAD_LINES = 50  # header rows may sit this far down (title rows above the table)
DELIMITERS = (",", ";", "\t", "|")
XLSX_CHUNK_ROWS = 20_000


class NotATable(ValueError):
    """The file cannot be read as a table; the message says why (no values in it)."""


@dataclass
class Staged:
    fmt: Format
    layout: Layout
    rows: int
    notes: list[str] = field(default_factory=list)
    header_line: int = 1  # CSV: 1-based line of the header (a row's line is header_line + row)


def detect_format(path: Path) -> Format:
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(8)
        if size >= 8:
            f.seek(-4, 2)
            tail = f.read(4)
        else:
            tail = b""
    if not head:
        raise NotATable("the file is empty")
    if head.startswith(b"PAR1"):
        if tail != b"PAR1":
            raise NotATable("the Parquet file is truncated (no footer)")
        return "parquet"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as z:
                names = set(z.namelist())
        except zipfile.BadZipFile:
            raise NotATable("the file looks like XLSX (a zip archive) but is damaged or truncated") from None
        if "xl/workbook.xml" not in names:
            raise NotATable("the zip archive is not an XLSX workbook")
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise NotATable("old Excel .xls files are not supported; save the sheet as XLSX or CSV")
    return "csv"


def _decode_head(raw: bytes) -> tuple[str, str, list[str]]:
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16", "replace"), "utf-16", []
    if b"\x00" in raw:
        raise NotATable("binary content (NUL bytes): this is not a CSV text file")
    body = raw[3:] if raw.startswith(codecs.BOM_UTF8) else raw
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(body) - 4:  # a multi-byte character cut by the end of the head
            text = body[: exc.start].decode("utf-8")
        else:
            return body.decode("latin-1"), "latin-1", ["the file is not UTF-8; it was read as latin-1"]
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text[:65536])
    if text and printable / min(len(text), 65536) < 0.95:
        raise NotATable("binary content: this is not a CSV text file")
    return text, "utf-8", []


def _unknown_note(layout: Layout) -> list[str]:
    if not layout.unknown:
        return []
    shown = ", ".join(layout.unknown[:20]) + (" …" if len(layout.unknown) > 20 else "")
    return [f"columns not in the data balikan layout were ignored: {shown}"]


def _stage_csv(con: duckdb.DuckDBPyConnection, path: Path) -> Staged:
    with path.open("rb") as f:
        raw = f.read(HEAD_BYTES)
    text, encoding, notes = _decode_head(raw)
    lines = text.splitlines()
    if len(raw) == HEAD_BYTES and lines:
        lines = lines[:-1]  # the last line of the head may be cut
    best: tuple[int, int, str, list[str]] | None = None
    for i, line in enumerate(lines[:HEAD_LINES]):
        for delim in DELIMITERS:
            if delim not in line:
                continue
            headers = next(csv.reader([line], delimiter=delim))
            s = score(headers)
            if s >= MIN_HEADER_SCORE and (best is None or s > best[0]):
                best = (s, i, delim, headers)
        if best is not None and best[1] == i:
            break  # the first line that looks like a header is the header
    if best is None:
        if not any(line.strip() for line in lines):
            raise NotATable("the file has no text lines")
        raise NotATable(f"no header row naming the data balikan columns in the first {HEAD_LINES} lines")
    _, index, delim, headers = best
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
    return Staged("csv", layout, int(rows), notes + _unknown_note(layout), header_line=index + 1)


def _stage_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> Staged:
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise NotATable(f"the Parquet file cannot be read: {type(exc).__name__}") from None
    layout = map_headers(list(schema.names))
    picks = []
    for c in COLUMNS:
        name = schema.names[layout.positions[c]]
        quoted = '"' + name.replace('"', '""') + '"'
        if c == "nik" and pa.types.is_floating(schema.field(name).type):
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


def _cell_text(value: Any, identity: bool) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int | float) and identity and abs(value) >= 1e12:
        return f"{float(value):.14E}"  # a number cell: Excel kept 15 significant digits, the rest is lost
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def _stage_xlsx(con: duckdb.DuckDBPyConnection, path: Path, work: Path) -> Staged:
    import openpyxl

    fh = path.open("rb")  # a file object: openpyxl would refuse the upload's file name extension
    try:
        wb = openpyxl.load_workbook(fh, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for damaged files
        fh.close()
        raise NotATable(f"the XLSX workbook cannot be opened: {type(exc).__name__}") from None
    staged = work / "xlsx-staging.parquet"
    schema = pa.schema([("sheet", pa.string()), ("xline", pa.int64()), *((c, pa.string()) for c in COLUMNS)])
    sheets: list[tuple[str, int, Layout]] = []
    problems: list[str] = []
    try:
        for ws in wb.worksheets:
            for r, row in enumerate(ws.iter_rows(max_row=HEAD_LINES, values_only=True), start=1):
                headers = ["" if v is None else str(v) for v in row]
                if score(headers) >= MIN_HEADER_SCORE:
                    try:
                        sheets.append((ws.title, r, map_headers(headers)))
                    except LayoutError as exc:
                        problems.append(f"sheet {ws.title}: {exc}")
                    break
        if not sheets:
            if problems:
                raise LayoutError("; ".join(problems))
            raise NotATable(f"no worksheet has a header row naming the data balikan columns in its first "
                            f"{HEAD_LINES} rows")
        with pq.ParquetWriter(staged, schema, compression="lz4") as writer:
            for title, header_row, lay in sheets:
                picks = [(lay.positions[c], c == "nik") for c in COLUMNS]
                buffer: list[list[Any]] = [[] for _ in range(len(COLUMNS) + 2)]
                for r, row in enumerate(wb[title].iter_rows(min_row=header_row + 1, values_only=True),
                                        start=header_row + 1):
                    if not any(v is not None and v != "" for v in row):
                        continue
                    buffer[0].append(title)
                    buffer[1].append(r)
                    for j, (pos, identity) in enumerate(picks, start=2):
                        buffer[j].append(_cell_text(row[pos], identity) if pos < len(row) else None)
                    if len(buffer[0]) >= XLSX_CHUNK_ROWS:
                        writer.write_table(pa.Table.from_arrays([pa.array(b) for b in buffer], schema=schema))
                        buffer = [[] for _ in range(len(COLUMNS) + 2)]
                if buffer[0]:
                    writer.write_table(pa.Table.from_arrays([pa.array(b) for b in buffer], schema=schema))
    finally:
        wb.close()
        fh.close()
    con.execute(f"""CREATE TEMP TABLE raw AS SELECT *, NULL::VARCHAR AS __extra
                    FROM read_parquet('{sql_path(staged)}')""")
    rows = con.execute("SELECT count(*) FROM raw").fetchone()[0]  # type: ignore[index]
    notes = _unknown_note(sheets[0][2]) + problems
    if len(sheets) > 1:
        notes.append(f"worksheets read one after another: {', '.join(t for t, _, _ in sheets)}")
    return Staged("xlsx", sheets[0][2], int(rows), notes)


def stage(con: duckdb.DuckDBPyConnection, path: Path, work: Path) -> Staged:
    """Create the temp table `raw` (sheet, xline, the fields as text, __extra) from the file, in file
    order (its rowid). Raises NotATable or LayoutError with the reason."""
    fmt = detect_format(path)
    try:
        if fmt == "csv":
            return _stage_csv(con, path)
        if fmt == "parquet":
            return _stage_parquet(con, path)
        return _stage_xlsx(con, path, work)
    except duckdb.Error as exc:
        raise NotATable(f"the {fmt.upper()} file cannot be read as a table ({type(exc).__name__})") from None
