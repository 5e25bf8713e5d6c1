"""Keep a CSV cell text when a spreadsheet opens it (CSV/formula injection, OWASP).

Excel, LibreOffice and Google Sheets run a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a
formula (``=HYPERLINK(...)`` can send data away), and treat a leading tab or carriage return the same
way. OWASP's guidance: prefix such a cell with a single quote, which the spreadsheet shows as text. The
one rule for every CSV the system writes for people (ingest and feedback findings, the feedback report,
the package CSV, the audit export): ``formula_safe`` for a value, ``formula_safe_batch`` for the
string columns of an Arrow batch (numbers, dates and booleans are typed: a negative number stays a
number).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_REGEX = "^[=+\\-@\\t\\r]"


def formula_safe(value: Any) -> str:
    """The cell's text (``""`` for None), with a ``'`` before it when it starts like a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_LEADS) else text


def formula_safe_row(values: Any) -> list[str]:
    """``formula_safe`` of each value of a row."""
    return [formula_safe(v) for v in values]


class SafeWriter:
    """A ``csv.writer`` whose rows go through ``formula_safe_row``."""

    def __init__(self, stream: Any, **options: Any) -> None:
        self._writer = csv.writer(stream, **options)

    def writerow(self, values: Iterable[Any]) -> Any:
        return self._writer.writerow(formula_safe_row(values))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def formula_safe_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The batch with every string cell that starts like a formula prefixed with ``'`` (vectorised);
    columns of other types, and nulls, unchanged."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for column in batch.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            risky = pc.fill_null(pc.match_substring_regex(column, _FORMULA_REGEX), False)
            if pc.any(risky).as_py():
                column = pc.if_else(risky, pc.binary_join_element_wise("'", column, ""), column)
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, schema=batch.schema)


__all__ = ["FORMULA_LEADS", "SafeWriter", "formula_safe", "formula_safe_batch", "formula_safe_row"]
