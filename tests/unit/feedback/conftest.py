from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from p3ke_platform.api import create_app
from p3ke_platform.auth import DevIssuer
from p3ke_platform.service import Runtime
from tests.unit.feedback.helpers import (
    apply,
    dataset_event,
    feedback_runtime,
    handover_event,
    prepared_extract,
    synthetic_snapshot,
)


@pytest.fixture(scope="session")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6,000 synthetic persons in two provinces, in the Parquet layout ingest publishes."""
    return synthetic_snapshot(tmp_path_factory.mktemp("feedback-snapshot"), 6_000, seed=21, provinces=["32", "33"])


@dataclass
class World:
    """A feedback service that knows one snapshot (dv-1) and one signed padat_karya handover (ho-1) of
    an extract (ext-1) holding the first 400 persons of the snapshot."""

    runtime: Runtime
    tmp: Path
    snapshot: Path
    people: list[dict[str, Any]]
    delivered: list[dict[str, Any]]

    @property
    def present(self) -> set[str]:
        return {p["nik"] for p in self.people}

    @property
    def outside(self) -> list[dict[str, Any]]:
        """Persons of the snapshot that were not handed over."""
        return self.people[2000:]


def build_world(tmp_path: Path, snapshot: Path, **overrides: Any) -> World:
    rt, people = feedback_runtime(tmp_path, snapshot, **overrides)  # its shared root holds snapshot and extracts
    extract = prepared_extract(tmp_path, "ext-1", people[:400])
    assert apply(rt, dataset_event(snapshot), extract, handover_event("ho-1", "ext-1", 400)) == []
    return World(rt, tmp_path, snapshot, people, people[:400])


@pytest.fixture
def world(tmp_path: Path, snapshot: Path) -> Iterator[World]:
    w = build_world(tmp_path, snapshot)
    yield w
    w.runtime.engine.dispose()


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.runtime)) as c:
        yield c


def auth(runtime: Runtime, org: str = "kemnaker", role: str = "program-officer", sub: str = "officer-7",
         extra_roles: tuple[str, ...] = ()) -> dict[str, str]:
    token = DevIssuer(runtime.settings).mint(sub, org, [role, *extra_roles])
    return {"Authorization": f"Bearer {token}"}


def upload(client: TestClient, world: World, path: Path, handover: str = "ho-1", program: str = "padat_karya",
           headers: dict[str, str] | None = None, **params: str) -> Any:
    """POST a file as the raw body, as a program officer of party 2 unless `headers` say otherwise."""
    return client.post("/v1/feedback-batches", params={"handover_id": handover, "program": program,
                                                       "filename": path.name, **params},
                       content=path.read_bytes(),
                       headers={**(headers or auth(world.runtime)), "Content-Type": "application/octet-stream"})
