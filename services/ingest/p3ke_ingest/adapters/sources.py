"""Open a submitted file as a table: detect its format, find its header, map its columns.

Only the file's head is read here (bounded, whatever the file's size); the rows are read later by the
columnar engine (``adapters.validation_engine``). XLSX is the exception: its sheets are streamed once with
openpyxl (read-only mode) into a staging Parquet file of text columns, which the engine then reads.
The file-intake plumbing is ``p3ke_platform.tabular.sources``; the P3KE layout and notes are here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from p3ke_ingest import p3ke_columns as cols
from p3ke_ingest.domain.findings import FILE_CODES
from p3ke_ingest.domain.layout import Layout, LayoutError, canonical, map_headers, score
from p3ke_platform.i18n import DEFAULT, Lang
from p3ke_platform.tabular import sources as tabular
from p3ke_platform.tabular.archive_guard import ArchiveLimits
from p3ke_platform.tabular.errors import explain
from p3ke_platform.tabular.layout import MIN_HEADER_SCORE, shown_names
from p3ke_platform.tabular.sources import FALLBACK_ENCODING, Format, NotATable

IDENTITY = ("nik", "no_kk")  # identity numbers a spreadsheet may have turned into numbers
DATES = ("tanggal_lahir",)  # date columns a spreadsheet may have stored as serial numbers
NO_HEADER = "file.no_header_p3ke"  # catalogue keys (findings.po)
NO_SHEET = "file.no_sheet_p3ke"


@dataclass
class FileNote:
    """A file-level finding: a code of ``FILE_CODES``, its message ``file.<code>`` filled with ``params``."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)
    key: str = ""  # the catalogue key, when not ``file.<code>``

    @property
    def severity(self) -> str:
        return FILE_CODES[self.code]

    def message(self, lang: Lang = DEFAULT) -> str:
        return explain(self.key or f"file.{self.code}", lang, **self._params(lang))[0]

    def fix(self, lang: Lang = DEFAULT) -> str:
        return explain(self.key or f"file.{self.code}", lang, **self._params(lang))[1]

    def _params(self, lang: Lang) -> dict[str, Any]:
        out = dict(self.params)
        if "delimiter" in out:
            out["delimiter"] = explain(f"delimiter.{out['delimiter']}", lang)[0]
        return out


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
    blank_rows: int = 0  # XLSX: blank rows skipped while staging


def sniff_csv(path: Path, label: cols.Level) -> Source:
    head = tabular.sniff_csv_head(path, score, no_header=NO_HEADER, min_score=MIN_HEADER_SCORE)
    notes = [FileNote("file_read", head.what_was_read())]
    if head.fallback_encoding:
        notes.append(FileNote("encoding_not_utf8", {"encoding": FALLBACK_ENCODING}))
    layout = map_headers(head.headers, label)
    notes += _layout_notes(layout)
    return Source(label=label, name=path.name, path=path, fmt="csv", layout=layout, notes=notes,
                  delimiter=head.delimiter, encoding=head.encoding, header_line=head.header_line)


def _layout_notes(layout: Layout) -> list[FileNote]:
    notes = []
    if layout.unknown:
        notes.append(FileNote("columns_unknown", {"columns": shown_names(layout.unknown)}))
    if layout.missing_optional:
        notes.append(FileNote("columns_optional_missing", {"columns": ", ".join(layout.missing_optional)}))
    return notes


def sniff_parquet(path: Path, label: cols.Level) -> Source:
    schema = tabular.read_parquet_schema(path)
    layout = map_headers(list(schema.names), label)
    numeric = tabular.floating_fields(schema, layout.positions, IDENTITY)
    notes = [FileNote("file_read", {"columns": len(schema.names)}, key="file.file_read_parquet"),
             *_layout_notes(layout)]
    return Source(label=label, name=path.name, path=path, fmt="parquet", layout=layout, notes=notes,
                  numeric_identity=numeric)


