"""Each service's README states what it consumes and produces, and that matches the contract."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from p3ke_schemas import EVENTS

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ["ingest", "targeting", "delivery", "feedback", "audit"]


def _table(readme: str) -> set[tuple[str, str]]:
    rows = re.findall(r"^\|\s*(consumes|produces)\s*\|\s*`([^`]+)`", readme, re.M)
    return {(direction, topic) for direction, topic in rows}


@pytest.mark.parametrize("service", SERVICES)
def test_readme_table_matches_contract(service: str) -> None:
    readme = (ROOT / "services" / service / "README.md").read_text()
    expected = {("consumes", s.topic) for s in EVENTS if service in s.consumers}
    expected |= {("produces", s.topic) for s in EVENTS if service in s.producers}
    assert _table(readme) == expected


@pytest.mark.parametrize("service", SERVICES)
def test_worker_subscriptions_match_contract(service: str) -> None:
    from p3ke_platform.service import installed_service

    spec = installed_service(service)
    assert set(spec.topics) == {s.topic for s in EVENTS if service in s.consumers}
