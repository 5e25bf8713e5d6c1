"""Data keys on a real PostgreSQL (p3ke_platform.envelope.DataKeyStore): wrapping bound to its row, destruction
as a tombstone, and KEK rotation, after which a data key destroyed earlier does not open even from a copy of its
row taken before (a backup, WAL, a dead tuple)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from p3ke_platform.db import make_engine, new_metadata, session_factory, transaction
from p3ke_platform.envelope import (
    DataKeyStore,
    EnvelopeError,
    Kek,
    KekRing,
    KeyDestroyed,
    data_keys_table,
    new_kek_entry,
    parse_kek_ring,
)
from p3ke_platform.settings import ConfigurationError

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def db(postgres_url: str) -> Iterator[tuple[Any, Any]]:
    metadata = new_metadata()
    table = data_keys_table(metadata)
    engine = make_engine(postgres_url)
    metadata.create_all(engine)
    try:
        yield table, session_factory(engine)
    finally:
        engine.dispose()


def ring(*entries: str) -> KekRing:
    return parse_kek_ring("\n".join(entries))


def row_of(session: Any, table: Any, artefact_id: str) -> dict[str, Any]:
    return dict(session.execute(select(table).where(table.c.artefact_id == artefact_id)).mappings().one())


def test_a_data_key_is_stored_wrapped_and_bound_to_its_row(db: tuple[Any, Any]) -> None:
    table, sessions = db
    store = DataKeyStore(table, ring(new_kek_entry("k1")))
    with transaction(sessions) as s:
        made = store.create(s, "handover", "ho-1", NOW)
        other = store.create(s, "handover", "ho-2", NOW)
        assert store.create(s, "handover", "ho-1", NOW) == made  # a retry gets the same key
    with transaction(sessions) as s:
        assert store.get(s, "handover", "ho-1") == made and store.get(s, "handover", "ho-9") is None
        stored = row_of(s, table, "ho-1")
        assert made.secret not in bytes(stored["wrapped_key"]) and stored["kek_id"] == "k1"
        # ho-2's wrapped key copied onto ho-1's row does not open: the wrapping names key id and artefact
        s.execute(update(table).where(table.c.artefact_id == "ho-1")
                  .values(wrapped_key=row_of(s, table, "ho-2")["wrapped_key"]))
        with pytest.raises(EnvelopeError, match="does not unwrap"):
            store.get(s, "handover", "ho-1")
        s.rollback()
    assert other != made


def test_destroying_leaves_a_tombstone_and_the_artefact_is_never_rekeyed(db: tuple[Any, Any]) -> None:
    table, sessions = db
    store = DataKeyStore(table, ring(new_kek_entry("k1")))
    with transaction(sessions) as s:
        store.create(s, "handover", "ho-1", NOW)
    with transaction(sessions) as s:
        tomb = store.destroy(s, "handover", "ho-1", NOW + timedelta(days=30), "purpose ended")
        again = store.destroy(s, "handover", "ho-1", NOW + timedelta(days=31), "again")
        assert store.destroy(s, "handover", "ho-never", NOW, "x") is None
    assert tomb is not None and tomb == again and tomb.destroyed_at == NOW + timedelta(days=30)
    assert tomb.reason == "purpose ended" and tomb.kek_id == "k1"
    with transaction(sessions) as s:
        assert row_of(s, table, "ho-1")["wrapped_key"] is None
        with pytest.raises(KeyDestroyed, match="was destroyed at 2027-01-02T09:00:00"):
            store.get(s, "handover", "ho-1")
        with pytest.raises(KeyDestroyed):
            store.create(s, "handover", "ho-1", NOW)


def test_kek_rotation_keeps_live_keys_and_retiring_the_old_kek_kills_old_copies(db: tuple[Any, Any]) -> None:
    table, sessions = db
    k1, k2 = new_kek_entry("k1"), new_kek_entry("k2")
    before = DataKeyStore(table, ring(k1))
    with transaction(sessions) as s:
        live = before.create(s, "handover", "ho-live", NOW)
        disposed = before.create(s, "handover", "ho-disposed", NOW)
        backup = row_of(s, table, "ho-disposed")  # a database backup taken before the disposal
    with transaction(sessions) as s:
        before.destroy(s, "handover", "ho-disposed", NOW, "disposed")
    # the backup's copy still opens while k1 lives: destroying the row alone is not enough
    assert before.unwrap(backup) == disposed.secret

    rotating = DataKeyStore(table, ring(k2, k1))  # the new KEK first, the old one still in the ring
    with transaction(sessions) as s:
        done = rotating.rewrap_all(s, NOW + timedelta(days=1))
    assert done.rewrapped == 1 and done.from_keks == {"k1": 1}
    assert done.live_by_kek == {"k2": 1, "k1": 0} and done.unused == ["k1"]
    with transaction(sessions) as s:
        assert row_of(s, table, "ho-live")["kek_id"] == "k2"
        assert rotating.rewrap_all(s, NOW).rewrapped == 0  # nothing left to move

    after = DataKeyStore(table, ring(k2))  # k1 retired
    with transaction(sessions) as s:
        assert after.get(s, "handover", "ho-live") == live
    with pytest.raises(ConfigurationError, match="KEK k1"):
        after.unwrap(backup)  # nothing the system holds opens the backup's copy any more
    for kek in after.ring.keys:  # not even trying the remaining KEK on it
        forced = DataKeyStore(table, KekRing((Kek("k1", kek.key),)))
        with pytest.raises(EnvelopeError):
            forced.unwrap(backup)