def stage_xlsx(path: Path, label: cols.Level, staged: Path) -> Source:
    """Stream the workbook's sheets with the P3KE layout into ``staged`` (Parquet, text columns)."""
    with tabular.open_workbook(path) as wb:
        scan = tabular.scan_sheets(wb, score, lambda headers: map_headers(headers, label), no_header=NO_SHEET,
                                   min_score=MIN_HEADER_SCORE)
        sheets = scan.tables
        names = [c for c in cols.columns(label) if any(c in s.layout.positions for s in sheets)]
        stats = tabular.stage_sheets(wb, [(s.title, s.header_row, s.layout.positions) for s in sheets], staged,
                                     columns=[*names, "_line", "_sheet"], line_column="_line", sheet_column="_sheet",
                                     identity=IDENTITY, dates=DATES, bool_text=(cols.YA, cols.TIDAK))
    first = sheets[0].layout
    layout = Layout(label, {c: i for i, c in enumerate(names)}, names, first.unknown,
                    [c for c in cols.columns(label) if c not in names])
    notes = [FileNote("file_read", {"sheets": ", ".join(s.title for s in sheets), "header_line": sheets[0].header_row,
                                    "title_rows": sheets[0].header_row - 1}, key="file.file_read_xlsx"),
             *_layout_notes(layout)]
    if scan.ignored:
        notes.append(FileNote("sheets_ignored", {"sheets": ", ".join(scan.ignored)}))
    if len(sheets) > 1:
        notes.append(FileNote("sheets_combined", {"sheets": ", ".join(s.title for s in sheets)}))
    notes += _numeric_notes(stats)
    return Source(label=label, name=path.name, path=path, fmt="xlsx", layout=layout, notes=notes, staged=staged,
                  blank_rows=stats.blank_rows)


def _numeric_notes(stats: tabular.Staging) -> list[FileNote]:
    """What the spreadsheet did to whole columns: NIKs stored as numbers (digits lost, or exact), dates stored
    as serial numbers. One file-level finding each, instead of only thousands of row findings."""
    notes = []
    nik, exact = stats.numeric.get("nik", 0), stats.exact.get("nik", 0)
    if nik - exact:
        notes.append(FileNote("nik_column_numeric", {"count": f"{nik - exact:,}", "rows": f"{stats.rows:,}"}))
    if exact:
        notes.append(FileNote("nik_column_numeric_exact", {"count": f"{exact:,}"}))
    kk = stats.numeric.get("no_kk", 0) - stats.exact.get("no_kk", 0)
    if kk:
        notes.append(FileNote("no_kk_column_numeric", {"count": f"{kk:,}"}))
    for column, count in stats.numeric_dates.items():
        notes.append(FileNote("dates_as_numbers", {"column": column, "count": f"{count:,}"}))
    return notes


def open_source(path: Path, label: cols.Level, work: Path, name: str | None = None) -> Source:
    """Sniff one file (raises NotATable or LayoutError with a reason)."""
    fmt = tabular.detect_format(path)
    if fmt == "csv":
        source = sniff_csv(path, label)
    elif fmt == "parquet":
        source = sniff_parquet(path, label)
    else:
        source = stage_xlsx(path, label, work / f"{label}-xlsx.parquet")
    if name:
        source.name = name
    return source


def precheck(path: Path, label: cols.Level, limits: ArchiveLimits | None = None) -> None:
    """The cheap part of ``open_source`` (no XLSX streaming), to refuse obvious mistakes at once; a ZIP/XLSX
    is checked against ``limits`` (``HostileArchive``, a ``NotATable`` with a ``status``)."""
    fmt = tabular.detect_format(path, limits)
    if fmt == "csv":
        sniff_csv(path, label)
    elif fmt == "parquet":
        sniff_parquet(path, label)


__all__ = ["FileNote", "Format", "LayoutError", "NotATable", "Source", "canonical", "open_source", "precheck"]
