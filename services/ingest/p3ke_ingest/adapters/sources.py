"""Open a submitted file as a table: detect its format, find its header, map its columns.

Only the file's head is read here (bounded, whatever the file's size); the rows are read later by the
columnar engine (``adapters.engine``). XLSX is the exception: its sheets are streamed once with
openpyxl (read-only mode) into a staging Parquet file of text columns, which the engine then reads.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from p3ke_ingest import p3ke_columns as cols
from p3ke_ingest.domain.findings import FILE_CODES
from p3ke_ingest.domain.layout import Layout, LayoutError, canonical, map_headers, score

Format = Literal["csv", "xlsx", "parquet"]
HEAD_BYTES = 1 << 20  # how much of a CSV file is looked at to sniff it
HEAD_LINES = 50  # header rows may sit this far down (title rows above the table)
MIN_HEADER_SCORE = 3
DELIMITERS = (",", ";", "\t", "|")
XLSX_CHUNK_ROWS = 20_000


class NotATable(ValueError):
    """The file cannot be read as a P3KE table; the message says why (no personal values in it)."""


@dataclass
class FileNote:
    code: str
    message: str


@dataclass
class Source:
    """One input file, ready for the engine."""

    label: cols.Level  # which file of the submission: "individual" or "family"
    name: str  # shown in findings
    path: Path
    fmt: Format
    layout: Layout
    notes: list[FileNote] = field(default_factory=list)
    # CSV
    delimiter: str = ","
    encoding: str = "utf-8"
    header_line: int = 1  # 1-based physical line of the header
    # XLSX: the staging Parquet (text columns named by canonical name, plus _line and _sheet)
    staged: Path | None = None
    numeric_identity: frozenset[str] = frozenset()  # Parquet: nik/no_kk stored as floating point


def detect_format(path: Path) -> Format:
    with path.open("rb") as f:
        head = f.read(8)
        if path.stat().st_size >= 8:
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


def _decode_head(raw: bytes) -> tuple[str, str, list[FileNote]]:
    """Text of the head, the encoding to read the file with, and notes."""
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
            text = body.decode("latin-1")
            note = FileNote("encoding_not_utf8", FILE_CODES["encoding_not_utf8"].format(encoding="latin-1"))
            return text, "latin-1", [note]
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text[:65536])
    if text and printable / min(len(text), 65536) < 0.95:
        raise NotATable("binary content: this is not a CSV text file")
    return text, "utf-8", []


def sniff_csv(path: Path, label: cols.Level) -> Source:
    with path.open("rb") as f:
        raw = f.read(HEAD_BYTES)
    text, encoding, notes = _decode_head(raw)
    lines = text.splitlines()
    if len(raw) == HEAD_BYTES and lines:
        lines = lines[:-1]  # the last line of the head may be cut
    best: tuple[int, int, str, list[str]] | None = None  # (score, line index, delimiter, headers)
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
        if not lines or not any(line.strip() for line in lines):
            raise NotATable("the file has no text lines")
        raise NotATable(f"no header row with P3KE column names in the first {HEAD_LINES} lines: not a P3KE table")
    _, index, delim, headers = best
    layout = map_headers(headers, label)
    notes += _layout_notes(layout)
    return Source(label=label, name=path.name, path=path, fmt="csv", layout=layout, notes=notes,
                  delimiter=delim, encoding=encoding, header_line=index + 1)


def _layout_notes(layout: Layout) -> list[FileNote]:
    notes = []
    if layout.unknown:
        shown = ", ".join(layout.unknown[:20]) + (" …" if len(layout.unknown) > 20 else "")
        notes.append(FileNote("columns_unknown", FILE_CODES["columns_unknown"].format(columns=shown)))
    if layout.missing_optional:
        missing = ", ".join(layout.missing_optional)
        message = FILE_CODES["columns_optional_missing"].format(columns=missing)
        notes.append(FileNote("columns_optional_missing", message))
    return notes


def sniff_parquet(path: Path, label: cols.Level) -> Source:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise NotATable(f"the Parquet file cannot be read: {type(exc).__name__}") from None
    layout = map_headers(list(schema.names), label)
    numeric = frozenset(name for name in ("nik", "no_kk") if name in layout.positions
                        and pa.types.is_floating(schema.field(layout.positions[name]).type))
    return Source(label=label, name=path.name, path=path, fmt="parquet", layout=layout,
                  notes=_layout_notes(layout), numeric_identity=numeric)


# -- XLSX ------------------------------------------------------------------------------------------------

def _cell_text(value: Any, identity: bool) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return cols.YA if value else cols.TIDAK
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        if identity and abs(value) >= 1e12:
            return f"{value:.14E}"  # a number cell: Excel kept 15 significant digits, the rest is lost
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, int) and identity and abs(value) >= 1e12:
        return f"{float(value):.14E}"
    return str(value)


def stage_xlsx(path: Path, label: cols.Level, staged: Path) -> Source:
    """Stream the workbook's sheets with the P3KE layout into ``staged`` (Parquet, text columns)."""
    import openpyxl
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for damaged files
        raise NotATable(f"the XLSX workbook cannot be opened: {type(exc).__name__}") from None
    try:
        sheets: list[tuple[str, int, Layout]] = []
        ignored: list[str] = []
        problems: list[str] = []
        for ws in wb.worksheets:
            found = None
            for r, row in enumerate(ws.iter_rows(max_row=HEAD_LINES, values_only=True), start=1):
                headers = ["" if v is None else str(v) for v in row]
                if score(headers) >= MIN_HEADER_SCORE:
                    found = (r, headers)
                    break
            if found is None:
                ignored.append(ws.title)
                continue
            try:
                sheets.append((ws.title, found[0], map_headers(found[1], label)))
            except LayoutError as exc:
                problems.append(f"sheet {ws.title}: {exc}")
        if not sheets:
            if problems:
                raise LayoutError("; ".join(problems))
            raise NotATable(f"no worksheet has a header row with P3KE column names in its first {HEAD_LINES} rows")
        names = [c for c in cols.columns(label) if any(c in lay.positions for _, _, lay in sheets)]
        schema = pa.schema([*((c, pa.string()) for c in names), ("_line", pa.int64()), ("_sheet", pa.string())])
        writer = pq.ParquetWriter(staged, schema, compression="lz4")
        try:
            for title, header_row, lay in sheets:
                ws = wb[title]
                picks = [(lay.positions.get(c), c in ("nik", "no_kk")) for c in names]
                buffer: list[list[Any]] = [[] for _ in range(len(names) + 2)]
                for r, row in enumerate(ws.iter_rows(min_row=header_row + 1, values_only=True), start=header_row + 1):
                    if not any(v is not None and v != "" for v in row):
                        continue
                    for j, (pos, identity) in enumerate(picks):
                        value = row[pos] if pos is not None and pos < len(row) else None
                        buffer[j].append(_cell_text(value, identity))
                    buffer[-2].append(r)
                    buffer[-1].append(title)
                    if len(buffer[-1]) >= XLSX_CHUNK_ROWS:
                        writer.write_table(pa.Table.from_arrays([pa.array(b) for b in buffer], schema=schema))
                        buffer = [[] for _ in range(len(names) + 2)]
                if buffer[-1]:
                    writer.write_table(pa.Table.from_arrays([pa.array(b) for b in buffer], schema=schema))
        finally:
            writer.close()
    finally:
        wb.close()
    first = sheets[0][2]
    layout = Layout(label, {c: i for i, c in enumerate(names)}, names, first.unknown,
                    [c for c in cols.columns(label) if c not in names])
    notes = _layout_notes(layout)
    if ignored:
        notes.append(FileNote("sheets_ignored", FILE_CODES["sheets_ignored"].format(sheets=", ".join(ignored))))
    if len(sheets) > 1:
        notes.append(FileNote("sheets_combined",
                              FILE_CODES["sheets_combined"].format(sheets=", ".join(t for t, _, _ in sheets))))
    return Source(label=label, name=path.name, path=path, fmt="xlsx", layout=layout, notes=notes, staged=staged)


def open_source(path: Path, label: cols.Level, work: Path, name: str | None = None) -> Source:
    """Sniff one file (raises NotATable or LayoutError with a reason)."""
    fmt = detect_format(path)
    if fmt == "csv":
        source = sniff_csv(path, label)
    elif fmt == "parquet":
        source = sniff_parquet(path, label)
    else:
        source = stage_xlsx(path, label, work / f"{label}-xlsx.parquet")
    if name:
        source.name = name
    return source


def precheck(path: Path, label: cols.Level) -> None:
    """The cheap part of ``open_source`` (no XLSX streaming), to refuse obvious mistakes at once."""
    fmt = detect_format(path)
    if fmt == "csv":
        sniff_csv(path, label)
    elif fmt == "parquet":
        sniff_parquet(path, label)


__all__ = ["FileNote", "Format", "LayoutError", "NotATable", "Source", "canonical", "open_source", "precheck"]
