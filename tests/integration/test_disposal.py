"""The disposal job (issue #18) on PostgreSQL, real files and a real audit API process for the legal holds, with an
injected clock: ingest publishes a version on 3 June 2024; by 10 July its raw uploads and findings file are past
their 30 days. One upload is named by an open incident (a legal hold). A dry run lists without destroying; a run
destroys what is due (file gone, one `erase` record with the digest and the rule, one `artefact-disposed` event that
validates against its JSON Schema) and keeps what is held; an audit service that does not answer stops everything;
a run that stops between destroying and recording is completed by the next, exactly once; two runs at once: one
disposes, the other finds the lease held. Feedback's inventory lists a batch's raw file under its rule."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sqlalchemy import select

from p3ke_ingest.bootstrap import SERVICE
from p3ke_ingest.config import IngestSettings
from p3ke_ingest.service_layer import retention_inventory
from p3ke_ingest.synth import generate
from p3ke_platform.migrations import upgrade
from p3ke_platform.retention import Kind
from p3ke_platform.retention.disposal import DisposalJob, disposal_enabled
from p3ke_platform.retention.holds import Holds
from p3ke_platform.service import Runtime
from p3ke_platform.settings import load_settings
from p3ke_schemas import from_kafka
from p3ke_schemas.generate import CONTRACT_DIR
from tests.conftest import new_postgres_database
from tests.integration.helpers.audit_api import audit_api, legal_hold
from tests.integration.helpers.processes import ApiProcess
from tests.integration.ingest.test_retention_inventory import FIRST, _publish

LATER = datetime(2024, 7, 10, 3, 0, tzinfo=UTC)  # 37 days after the publication: uploads and findings are due


@pytest.fixture(scope="module")
def audit(postgres: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    """The audit service's API, a real process on its own PostgreSQL database, sharing the dev issuer's key."""
    with audit_api(postgres, tmp_path_factory.mktemp("disposal-shared")) as api:
        yield api


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    made = generate(tmp_path_factory.mktemp("disposal-synth") / "v1", individuals=300, seed=7)
    return made.individual_path, made.family_path  # type: ignore[return-value]


@pytest.fixture
def ingest(postgres: Any, audit: ApiProcess, tmp_path: Path, synth: tuple[Path, Path]) -> Iterator[Any]:
    """Ingest on PostgreSQL with one published version (3 June 2024): (runtime, upload ids, submission id)."""
    keys = tmp_path / "data" / "keys"
    keys.mkdir(parents=True)
    shutil.copy(audit.shared / "keys" / "dev-issuer.pem", keys / "dev-issuer.pem")  # type: ignore[attr-defined]
    settings = load_settings(IngestSettings, service="ingest", database_url=new_postgres_database(postgres),
                             data_dir=tmp_path / "data", env="test", relay_in_api=False, jobs_in_api=False,
                             ingest_engine_memory_mb=256, legal_holds_url=audit.url)
    upgrade(SERVICE, settings)
    runtime = Runtime(SERVICE, settings)
    _, uploads, submission = _publish(runtime, synth, FIRST)
    runtime.context.clock = lambda: LATER
    yield runtime, uploads, submission
    runtime.engine.dispose()


def _variant(runtime: Runtime, **settings: Any) -> Runtime:
    """The same service and database under other settings, at LATER."""
    other = Runtime(runtime.spec, runtime.settings.model_copy(update=settings))
    other.context.clock = lambda: LATER
    return other


def _hold(audit: ApiProcess, resource_type: str, resource_id: str) -> str:
    return legal_hold(audit, resource_type, resource_id)


def _events(runtime: Runtime, kind: str) -> list[dict[str, Any]]:
    outbox = runtime.spec.tables.outbox
    with runtime.engine.connect() as conn:
        rows = conn.execute(select(outbox.c.key, outbox.c.value, outbox.c.headers).order_by(outbox.c.seq)).all()
    events = [from_kafka(r.key.encode(), r.value, [(k, v.encode()) for k, v in json.loads(r.headers)]) for r in rows]
    return [e.data.model_dump(mode="json") for e in events if e.type == f"p3ke.{kind}.v1"]


def _erasures(runtime: Runtime) -> list[dict[str, Any]]:
    return [e for e in _events(runtime, "data-access") if e["action"] == "erase"]


def _upload_path(runtime: Runtime, upload_id: str) -> Path:
    found = [a.path for a in retention_inventory.artefacts(runtime.context) if a.resource_id == upload_id]
    assert len(found) == 1 and found[0] is not None
    return found[0]


def test_due_artefacts_are_disposed_held_ones_kept_and_a_dry_run_destroys_nothing(ingest: Any, audit: Any) -> None:
    runtime, (kept, gone), submission = ingest
    kept_path, gone_path = _upload_path(runtime, kept), _upload_path(runtime, gone)
    incident = _hold(audit, "dataset-upload", kept)

    dry = DisposalJob(runtime.context).run_once(dry_run=True)
    assert dry.problem is None and dry.ran
    outcome = {(i.kind, i.resource_id): i for i in dry.items}
    assert outcome[("raw-upload", gone)].outcome == "would-dispose"
    assert outcome[("findings", submission)].outcome == "would-dispose"
    assert outcome[("raw-upload", kept)].outcome == "held" and outcome[("raw-upload", kept)].held_by == [incident]
    assert not any(i.kind == "current-snapshot" for i in dry.items)  # not due before the agreement ends
    assert gone_path.is_file() and _erasures(runtime) == []

    report = DisposalJob(runtime.context).run_once()
    assert report.problem is None
    assert {(i.kind, i.resource_id, i.outcome) for i in report.items} == {
        ("raw-upload", gone, "disposed"), ("findings", submission, "disposed"), ("raw-upload", kept, "held")}
    assert not gone_path.exists() and kept_path.is_file()
    erase = {e["resource_id"]: e for e in _erasures(runtime)}
    assert set(erase) == {gone, submission}
    sha = next(i.sha256 for i in report.items if i.resource_id == gone)
    assert sha and f"sha256 {sha}" in erase[gone]["reason"] and erase[gone]["reason"].startswith("raw-upload:")
    assert "UU PDP Art. 16(2)" in erase[gone]["reason"] and erase[gone]["actor"]["service_account"] is True
    schema = json.loads((CONTRACT_DIR / "jsonschema" / "p3ke.artefact-disposed.v1.json").read_text())
    announced = _events(runtime, "artefact-disposed")
    assert len(announced) == 2
    for event in announced:
        jsonschema.validate(event, schema)
    upload_event = next(e for e in announced if e["resource_id"] == gone)
    assert upload_event["sha256"] == sha and upload_event["rule_kind"] == Kind.RAW_UPLOAD.value
    assert upload_event["trigger"] == "published" and upload_event["service"] == "ingest"

    again = DisposalJob(runtime.context).run_once()  # nothing more; the held upload stays held
    assert [(i.resource_id, i.outcome) for i in again.items] == [(kept, "held")]
    assert len(_erasures(runtime)) == 2


def test_an_audit_service_that_does_not_answer_stops_every_disposal(ingest: Any) -> None:
    runtime, (first, _), _ = ingest
    path = _upload_path(runtime, first)
    report = DisposalJob(_variant(runtime, legal_holds_url="http://127.0.0.1:1").context).run_once()
    assert report.problem and "nothing is disposed of" in report.problem and report.items == []
    assert path.is_file() and _erasures(runtime) == []
    unset = DisposalJob(_variant(runtime, legal_holds_url=None).context).run_once(dry_run=True)
    assert "P3KE_LEGAL_HOLDS_URL" in str(unset.problem) and unset.items == []


def test_a_run_stopped_between_destroying_and_recording_is_completed_once(ingest: Any) -> None:
    runtime, _, _ = ingest
    job = DisposalJob(runtime.context)
    recorder = job.record
    calls = {"n": 0}

    def crash_once(*args: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("the process stopped here")
        recorder(*args)

    job.record = crash_once  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        job.run_once()
    disposals = runtime.spec.metadata.tables["retention_disposals"]
    with runtime.engine.connect() as conn:
        intents = conn.execute(select(disposals)).mappings().all()
    assert [i["state"] for i in intents] == ["intent"]
    stopped = intents[0]
    assert not Path(stopped["path"]).exists() and _erasures(runtime) == []  # gone, not yet recorded

    report = DisposalJob(runtime.context).run_once()
    assert [(i.resource_id, i.outcome) for i in report.items if i.outcome == "completed"] == [
        (stopped["resource_id"], "completed")]
    erased = [e["resource_id"] for e in _erasures(runtime)]
    assert len(erased) == 3 and len(set(erased)) == 3  # the stopped one and the other two, each exactly once
    stopped_erase = next(e for e in _erasures(runtime) if e["resource_id"] == stopped["resource_id"])
    assert f"sha256 {stopped['sha256']}" in stopped_erase["reason"]
    DisposalJob(runtime.context).run_once()
    assert len(_erasures(runtime)) == 3


def test_two_runs_at_once_one_disposes_the_other_finds_the_lease_held(ingest: Any) -> None:
    runtime, _, _ = ingest
    inside, leave = threading.Event(), threading.Event()

    def slow_holds() -> Holds:
        inside.set()
        assert leave.wait(30)
        return Holds()

    first = DisposalJob(runtime.context, holds=slow_holds)
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.update(report=first.run_once()))
    thread.start()
    assert inside.wait(30)
    second = DisposalJob(runtime.context, holds=Holds).run_once()
    leave.set()
    thread.join(60)
    assert not second.ran and "lease" in str(second.problem)
    assert result["report"].count("disposed") == 3  # two uploads and the findings file
    assert len(_erasures(runtime)) == 3
    assert DisposalJob(runtime.context, holds=Holds).run_once().ran  # the lease was released


def test_the_loop_runs_only_where_a_schedule_is_set(ingest: Any, tmp_path: Path) -> None:
    runtime, _, _ = ingest
    assert not disposal_enabled(runtime.context)  # the packaged default: `make run` destroys nothing by itself
    assert disposal_enabled(_variant(runtime, retention_schedule=tmp_path / "jadwal.yaml").context)
    assert not disposal_enabled(_variant(runtime, retention_schedule=tmp_path / "jadwal.yaml",
                                         retention_disposal_seconds=0).context)
