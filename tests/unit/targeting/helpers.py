"""Shared by targeting's tests: a synthetic snapshot, a targeting runtime on SQLite, requests, and
reading what the service emitted through its outbox."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from p3ke_platform.migrations import upgrade
from p3ke_platform.service import Runtime
from p3ke_platform.settings import load_settings
from p3ke_schemas import Actor, DatasetUpdated, ExtractRequested
from p3ke_targeting.bootstrap import SERVICE
from p3ke_targeting.config import TargetingSettings
from tests.integration.helpers.agreement_terms import far_agreement_dir
from tests.unit.runtime_events import apply as apply  # re-exported for the tests
from tests.unit.runtime_events import emitted as emitted

OFFICER = Actor(org="kemnaker", subject="officer-1", roles=["program-officer"])
STEWARD = Actor(org="kemenkopmk", subject="steward-1", roles=["data-steward"])
AGREEMENT = "pks-p3ke-2023"
PROGRAM = "padat_karya"
PURPOSE = "seleksi_calon_peserta"
FIELDS = ["nik", "nama", "jenis_kelamin", "tanggal_lahir", "kode_kemendagri", "desil_kesejahteraan",
          "status_pekerjaan", "pekerjaan"]


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_runtime(tmp: Path, database_url: str | None = None, **overrides: Any) -> Runtime:
    """A migrated targeting runtime; `overrides` are settings. The agreement is the bundled one plus a test addendum
    that keeps it in force to 2099 (`far_agreement_dir`: the terms in force today are unchanged), so that tests on
    real time outlive the example addendum's term (28 February 2027); `agreement_dir=None` asks for the bundled one."""
    settings = load_settings(TargetingSettings, service="targeting", env="test", data_dir=tmp / "data",
                             database_url=database_url or f"sqlite:///{tmp / 'targeting.db'}",
                             **{"agreement_include_examples": True, "agreement_dir": far_agreement_dir(tmp),
                                "relay_in_api": False, **overrides})
    upgrade(SERVICE, settings)
    return Runtime(SERVICE, settings)


def dataset_event(snapshot: Path, version: str = "dv-1", sha: str | None = None) -> DatasetUpdated:
    return DatasetUpdated(dataset_version_id=version, agreement_id=AGREEMENT, snapshot_uri=snapshot.as_uri(),
                          snapshot_sha256=sha or sha256_of(snapshot),
                          individuals=pq.ParquetFile(snapshot).metadata.num_rows, families=0,
                          published_by=STEWARD, published_at=datetime.now(UTC))


def request(**overrides: Any) -> ExtractRequested:
    fields: dict[str, Any] = {
        "request_id": f"req-{uuid.uuid4().hex[:12]}", "agreement_id": AGREEMENT, "program": PROGRAM,
        "criteria": {"deciles": [1, 2]}, "quota": 200, "fields": FIELDS,
        "justification": "padat karya desa 2026, tahap 1", "purpose": PURPOSE, "requested_by": OFFICER,
        "requested_at": datetime.now(UTC),
    }
    criteria = overrides.pop("criteria", None)
    if criteria is not None:
        fields["criteria"] = criteria
    fields.update(overrides)
    return ExtractRequested.model_validate(fields)


def prepared(runtime: Runtime, request_id: str) -> list[dict[str, Any]]:
    return [e for e in emitted(runtime, "p3ke.extract-prepared.v1") if e["request_id"] == request_id]


def one_prepared(runtime: Runtime, request_id: str) -> dict[str, Any]:
    found = prepared(runtime, request_id)
    assert len(found) == 1, found
    return found[0]


def extract_path(event: dict[str, Any]) -> Path:
    from urllib.parse import unquote, urlparse

    return Path(unquote(urlparse(event["file_uri"]).path))


def niks_of(event: dict[str, Any]) -> list[str]:
    return pq.read_table(extract_path(event), columns=["nik"]).column("nik").to_pylist()
