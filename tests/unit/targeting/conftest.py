from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from p3ke_platform.service import Runtime
from tests.unit.targeting.helpers import apply, dataset_event, make_runtime


@pytest.fixture(scope="session")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20,000 synthetic persons in three provinces, in the Parquet layout ingest publishes."""
    from p3ke_ingest.synth import generate

    out = tmp_path_factory.mktemp("snapshot")
    result = generate(out, individuals=20_000, fmt="parquet", seed=11, provinces=["32", "33", "53"],
                      family_file=False)
    return result.individual_path


@pytest.fixture
def runtime(tmp_path: Path, snapshot: Path) -> Iterator[Runtime]:
    """A targeting runtime on SQLite that knows one dataset version (dv-1, the snapshot)."""
    rt = make_runtime(tmp_path)
    assert apply(rt, dataset_event(snapshot)) == []
    yield rt
    rt.engine.dispose()
