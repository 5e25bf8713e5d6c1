"""Open a submitted file as a table: detect its format, sniff a CSV's head, read a Parquet schema, stream
an XLSX workbook into a staging Parquet file.

Nothing here holds a whole file in memory: a CSV is looked at through its first ``HEAD_BYTES`` (the
rows are read later by a columnar engine), a Parquet file through its schema, and an XLSX workbook is
streamed once (openpyxl read-only mode) in chunks of ``XLSX_CHUNK_ROWS`` rows. Every XLSX value is
staged as text: a NIK is an identifier, never a number, and what a spreadsheet did to it must stay
visible to the validator.

What a service accepts (its header vocabulary, how it maps a header row, its messages) is passed in.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import zipfile
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from p3ke_platform.tabular.errors import NotATable
from p3ke_platform.tabular.layout import LayoutError

if TYPE_CHECKING:
    import pyarrow as pa

    from p3ke_platform.tabular.archive_guard import ArchiveLimits

Format = Literal["csv", "xlsx", "parquet"]
HEAD_BYTES = 1 << 20  # how much of a CSV file is looked at to sniff it
HEAD_LINES = 50  # header rows may sit this far down (title rows above the table)
DELIMITERS = (",", ";", "\t", "|")
XLSX_CHUNK_ROWS = 20_000
FALLBACK_ENCODING = "latin-1"  # how a CSV that is not UTF-8 (nor UTF-16 with a BOM) is read

Score = Callable[[Sequence[str]], int]
L = TypeVar("L")


def detect_format(path: Path, limits: ArchiveLimits | None = None) -> Format:
    """The format by content (magic bytes), not by name; raises ``NotATable`` for an empty, truncated
    or unsupported file, ``HostileArchive`` (a ``NotATable``) for a ZIP over ``limits`` (default
    ``ArchiveLimits()``) or malformed. Anything not Parquet or XLSX is taken to be CSV."""
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
        from p3ke_platform.tabular.archive_guard import ArchiveLimits, check_archive

        check_archive(path, limits or ArchiveLimits(), xlsx=True)  # before anything decompresses it
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


# -- CSV ---------------------------------------------------------------------------------------------------

def decode_head(raw: bytes) -> tuple[str, str]:
    """The text of a CSV head and the encoding to read the whole file with: UTF-16 (with its BOM), UTF-8
    (a BOM is skipped), else ``FALLBACK_ENCODING``. Raises ``NotATable`` for binary content."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16", "replace"), "utf-16"
    if b"\x00" in raw:
        raise NotATable("binary content (NUL bytes): this is not a CSV text file")
    body = raw[3:] if raw.startswith(codecs.BOM_UTF8) else raw
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(body) - 4:  # a multi-byte character cut by the end of the head
            text = body[: exc.start].decode("utf-8")
        else:
            return body.decode(FALLBACK_ENCODING), FALLBACK_ENCODING
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text[:65536])
    if text and printable / min(len(text), 65536) < 0.95:
        raise NotATable("binary content: this is not a CSV text file")
    return text, "utf-8"


@dataclass(frozen=True)
class CsvHead:
    """What the head of a CSV file says about reading it."""

    encoding: str  # "utf-8", "utf-16" or FALLBACK_ENCODING
    delimiter: str
    header_index: int  # 0-based line of the header row (lines above it are titles, skipped)
    headers: list[str]

    @property
    def header_line(self) -> int:
        """1-based physical line of the header (a data row's line is ``header_line + row``)."""
        return self.header_index + 1

    @property
    def fallback_encoding(self) -> bool:
        """The file is not UTF-8: it is read as ``FALLBACK_ENCODING`` (worth a note to the submitter)."""
        return self.encoding == FALLBACK_ENCODING


def sniff_csv_head(path: Path, score: Score, *, no_header: str, min_score: int) -> CsvHead:
    """Find the header row of a CSV file in its first ``HEAD_LINES`` lines (read: ``HEAD_BYTES`` at most).

    The header is the first line that, split by one of ``DELIMITERS``, names at least ``min_score`` fields
    by ``score``; on that line the delimiter naming the most fields wins. Raises ``NotATable`` (binary
    content, no text, or ``no_header`` formatted with ``lines=HEAD_LINES``).
    """
    with path.open("rb") as f:
        raw = f.read(HEAD_BYTES)
    text, encoding = decode_head(raw)
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
            if s >= min_score and (best is None or s > best[0]):
                best = (s, i, delim, headers)
        if best is not None and best[1] == i:
            break  # the first line that looks like a header is the header
    if best is None:
        if not any(line.strip() for line in lines):
            raise NotATable("the file has no text lines")
        raise NotATable(no_header.format(lines=HEAD_LINES))
    _, index, delim, headers = best
    return CsvHead(encoding, delim, index, headers)


