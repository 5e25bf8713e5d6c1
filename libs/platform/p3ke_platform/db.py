"""Database engines and sessions: SQLite is the embedded default, PostgreSQL is production.

Nothing is built at import; a service builds its engine once in its bootstrap.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    """A MetaData with explicit constraint names, so migrations are the same on SQLite and PostgreSQL."""
    return MetaData(naming_convention=NAMING_CONVENTION)


_READ_ONLY = "p3ke_read_only"
READ_ONLY = {_READ_ONLY: True}
"""Execution options of a connection whose transactions only read. On SQLite they begin DEFERRED: a consistent
snapshot that waits for no writer and makes none wait (every other transaction begins IMMEDIATE, taking the write
lock at once). Elsewhere they change nothing."""


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, **kwargs: Any) -> Engine:
    # A failed statement's exception text would hold its bound values ("[parameters: ('3201...',
    # 'Siti Aminah')]"), and exceptions end up in logs and dead-letter reasons: never put them there.
    kwargs.setdefault("hide_parameters", True)
    if is_sqlite(url):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 10)
    # psycopg prepares a statement after 5 runs and PostgreSQL may then keep a generic plan made while
    # a table was tiny (a full scan for `event_id IN (...)` on a grown inbox); plan every query afresh.
    connect_args = {"options": "-c plan_cache_mode=force_custom_plan", **kwargs.pop("connect_args", {})}
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Python's sqlite3 opens transactions lazily and inconsistently; take control of BEGIN ourselves.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    # A writer takes the lock at BEGIN, so two processes never deadlock upgrading a read lock; a transaction that
    # only reads (READ_ONLY) takes none.
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(_READ_ONLY) else "BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
