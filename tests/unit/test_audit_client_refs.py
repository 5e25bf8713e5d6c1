"""A data-access event names its subjects sorted and each once, whatever order and repeats they came in."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime

from p3ke_platform.audit_client import access_event, sorted_unique
from p3ke_schemas import Actor

ACTOR = Actor(org="kemnaker", subject="officer-1", roles=["program-officer"])


def _refs(n: int) -> list[str]:
    return [hashlib.sha256(str(i).encode()).hexdigest() for i in range(n)]


def test_sorted_unique_sorts_and_removes_repeats_and_keeps_a_list_already_so() -> None:
    refs = _refs(50)
    shuffled = refs + refs[:7]
    random.Random(1).shuffle(shuffled)
    assert sorted_unique(shuffled) == sorted(refs)
    ordered = sorted(refs)
    assert sorted_unique(ordered) is ordered  # one pass, no copy
    repeated = sorted(refs + refs[:1])  # in order, but one twice
    assert sorted_unique(repeated) == ordered
    assert sorted_unique([]) == [] and sorted_unique(refs[:1]) == refs[:1]


def test_an_access_event_names_its_subjects_sorted_and_once() -> None:
    refs = _refs(20)
    given = list(reversed(refs)) + refs[:3]
    event = access_event(service="targeting", actor=ACTOR, action="select", resource_type="extract",
                         resource_id="ext-1", outcome="allowed", subject_refs=given, at=datetime.now(UTC))
    assert event.subject_refs == sorted(refs)
