"""An extract and its snapshot arriving at the same moment on PostgreSQL (each topic has its own agent,
so their handlers run in concurrent transactions): the handover still settles.

Before the handlers were serialised, each transaction missed the other's uncommitted row and the
handover stayed `pending` for ever; the feedback Kafka test timed out now and then because of it.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from p3ke_feedback.adapters.orm import signed_handovers
from p3ke_feedback.service_layer import handlers
from p3ke_schemas import CloudEvent
from tests.unit.feedback.helpers import (
    apply,
    dataset_event,
    feedback_runtime,
    handover_event,
    prepared_extract,
    synthetic_snapshot,
)

pytestmark = [pytest.mark.postgres]


def test_an_extract_and_its_snapshot_in_concurrent_transactions_still_settle(postgres_url: str,
                                                                             tmp_path: Path) -> None:
    snapshot = synthetic_snapshot(tmp_path / "snap", 1_500, seed=5, provinces=["32"])
    rt, people = feedback_runtime(tmp_path, snapshot, postgres_url)  # its shared root: tmp_path
    extract = prepared_extract(tmp_path, "ext-c", people[:300], columns=["nik"])  # no region/desil: needs the snapshot
    assert apply(rt, handover_event("ho-c", "ext-c", 300)) == []

    first = rt.sessions()
    handlers.extract_prepared(rt.context, rt.uow(first), CloudEvent.of(extract, source="test"))
    # the extract's transaction is open (not committed) while the snapshot's handler runs
    errors: list[BaseException] = []

    def snapshot_arrives() -> None:
        try:
            with rt.sessions() as second:
                handlers.dataset_updated(rt.context, rt.uow(second),
                                         CloudEvent.of(dataset_event(snapshot), source="test"))
                second.commit()
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)

    other = threading.Thread(target=snapshot_arrives)
    other.start()
    time.sleep(1.0)
    assert other.is_alive(), "the snapshot's handler must wait for the extract's transaction"
    first.commit()
    first.close()
    other.join(60)
    assert not other.is_alive() and errors == []
    with rt.sessions() as session:
        state = session.execute(select(signed_handovers.c.delivered_state, signed_handovers.c.delivered_total)
                                .where(signed_handovers.c.handover_id == "ho-c")).one()
    assert tuple(state) == ("settled", 300)
    rt.engine.dispose()