# -- Parquet -----------------------------------------------------------------------------------------------

def read_parquet_schema(path: Path) -> pa.Schema:
    """The schema (footer) of a Parquet file, no rows read; raises ``NotATable`` when it cannot be read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise NotATable(f"the Parquet file cannot be read: {type(exc).__name__}") from None


def floating_fields(schema: pa.Schema, positions: Mapping[str, int], fields: Collection[str]) -> frozenset[str]:
    """Which of ``fields`` (present at ``positions``) are stored as floating point: an identity number
    stored so has lost digits (2^53 < 10^16) and must be shown as what it is, not as digits."""
    import pyarrow as pa

    return frozenset(name for name in fields if name in positions
                     and pa.types.is_floating(schema.field(positions[name]).type))


# -- XLSX --------------------------------------------------------------------------------------------------

def cell_text(value: Any, identity: bool, bool_text: tuple[str, str] = ("True", "False")) -> str | None:
    """A spreadsheet cell as the text staged for it.

    Dates are ISO (a time only when not midnight), whole floats without ``.0``, booleans as ``bool_text``
    (true, false). An ``identity`` column's number of 12 digits or more is shown in scientific notation
    (``%.14E``): Excel kept 15 significant digits, the rest is lost, and the validator must see that.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return bool_text[0] if value else bool_text[1]
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int | float) and identity and abs(value) >= 1e12:
        return f"{float(value):.14E}"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


@contextmanager
def open_workbook(path: Path, limits: ArchiveLimits | None = None) -> Iterator[Any]:
    """An XLSX workbook opened read-only (values, not formulas), closed on exit.

    The archive is checked against ``limits`` first (``archive_guard.check_archive``); worksheets are
    streamed by openpyxl, and the shared strings, which openpyxl would load into memory whole, are kept
    on disk (``archive_guard.SharedStrings``). Opened through a file object, so that the file's name (an
    upload's may have no extension) does not matter. Raises ``NotATable`` (``HostileArchive`` for a
    file over a limit) when the workbook cannot be opened.
    """
    from openpyxl.reader.excel import SHARED_STRINGS, ExcelReader

    from p3ke_platform.tabular.archive_guard import ArchiveLimits, HostileArchive, SharedStrings, check_archive

    bounds = limits or ArchiveLimits()
    check_archive(path, bounds, xlsx=True)
    strings: list[SharedStrings] = []

    class BoundedReader(ExcelReader):  # type: ignore[misc]
        def read_strings(self) -> None:
            ct = self.package.find(SHARED_STRINGS)
            if ct is not None:
                with self.archive.open(ct.PartName[1:]) as src:
                    strings.append(SharedStrings.read(src, bounds.max_shared_strings))
                self.shared_strings = strings[-1]

    with path.open("rb") as fh:
        try:
            reader = BoundedReader(fh, read_only=True, data_only=True)
            reader.read()
            wb = reader.wb
        except Exception as exc:  # openpyxl raises many kinds for damaged files
            for table in strings:
                table.close()
            hostile = exc if isinstance(exc, HostileArchive) else exc.__cause__  # openpyxl wraps a ValueError
            if isinstance(hostile, HostileArchive):
                raise hostile from None
            raise NotATable(f"the XLSX workbook cannot be opened: {type(exc).__name__}") from None
        try:
            yield wb
        finally:
            wb.close()
            for table in strings:
                table.close()


@dataclass
class SheetTable(Generic[L]):
    """A worksheet holding a table: its title, the 1-based row of its header, and its mapped layout."""

    title: str
    header_row: int
    layout: L


@dataclass
class SheetScan(Generic[L]):
    """The worksheets of a workbook, sorted by what their first ``HEAD_LINES`` rows hold."""

    tables: list[SheetTable[L]]  # in workbook order; never empty
    ignored: list[str] = field(default_factory=list)  # titles of sheets without a header row
    problems: list[str] = field(default_factory=list)  # "sheet T: why", for header rows the layout refused


