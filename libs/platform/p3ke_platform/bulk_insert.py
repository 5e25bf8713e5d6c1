"""Inserting a batch's rows into one or more tables with one statement, whatever their number.

PostgreSQL: `INSERT ... SELECT * FROM unnest(%b::type[], ...)`, one array per column (sent in binary), the tables
chained as data-modifying CTEs: one fixed statement the server prepares once and one round trip per batch, instead of
one execution (or one multi-row VALUES list built in Python) per row. SQLite (in-process, no round trips): an
executemany of the plain INSERT per table.

Used for what a worker writes per event: the inbox's rows (every service) and the audit log's entries, tree nodes
and subject references. Measured on the audit worker (`bench audit` at 3·10^4 entries): SQLAlchemy's executemany of
the inbox rows cost about 45 µs per event of the worker's own time, most of it building the statement's parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

Part = tuple[Table, Sequence[str], Sequence[Sequence[Any]]]
"""(table, columns, rows as tuples in `columns` order)"""

_UNNEST: dict[tuple[tuple[Table, tuple[str, ...]], ...], str] = {}


def insert_rows(db: Session | Connection, parts: Sequence[Part]) -> None:
    """Insert every part's rows (parts without rows are skipped), in one statement on PostgreSQL."""
    present = [(table, tuple(columns), rows) for table, columns, rows in parts if rows]
    if not present:
        return
    bind = db.get_bind() if isinstance(db, Session) else db
    if bind.dialect.name == "postgresql":
        conn = db.connection() if isinstance(db, Session) else db
        arrays = tuple(list(column) for _, _, rows in present for column in zip(*rows, strict=True))
        conn.exec_driver_sql(_unnest_insert(tuple((table, columns) for table, columns, _ in present)), arrays)
    else:
        for table, columns, rows in present:
            db.execute(insert(table), [dict(zip(columns, r, strict=True)) for r in rows])


def _unnest_insert(parts: tuple[tuple[Table, tuple[str, ...]], ...]) -> str:
    sql = _UNNEST.get(parts)
    if sql is None:
        from sqlalchemy.dialects import postgresql

        dialect = postgresql.dialect()
        quote = dialect.identifier_preparer.quote
        inserts = []
        for table, columns in parts:
            arrays = ", ".join(f"%b::{table.c[c].type.compile(dialect=dialect)}[]" for c in columns)
            inserts.append(f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
                           f"SELECT * FROM unnest({arrays})")
        *first, last = inserts
        sql = _UNNEST[parts] = "".join(
            ("WITH " if i == 0 else ", ") + f"w{i} AS ({stmt})" for i, stmt in enumerate(first)) + (
            " " if first else "") + last
    return sql
