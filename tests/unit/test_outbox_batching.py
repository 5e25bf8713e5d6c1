"""The outbox writes a transaction's events in one statement at commit, and a rollback forgets exactly the events
queued in what it undid (a savepoint's rollback keeps the events queued before it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import event, select

from p3ke_platform.messaging.outbox import flush_outbox
from p3ke_schemas import Actor
from tests.unit.test_platform_service_context import _runtime

ACTOR = Actor(org="kemnaker", subject="officer-1", roles=["program-officer"])


def _keys(runtime: object) -> list[str]:
    outbox = runtime.spec.tables.outbox  # type: ignore[attr-defined]
    with runtime.engine.connect() as conn:  # type: ignore[attr-defined]
        return list(conn.execute(select(outbox.c.key).where(outbox.c.key.like("r-%")).order_by(outbox.c.seq))
                    .scalars())


def _emit(uow: object, name: str) -> None:
    uow.record_access(actor=ACTOR, action="read", resource_type="bench", resource_id=name)  # type: ignore[attr-defined]


def test_a_transactions_events_are_one_statement_in_order(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path)
    inserts: list[int] = []

    def count(conn: object, cursor: object, statement: str, parameters: object, context: object,
              executemany: bool) -> None:
        if statement.startswith("INSERT INTO outbox"):
            inserts.append(len(parameters) if executemany else 1)  # type: ignore[arg-type]

    event.listen(runtime.engine, "before_cursor_execute", count)
    with runtime.unit_of_work() as uow:
        for i in range(50):
            _emit(uow, f"r-{i:02d}")
    assert inserts == [50]
    assert _keys(runtime) == [f"r-{i:02d}" for i in range(50)]


def test_a_rolled_back_transaction_writes_nothing(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path)
    with pytest.raises(RuntimeError), runtime.unit_of_work() as uow:
        _emit(uow, "r-lost")
        raise RuntimeError("undo")
    with runtime.unit_of_work() as uow:
        _emit(uow, "r-kept")
    assert _keys(runtime) == ["r-kept"]


def test_a_savepoint_rollback_forgets_only_its_own_events(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path)
    with runtime.unit_of_work() as uow:
        _emit(uow, "r-1-before")
        with pytest.raises(RuntimeError), uow.session.begin_nested():
            _emit(uow, "r-2-undone")
            raise RuntimeError("reject this one")
        with uow.session.begin_nested():
            _emit(uow, "r-3-released")
        with pytest.raises(RuntimeError), uow.session.begin_nested():
            _emit(uow, "r-4-undone")
            raise RuntimeError("reject this one too")
        _emit(uow, "r-5-after")
    assert _keys(runtime) == ["r-1-before", "r-3-released", "r-5-after"]


def test_flush_makes_the_events_readable_inside_the_transaction(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path)
    outbox = runtime.spec.tables.outbox
    with runtime.unit_of_work() as uow:
        _emit(uow, "r-early")
        assert uow.session.execute(select(outbox.c.key).where(outbox.c.key == "r-early")).first() is None
        flush_outbox(uow.session)
        assert uow.session.execute(select(outbox.c.key).where(outbox.c.key == "r-early")).first() is not None
    assert _keys(runtime) == ["r-early"]