def scan_sheets(wb: Any, score: Score, map_headers: Callable[[list[str]], L], *, no_header: str,
                min_score: int) -> SheetScan[L]:
    """Find each worksheet's header row (the first of its first ``HEAD_LINES`` rows naming ``min_score``
    fields) and map it with ``map_headers``.

    Raises ``LayoutError`` (the problems joined) when every header row found was refused, ``NotATable``
    (``no_header`` formatted with ``rows=HEAD_LINES``) when no sheet has one.
    """
    scan: SheetScan[L] = SheetScan([])
    for ws in wb.worksheets:
        found = None
        for r, row in enumerate(ws.iter_rows(max_row=HEAD_LINES, values_only=True), start=1):
            headers = ["" if v is None else str(v) for v in row]
            if score(headers) >= min_score:
                found = (r, headers)
                break
        if found is None:
            scan.ignored.append(ws.title)
            continue
        try:
            scan.tables.append(SheetTable(ws.title, found[0], map_headers(found[1])))
        except LayoutError as exc:
            scan.problems.append(f"sheet {ws.title}: {exc}")
    if not scan.tables:
        if scan.problems:
            raise LayoutError("; ".join(scan.problems))
        raise NotATable(no_header.format(rows=HEAD_LINES))
    return scan


def stage_sheets(wb: Any, sheets: Sequence[tuple[str, int, Mapping[str, int]]], target: Path, *,
                 columns: Sequence[str], line_column: str, sheet_column: str, identity: Collection[str] = (),
                 bool_text: tuple[str, str] = ("True", "False")) -> int:
    """Stream the rows below each sheet's header into the Parquet file ``target``, sheet after sheet, in
    chunks of ``XLSX_CHUNK_ROWS``; returns the number of rows written.

    ``sheets`` are (title, 1-based header row, field -> 0-based column position). ``columns`` is the
    staging schema in order: every field (text, NULL where a sheet lacks it), ``line_column`` (the row's
    1-based sheet row, BIGINT) and ``sheet_column`` (the sheet's title). Blank rows are skipped; cells are
    written with ``cell_text`` (``identity`` names the identity-number fields).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    fields = [c for c in columns if c not in (line_column, sheet_column)]
    schema = pa.schema([(c, pa.int64() if c == line_column else pa.string()) for c in columns])
    written = 0

    def chunk(title: str, values: list[list[str | None]], lines: list[int]) -> pa.Table:
        arrays = {c: pa.array(v, pa.string()) for c, v in zip(fields, values, strict=True)}
        arrays[line_column] = pa.array(lines, pa.int64())
        arrays[sheet_column] = pa.array([title] * len(lines), pa.string())
        return pa.Table.from_arrays([arrays[c] for c in columns], schema=schema)

    with pq.ParquetWriter(target, schema, compression="lz4") as writer:
        for title, header_row, positions in sheets:
            picks = [(positions.get(c), c in identity) for c in fields]
            values: list[list[str | None]] = [[] for _ in fields]
            lines: list[int] = []
            for r, row in enumerate(wb[title].iter_rows(min_row=header_row + 1, values_only=True),
                                    start=header_row + 1):
                if not any(v is not None and v != "" for v in row):
                    continue
                width = len(row)
                for out, (pos, ident) in zip(values, picks, strict=True):
                    out.append(cell_text(row[pos], ident, bool_text) if pos is not None and pos < width else None)
                lines.append(r)
                if len(lines) >= XLSX_CHUNK_ROWS:
                    writer.write_table(chunk(title, values, lines))
                    written += len(lines)
                    values, lines = [[] for _ in fields], []
            if lines:
                writer.write_table(chunk(title, values, lines))
                written += len(lines)
    return written


__all__ = ["DELIMITERS", "FALLBACK_ENCODING", "HEAD_BYTES", "HEAD_LINES", "XLSX_CHUNK_ROWS", "CsvHead", "Format",
           "NotATable", "SheetScan", "SheetTable", "cell_text", "decode_head", "detect_format", "floating_fields",
           "open_workbook", "read_parquet_schema", "scan_sheets", "sniff_csv_head", "stage_sheets"]
