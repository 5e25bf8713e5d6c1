"""One way to record an access to many subjects: `UnitOfWork.record_access` (chunking and record_count)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from p3ke_platform.audit_client import subject_ref
from p3ke_platform.unit_of_work import MAX_SUBJECTS_PER_EVENT, chunked
from p3ke_schemas import Actor
from tests.unit.test_platform_service_context import _runtime

ACTOR = Actor(org="kemnaker", subject="officer-1", roles=["program-officer"])


def _events(runtime: object, key: str) -> list[dict[str, object]]:
    outbox = runtime.spec.tables.outbox  # type: ignore[attr-defined]
    with runtime.engine.connect() as conn:  # type: ignore[attr-defined]
        values = conn.execute(select(outbox.c.value).where(outbox.c.key == key).order_by(outbox.c.seq)).scalars()
        return [json.loads(v) for v in values]


def test_chunked_reads_lazily_in_order() -> None:
    assert list(chunked(iter("abcdefg"), 3)) == [["a", "b", "c"], ["d", "e", "f"], ["g"]]
    assert list(chunked([], 3)) == []


def test_one_event_keeps_the_given_count_or_counts_its_subjects(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path)
    refs = [f"{i:064x}" for i in range(3)]
    with runtime.unit_of_work() as uow:
        uow.record_access(actor=ACTOR, action="download", resource_type="package", resource_id="given",
                          record_count=10, subject_refs=iter(refs))
        uow.record_access(actor=ACTOR, action="download", resource_type="package", resource_id="counted",
                          subject_refs=iter(refs))
        uow.record_access(actor=ACTOR, action="refusal", resource_type="package", resource_id="none",
                          outcome="denied", reason="no")
    assert [e["record_count"] for e in _events(runtime, "given")] == [10]
    assert [e["record_count"] for e in _events(runtime, "counted")] == [3]
    [refusal] = _events(runtime, "none")
    assert refusal["record_count"] == 0 and refusal["subject_refs"] == []


def test_a_split_access_counts_each_events_subjects_and_mixes_niks_and_refs(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path)
    refs = (f"{i:064x}" for i in range(MAX_SUBJECTS_PER_EVENT + 1))
    nik = "3201011201990001"
    with runtime.unit_of_work() as uow:
        returned = uow.record_access(actor=ACTOR, action="select", resource_type="extract", resource_id="big",
                                     record_count=999_999, subject_refs=refs, subject_niks=[nik, nik])
    events = _events(runtime, "big")
    assert len(returned) == len(events) == 2
    assert [e["record_count"] for e in events] == [MAX_SUBJECTS_PER_EVENT, 2]
    assert len({e["access_id"] for e in events}) == 2 and len({e["occurred_at"] for e in events}) == 1
    assert subject_ref(runtime.settings.subject_hash_key, nik) in events[1]["subject_refs"]
    assert nik not in json.dumps(events)
