"""Streaming writers for the synthetic files: CSV, XLSX (xlsxwriter, constant memory) and Parquet.

Each sink takes Arrow tables chunk by chunk; nothing but the current chunk is held in memory.

CSV is formatted with Arrow kernels (every column cast to text, rows joined element-wise, the joined
buffer written as is), because Arrow's own CSV writer puts quotes around every string and real P3KE
CSV exports do not: here a field is quoted only when it contains the delimiter, a quote or a line break.
No field contains a line break, so line ``k`` of the file is data row ``k - 1 - preamble``.
"""

from __future__ import annotations

import datetime as dt
import re
import struct
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

XLSX_MAX_ROWS = 1_048_576
BOM = b"\xef\xbb\xbf"
_SCIENTIFIC = re.compile(r"^\d\.\d+E\+\d+$")


class Sink(Protocol):
    path: Path
    rows: int

    def write(self, table: pa.Table) -> None: ...

    def close(self) -> None: ...


def _as_text(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return column if pa.types.is_string(column.type) else pc.cast(column, pa.string())


def _quoted(column: pa.Array, delimiter: str) -> pa.Array:
    """Values with the delimiter, a quote or a line break in quotes (inner quotes doubled)."""
    pattern = "[" + re.escape(delimiter) + '"\r\n]'
    needs = pc.match_substring_regex(column, pattern)
    if not pc.any(needs).as_py():
        return column
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(column, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, column)


def csv_lines(
    table: pa.Table,
    delimiter: str = ",",
    eol: str = "\n",
    check: Collection[str] | None = None,
) -> bytes | memoryview:
    """The table's rows as CSV text (no header), nulls as empty fields, quotes only where needed.

    Only the string columns named in ``check`` (default: all) are scanned for characters that need
    quoting; the generator passes the columns whose values can contain them (region names, free text)
    -- its vocabularies have none, which a unit test checks. Rows are joined by Arrow kernels and the
    joined buffer is returned as is.
    """
    if table.num_rows == 0:
        return b""
    fields = []
    for i, name in enumerate(table.column_names):
        col = _as_text(table.column(i))
        if check is None or name in check:
            col = _quoted(col, delimiter)
        fields.append(col)
    # the line end rides on the last field, so the big join is the only copy of the data
    fields[-1] = pc.binary_join_element_wise(fields[-1], eol, "", null_handling="replace", null_replacement="")
    lines = pc.binary_join_element_wise(*fields, delimiter, null_handling="replace", null_replacement="")
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    _, offsets, data = lines.buffers()
    width = 8 if pa.types.is_large_string(lines.type) else 4
    fmt = "<q" if width == 8 else "<i"
    start = struct.unpack_from(fmt, offsets, lines.offset * width)[0]
    end = struct.unpack_from(fmt, offsets, (lines.offset + len(lines)) * width)[0]
    return memoryview(data)[start:end]


def _header_line(names: Sequence[str], delimiter: str) -> str:
    return delimiter.join(f'"{n}"' if delimiter in n or '"' in n else n for n in names)


class CsvSink:
    def __init__(
        self,
        path: Path,
        columns: Sequence[str],
        *,
        delimiter: str = ",",
        eol: str = "\n",
        bom: bool = False,
        preamble: Sequence[str] = (),
        check: Collection[str] | None = None,
    ) -> None:
        self.path = path
        self.rows = 0
        self.check = check
        self.delimiter = delimiter
        self.eol = eol
        self._f = open(path, "wb")  # noqa: SIM115 - closed in close()
        if bom:
            self._f.write(BOM)
        head = [*preamble, _header_line(columns, delimiter)]
        self._f.write("".join(line + eol for line in head).encode("utf-8"))

    def write(self, table: pa.Table) -> None:
        self._f.write(csv_lines(table, self.delimiter, self.eol, self.check))
        self.rows += table.num_rows

    def close(self) -> None:
        self._f.close()


class ParquetSink:
    """One row group per written chunk."""

    def __init__(self, path: Path, schema: pa.Schema, compression: str = "zstd") -> None:
        self.path = path
        self.rows = 0
        self._w = pq.ParquetWriter(path, schema, compression=compression)

    def write(self, table: pa.Table) -> None:
        if table.num_rows:
            self._w.write_table(table, row_group_size=table.num_rows)
            self.rows += table.num_rows

    def close(self) -> None:
        self._w.close()


class XlsxTooLarge(ValueError):
    """More rows than one worksheet holds (1,048,576 including the header)."""


class XlsxSink:
    """One worksheet, written row by row in xlsxwriter's constant-memory mode.

    Text stays text (NIKs are never numbers), except values that the defect injector made into a
    spreadsheet-mangled NIK (``3.20101410190000E+15``): those become numeric cells, as Excel does.
    """

    def __init__(
        self,
        path: Path,
        columns: Sequence[str],
        *,
        sheet: str = "Data",
        preamble: Sequence[str] = (),
        created: dt.datetime | None = None,
    ) -> None:
        import xlsxwriter

        self.path = path
        self.rows = 0
        self._wb = xlsxwriter.Workbook(
            str(path),
            {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
             "strings_to_numbers": False},
        )  # fmt: skip
        self._wb.set_properties({"created": created or dt.datetime(2000, 1, 1), "author": "p3ke synth"})
        self._ws = self._wb.add_worksheet(sheet)
        self._next = 0
        for line in preamble:
            if line:
                self._ws.write_string(self._next, 0, line)
            self._next += 1
        self._ws.write_row(self._next, 0, list(columns))
        self._next += 1

    def write(self, table: pa.Table) -> None:
        if self._next + table.num_rows > XLSX_MAX_ROWS:
            raise XlsxTooLarge(f"{self.path.name}: more than {XLSX_MAX_ROWS:,} rows do not fit in one worksheet")
        for start in range(0, table.num_rows, self.SLICE):
            self._write_rows(table.slice(start, self.SLICE))
        self.rows += table.num_rows

    SLICE = 2_000  # rows turned into Python objects at a time

    def _write_rows(self, table: pa.Table) -> None:
        columns = []
        for i in range(table.num_columns):
            col = table.column(i)
            if pa.types.is_date(col.type):
                col = pc.cast(col, pa.string())
            columns.append(col.to_pylist())
        ws_string, ws_number = self._ws.write_string, self._ws.write_number
        r = self._next
        for row in zip(*columns, strict=True):
            for c, v in enumerate(row):
                if v is None:
                    continue
                if isinstance(v, str):
                    if v and v[0].isdigit() and "E+" in v and _SCIENTIFIC.match(v):
                        ws_number(r, c, float(v))
                    else:
                        ws_string(r, c, v)
                else:
                    ws_number(r, c, v)
            r += 1
        self._next = r

    def close(self) -> None:
        self._wb.close()
