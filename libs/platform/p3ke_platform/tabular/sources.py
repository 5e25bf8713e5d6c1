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
        raise NotATable(key="file.empty")
    if head.startswith(b"PAR1"):
        if tail != b"PAR1":
            raise NotATable(key="file.parquet_truncated")
        return "parquet"
    if head.startswith(b"PK\x03\x04"):
        from p3ke_platform.tabular.archive_guard import ArchiveLimits, check_archive

        check_archive(path, limits or ArchiveLimits(), xlsx=True)  # before anything decompresses it
        try:
            with zipfile.ZipFile(path) as z:
                names = set(z.namelist())
        except zipfile.BadZipFile:
            raise NotATable(key="file.xlsx_damaged") from None
        if "xl/workbook.xml" not in names:
            raise NotATable(key="file.zip_not_xlsx")
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise NotATable(key="file.xls_old")
    return "csv"


# -- CSV ---------------------------------------------------------------------------------------------------

def decode_head(raw: bytes) -> tuple[str, str]:
    """The text of a CSV head and the encoding to read the whole file with: UTF-16 (with its BOM), UTF-8
    (a BOM is skipped), else ``FALLBACK_ENCODING``. Raises ``NotATable`` for binary content."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16", "replace"), "utf-16"
    if b"\x00" in raw:
        raise NotATable(key="file.binary")
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
        raise NotATable(key="file.binary")
    return text, "utf-8"


DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
"""How a delimiter is named in a message (``file.read_csv``: the catalogue key ``delimiter.<name>``)."""


@dataclass(frozen=True)
class CsvHead:
    """What the head of a CSV file says about reading it."""

    encoding: str  # "utf-8", "utf-16" or FALLBACK_ENCODING
    delimiter: str
    header_index: int  # 0-based line of the header row (lines above it are titles, skipped)
    headers: list[str]
    bom: bool = False  # the file starts with a byte order mark (UTF-8 or UTF-16)
    line_break: str = "LF"  # "CRLF", "LF" or "CR": how the head's lines end

    @property
    def header_line(self) -> int:
        """1-based physical line of the header (a data row's line is ``header_line + row``)."""
        return self.header_index + 1

    @property
    def fallback_encoding(self) -> bool:
        """The file is not UTF-8: it is read as ``FALLBACK_ENCODING`` (worth a note to the submitter)."""
        return self.encoding == FALLBACK_ENCODING

    def what_was_read(self) -> dict[str, Any]:
        """The parameters of the ``file.read_csv`` info finding (what the reader saw, no value from the file)."""
        encoding = {"utf-8": "UTF-8", "utf-16": "UTF-16"}.get(self.encoding, self.encoding)
        return {"delimiter": DELIMITER_NAMES.get(self.delimiter, self.delimiter),
                "encoding": encoding + (" + BOM" if self.bom else ""), "line_break": self.line_break,
                "header_line": self.header_line, "title_rows": self.header_index}


def _line_break(text: str) -> str:
    crlf, lf, cr = text.count("\r\n"), text.count("\n"), text.count("\r")
    if crlf and crlf >= lf - crlf:
        return "CRLF"
    return "CR" if cr > lf else "LF"


def _no_header(no_header: str, **params: Any) -> NotATable:
    """``no_header`` is a catalogue key (``file.…``) or, for older callers, a text with ``{lines}``/``{rows}``."""
    from p3ke_platform import i18n
    from p3ke_platform.tabular.errors import DOMAIN

    if i18n.has(DOMAIN, no_header):
        return NotATable(key=no_header, **params)
    return NotATable(no_header.format(**params))


def sniff_csv_head(path: Path, score: Score, *, no_header: str, min_score: int) -> CsvHead:
    """Find the header row of a CSV file in its first ``HEAD_LINES`` lines (read: ``HEAD_BYTES`` at most).

    The header is the first line that, split by one of ``DELIMITERS``, names at least ``min_score`` fields
    by ``score``; on that line the delimiter naming the most fields wins. Raises ``NotATable`` (binary
    content, no line break in the head, no text, or ``no_header``, a catalogue key, with ``lines=HEAD_LINES``).
    """
    with path.open("rb") as f:
        raw = f.read(HEAD_BYTES)
    text, encoding = decode_head(raw)
    if len(raw) == HEAD_BYTES and not any(ch in text for ch in "\r\n"):
        # one line longer than everything looked at: not a table as submitted (or lines ended by a
        # character no CSV reader takes): say so, with the limit, rather than "no text lines"
        raise NotATable(key="file.no_line_break", head_bytes=f"{HEAD_BYTES:,}", head_mib=HEAD_BYTES // 2**20)
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
            raise NotATable(key="file.no_text")
        raise _no_header(no_header, lines=HEAD_LINES)
    _, index, delim, headers = best
    bom = raw.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    return CsvHead(encoding, delim, index, headers, bom=bom, line_break=_line_break(text[:65536]))


# -- Parquet -----------------------------------------------------------------------------------------------

def read_parquet_schema(path: Path) -> pa.Schema:
    """The schema (footer) of a Parquet file, no rows read; raises ``NotATable`` when it cannot be read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise NotATable(key="file.parquet_unreadable", error=type(exc).__name__) from None


def floating_fields(schema: pa.Schema, positions: Mapping[str, int], fields: Collection[str]) -> frozenset[str]:
    """Which of ``fields`` (present at ``positions``) are stored as floating point: an identity number
    stored so has lost digits (2^53 < 10^16) and must be shown as what it is, not as digits."""
    import pyarrow as pa

    return frozenset(name for name in fields if name in positions
                     and pa.types.is_floating(schema.field(positions[name]).type))


# -- XLSX --------------------------------------------------------------------------------------------------

NIK_LOW, NIK_HIGH = 10**15, 10**16  # a 16-digit identity number as a whole number


EXACT_DOUBLE = 2**53  # every whole number up to here is exact as a double; above it, only even ones exist


def exact_identity(value: Any, exact: bool = False) -> bool:
    """Is this numeric cell of an identity column a 16-digit number written exactly (by a program)?

    A spreadsheet number is a double. Excel keeps 15 significant digits: a 16-digit number it rounded ends
    in 0. An integer cell whose last digit is not 0 was written exactly; one ending in 0 is exact only when
    ``exact`` says the column was (other cells of the column prove it was written by a program). Above 2^53
    a double holds only even numbers, so a program writing through a double rounds an odd NIK to an even
    neighbour: there, only an odd number is known to be exact. Floats are never exact here.
    """
    if not isinstance(value, int) or isinstance(value, bool) or not NIK_LOW <= value < NIK_HIGH:
        return False
    if value > EXACT_DOUBLE:
        return value % 2 == 1
    return exact or value % 10 != 0


def cell_text(value: Any, identity: bool, bool_text: tuple[str, str] = ("True", "False"), *,
              exact: bool = False) -> str | None:
    """A spreadsheet cell as the text staged for it.

    Dates are ISO (a time only when not midnight), whole floats without ``.0``, booleans as ``bool_text``
    (true, false). An ``identity`` column's exact 16-digit whole number (``exact_identity``) is its digits;
    any other number of 12 digits or more there is shown in scientific notation (``%.14E``): Excel kept 15
    significant digits, the rest is lost, and the validator must see that.
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
    if identity and exact_identity(value, exact):
        return str(value)
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
            raise NotATable(key="file.xlsx_unreadable", error=type(exc).__name__) from None
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
    problems: list[str] = field(default_factory=list)  # "T: why", for header rows the layout refused
    errors: list[LayoutError] = field(default_factory=list)  # the same, as raised


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
            scan.problems.append(f"{ws.title}: {exc}")
            scan.errors.append(exc)
    if not scan.tables:
        if scan.problems:
            raise scan.errors[0] if len(scan.errors) == 1 else LayoutError("; ".join(scan.problems))
        raise _no_header(no_header, rows=HEAD_LINES)
    return scan


@dataclass
class Staging:
    """What streaming a workbook into the staging file saw (for the file-level findings)."""

    rows: int = 0  # rows written
    blank_rows: int = 0  # rows below a header with no value at all: skipped
    numeric: dict[str, int] = field(default_factory=dict)  # identity field -> cells stored as numbers
    exact: dict[str, int] = field(default_factory=dict)  # identity field -> of those, exact 16-digit numbers
    numeric_dates: dict[str, int] = field(default_factory=dict)  # date field -> cells stored as plain numbers
    sheets: list[str] = field(default_factory=list)  # the titles of the sheets read, in order


def stage_sheets(wb: Any, sheets: Sequence[tuple[str, int, Mapping[str, int]]], target: Path, *,
                 columns: Sequence[str], line_column: str, sheet_column: str, identity: Collection[str] = (),
                 dates: Collection[str] = (), bool_text: tuple[str, str] = ("True", "False")) -> Staging:
    """Stream the rows below each sheet's header into the Parquet file ``target``, sheet after sheet, in
    chunks of ``XLSX_CHUNK_ROWS``; returns what it saw (``Staging``: rows written, blank rows skipped,
    identity and date cells stored as numbers).

    ``sheets`` are (title, 1-based header row, field -> 0-based column position). ``columns`` is the
    staging schema in order: every field (text, NULL where a sheet lacks it), ``line_column`` (the row's
    1-based sheet row, BIGINT) and ``sheet_column`` (the sheet's title). Blank rows are skipped; cells are
    written with ``cell_text`` (``identity`` names the identity-number fields, ``dates`` the date fields).

    An identity column written by a program holds exact 16-digit numbers; one of them ending in 0 cannot be
    told from a number Excel rounded, unless the column's other numbers prove it exact: when a sheet has
    both, it is streamed a second time with the column taken as exact.
    """
    stats = _stage_sheets(wb, sheets, target, columns, line_column, sheet_column, identity, dates, bool_text,
                          frozenset())
    proven = frozenset(f for f in identity if stats.exact.get(f) and stats.numeric.get(f, 0) > stats.exact[f])
    if proven:
        stats = _stage_sheets(wb, sheets, target, columns, line_column, sheet_column, identity, dates, bool_text,
                              proven)
    return stats


def _stage_sheets(wb: Any, sheets: Sequence[tuple[str, int, Mapping[str, int]]], target: Path,
                  columns: Sequence[str], line_column: str, sheet_column: str, identity: Collection[str],
                  dates: Collection[str], bool_text: tuple[str, str], exact: frozenset[str]) -> Staging:
    import pyarrow as pa
    import pyarrow.parquet as pq

    fields = [c for c in columns if c not in (line_column, sheet_column)]
    schema = pa.schema([(c, pa.int64() if c == line_column else pa.string()) for c in columns])
    stats = Staging()

    def chunk(title: str, values: list[list[str | None]], lines: list[int]) -> pa.Table:
        arrays = {c: pa.array(v, pa.string()) for c, v in zip(fields, values, strict=True)}
        arrays[line_column] = pa.array(lines, pa.int64())
        arrays[sheet_column] = pa.array([title] * len(lines), pa.string())
        return pa.Table.from_arrays([arrays[c] for c in columns], schema=schema)

    numeric_kinds = (int, float)
    with pq.ParquetWriter(target, schema, compression="lz4") as writer:
        for title, header_row, positions in sheets:
            stats.sheets.append(title)
            picks = [(positions.get(c), c in identity, c in dates, c in exact, c) for c in fields]
            values: list[list[str | None]] = [[] for _ in fields]
            lines: list[int] = []
            for r, row in enumerate(wb[title].iter_rows(min_row=header_row + 1, values_only=True),
                                    start=header_row + 1):
                if not any(v is not None and v != "" for v in row):
                    stats.blank_rows += 1
                    continue
                width = len(row)
                for out, (pos, ident, date, ex, name) in zip(values, picks, strict=True):
                    if pos is None or pos >= width:
                        out.append(None)
                        continue
                    value = row[pos]
                    if isinstance(value, numeric_kinds) and not isinstance(value, bool):
                        if ident:
                            stats.numeric[name] = stats.numeric.get(name, 0) + 1
                            if exact_identity(value, ex):
                                stats.exact[name] = stats.exact.get(name, 0) + 1
                        elif date:
                            stats.numeric_dates[name] = stats.numeric_dates.get(name, 0) + 1
                    out.append(cell_text(value, ident, bool_text, exact=ex))
                lines.append(r)
                if len(lines) >= XLSX_CHUNK_ROWS:
                    writer.write_table(chunk(title, values, lines))
                    stats.rows += len(lines)
                    values, lines = [[] for _ in fields], []
            if lines:
                writer.write_table(chunk(title, values, lines))
                stats.rows += len(lines)
    return stats


__all__ = ["DELIMITERS", "DELIMITER_NAMES", "FALLBACK_ENCODING", "HEAD_BYTES", "HEAD_LINES", "XLSX_CHUNK_ROWS",
           "CsvHead", "Format", "NotATable", "SheetScan", "SheetTable", "Staging", "cell_text", "decode_head",
           "detect_format", "exact_identity", "floating_fields", "open_workbook", "read_parquet_schema",
           "scan_sheets", "sniff_csv_head", "stage_sheets"]
