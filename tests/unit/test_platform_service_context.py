"""The composition root: the runtime builds one service context (settings, clock, policy) per process,
hands the same object to handlers, routes and background loops, and runs each loop in the role that owns it."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import threading
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends
from pydantic import Field
from sqlalchemy import MetaData

from p3ke_platform.agreement import BUNDLED_DIR, AgreementConfigError, Policy, load_agreement
from p3ke_platform.api import service_context
from p3ke_platform.messaging.inbox import Delivered
from p3ke_platform.messaging.tables import messaging_tables
from p3ke_platform.service import BackgroundLoop, Runtime, ServiceSpec
from p3ke_platform.service_context import ServiceContext, utc_now
from p3ke_platform.settings import ConfigurationError, Settings, load_settings
from p3ke_platform.unit_of_work import UnitOfWork
from p3ke_schemas import Actor, CloudEvent, DataAccess


class _Settings(Settings):
    demo_flag: bool = Field(default=True, description="turns the demo loop on")


class _Context(ServiceContext[_Settings]):
    loads = 0

    @cached_property
    def extra(self) -> str:
        type(self).loads += 1
        return "loaded"

    def check(self) -> None:
        super().check()
        _ = self.extra


SEEN: list[Any] = []
LOOPS: list[tuple[str, Any]] = []


def _handler(ctx: Any, uow: UnitOfWork, event: CloudEvent) -> None:
    SEEN.append((ctx, event.id))


def _loop(name: str) -> Any:
    def run(ctx: Any, stop: threading.Event) -> None:
        LOOPS.append((name, ctx))
        stop.wait()

    return run


_metadata = MetaData()
_router = APIRouter()


@_router.get("/who")
def _who(ctx: Annotated[_Context, Depends(service_context)]) -> dict[str, str]:
    return {"service": ctx.service, "extra": ctx.extra}


SPEC = ServiceSpec(
    name="audit", title="Demo", description="demo", package="p3ke_platform", metadata=_metadata,
    tables=messaging_tables(_metadata), handlers={"p3ke.data-access.v1": _handler},
    routers=lambda: [_router], settings_class=_Settings, context=_Context,
    loops=[BackgroundLoop("api-loop", _loop("api-loop"), role="api"),
           BackgroundLoop("worker-loop", _loop("worker-loop"), role="worker"),
           BackgroundLoop("jobs-loop", _loop("jobs-loop"), role="jobs"),
           BackgroundLoop("off-loop", _loop("off-loop"), role="jobs", enabled=lambda ctx: not ctx.settings.demo_flag)],
)


def _runtime(tmp_path: Path, **overrides: Any) -> Runtime:
    settings = load_settings(service="audit", data_dir=tmp_path, env="test",
                             database_url=f"sqlite:///{tmp_path / 'demo.db'}", **overrides)
    runtime = Runtime(SPEC, settings)
    _metadata.create_all(runtime.engine)
    return runtime


def test_a_plain_settings_becomes_the_service_settings_once(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path)
    assert isinstance(runtime.settings, _Settings) and runtime.settings.demo_flag is True
    assert runtime.settings.data_dir == tmp_path


def test_one_context_per_process_even_under_concurrent_first_use(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path)
    got: list[Any] = []
    threads = [threading.Thread(target=lambda: got.append(runtime.context)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(c) for c in got}) == 1 and isinstance(got[0], _Context)
    assert got[0].settings is runtime.settings and got[0].runtime is runtime


def test_the_policy_is_loaded_once_and_names_the_agreement(tmp_path: Path) -> None:
    ctx = _runtime(tmp_path).context
    assert isinstance(ctx.policy, Policy) and ctx.policy is ctx.policy
    assert ctx.agreement_id == ctx.policy.agreement.base.id != ""


def test_the_default_clock_is_utc_and_tests_may_move_it(tmp_path: Path) -> None:
    ctx = _runtime(tmp_path).context
    assert ctx.clock is utc_now and utc_now().tzinfo is UTC
    fixed = datetime(2026, 3, 1, tzinfo=UTC)
    ctx.clock = lambda: fixed
    assert ctx.clock() == fixed


def test_check_loads_the_policy_and_what_the_service_adds(tmp_path: Path) -> None:
    before = _Context.loads
    ctx = _runtime(tmp_path).context
    ctx.check()
    assert "policy" in ctx.__dict__ and _Context.loads == before + 1
    ctx.check()
    assert _Context.loads == before + 1


def test_check_stops_on_a_bad_agreement(tmp_path: Path) -> None:
    ctx = _runtime(tmp_path, agreement_dir=tmp_path / "missing").context
    with pytest.raises(AgreementConfigError):
        ctx.check()


def test_handlers_get_the_same_context_as_routes(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from p3ke_platform.api import create_app

    runtime = _runtime(tmp_path, relay_in_api=False)
    event = CloudEvent.of(DataAccess(access_id="a-1", service="targeting", action="read", resource_type="x",
                                     resource_id="r", outcome="allowed", occurred_at=datetime.now(UTC),
                                     actor=Actor(org="kemnaker", subject="s", roles=["program-officer"])),
                          source="test")
    SEEN.clear()
    assert runtime.inbox("demo").apply_batch([Delivered("p3ke.data-access.v1", 0, 0, event)]) == []
    assert [(runtime.context, event.id)] == SEEN
    with TestClient(create_app(runtime)) as client:
        assert client.get("/who").json() == {"service": "audit", "extra": "loaded"}


@pytest.mark.parametrize(("jobs_in_api", "role", "expected"), [
    (True, "api", ["api-loop", "jobs-loop"]),
    (True, "worker", ["worker-loop"]),
    (True, "jobs", []),
    (False, "api", ["api-loop"]),
    (False, "jobs", ["jobs-loop"]),
])
def test_each_loop_runs_in_the_role_that_owns_it(tmp_path: Path, jobs_in_api: bool, role: Any,
                                                 expected: list[str]) -> None:
    runtime = _runtime(tmp_path, jobs_in_api=jobs_in_api)
    assert [loop.name for loop in runtime.loops_for(role)] == expected
    LOOPS.clear()
    stop = runtime.start_loops(role)
    try:
        for _ in range(200):
            if len(LOOPS) == len(expected):
                break
            threading.Event().wait(0.01)
        assert sorted(name for name, _ in LOOPS) == expected
        assert all(ctx is runtime.context for _, ctx in LOOPS)
    finally:
        stop(5.0)
    assert not [t for t in threading.enumerate() if t.name.startswith("p3ke-") and t.name.endswith("-loop")]


def test_a_loop_named_by_module_is_imported_only_when_it_is_started() -> None:
    loop = BackgroundLoop("named", "tests.unit.test_platform_service_context:_who", role="jobs")
    assert loop.resolve() is _who
    assert BackgroundLoop("direct", _who).resolve() is _who


# --- the agreement's terms in the audit trail (issue 17) ---------------------------------------------------

def _accesses(runtime: Runtime) -> list[DataAccess]:
    from sqlalchemy import select

    outbox = runtime.spec.tables.outbox
    with runtime.engine.connect() as conn:
        values = conn.execute(select(outbox.c.value).where(outbox.c.event_type == "p3ke.data-access.v1")
                              .order_by(outbox.c.seq)).scalars().all()
    return [DataAccess.model_validate(json.loads(v)["data"] if "data" in json.loads(v) else json.loads(v))
            for v in values]


def test_every_access_record_names_the_digest_of_the_terms_in_force(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path)
    ctx = runtime.context
    digest = ctx.policy.agreement.digest
    assert digest and ctx.terms_sha256 == digest
    actor = Actor(org="kemnaker", subject="officer-1", roles=["program-officer"])
    with ctx.unit_of_work() as uow:
        uow.record_access(actor=actor, action="read", resource_type="x", resource_id="r-1")
        uow.record_access(actor=actor, action="read", resource_type="x", resource_id="r-2", terms_sha256="f" * 64)
    # a policy replaced in a running context (as tests and reloads do) is what later records name
    ctx.policy = Policy(load_agreement(include_examples=True))
    with runtime.unit_of_work() as uow:
        uow.record_access(actor=actor, action="read", resource_type="x", resource_id="r-3")
    found = {a.resource_id: a.terms_sha256 for a in _accesses(runtime)}
    assert found == {"r-1": digest, "r-2": "f" * 64, "r-3": ctx.policy.agreement.digest}
    assert found["r-3"] != digest


def test_loading_the_terms_is_recorded_once_per_process_with_each_files_hash(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path)
    ctx = runtime.context
    first = ctx.record_terms_loaded()
    assert ctx.record_terms_loaded() == first  # once per process
    [record] = _accesses(runtime)
    agreement = ctx.policy.agreement
    assert (record.action, record.resource_type, record.resource_id) == ("read", "agreement-terms", agreement.digest)
    assert record.terms_sha256 == agreement.digest and record.agreement_id == "pks-p3ke-2023"
    assert record.actor.org == "kemenkopmk" and record.actor.service_account
    assert record.record_count == len(agreement.sources) == 1
    pks = BUNDLED_DIR / "pks-p3ke-2023.yaml"
    assert f"pks-p3ke-2023.yaml={hashlib.sha256(pks.read_bytes()).hexdigest()}" in (record.reason or "")
    assert "no manifest (development)" in (record.reason or "")
    assert record.purpose and record.purpose.startswith("ketentuan perjanjian dimuat")


def test_production_loads_the_agreement_only_under_a_manifest(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path)
    runtime.settings = runtime.settings.model_copy(update={"env": "production"})
    with pytest.raises(ConfigurationError, match=r"^P3KE_AGREEMENT_MANIFEST: tidak diatur; di produksi"):
        runtime.context.check()
    directory = tmp_path / "agreement"
    directory.mkdir()
    shutil.copy(BUNDLED_DIR / "pks-p3ke-2023.yaml", directory)
    manifest = tmp_path / "agreement.sha256"
    manifest.write_text(subprocess.run(["sha256sum", "pks-p3ke-2023.yaml"], cwd=directory, capture_output=True,
                                       text=True, check=True).stdout)
    listed = _runtime(tmp_path / "listed", agreement_dir=directory, agreement_manifest=manifest)
    listed.settings = listed.settings.model_copy(update={"env": "production"})
    assert listed.context.policy.agreement.sources[0].name == "pks-p3ke-2023.yaml"  # loads under the manifest
    assert listed.context.terms_sha256 == load_agreement(directory).digest
    (directory / "pks-p3ke-2023.yaml").write_text(
        (BUNDLED_DIR / "pks-p3ke-2023.yaml").read_text().replace("term_years: 2", "term_years: 6"))
    tampered = _runtime(tmp_path / "tampered", agreement_dir=directory, agreement_manifest=manifest)
    with pytest.raises(ConfigurationError, match="isi berkas ketentuan perjanjian berbeda dari manifest"):
        tampered.context.check()


def test_a_service_process_records_its_terms_at_start_and_refuses_tampered_ones(tmp_path: Path) -> None:
    """Real processes: `python -m p3ke_targeting jobs` (no jobs of its own: it starts, records and ends)."""
    from sqlalchemy import create_engine, select

    from p3ke_targeting.bootstrap import SERVICE as TARGETING

    directory = tmp_path / "agreement"
    directory.mkdir()
    shutil.copy(BUNDLED_DIR / "pks-p3ke-2023.yaml", directory)
    manifest = tmp_path / "agreement.sha256"
    manifest.write_text(subprocess.run(["sha256sum", "pks-p3ke-2023.yaml"], cwd=directory, capture_output=True,
                                       text=True, check=True).stdout)
    env = {"PATH": "/usr/bin:/bin", "P3KE_ENV": "test", "P3KE_DATA_DIR": str(tmp_path / "data"),
           "P3KE_AGREEMENT_DIR": str(directory), "P3KE_AGREEMENT_MANIFEST": str(manifest),
           "P3KE_JOBS_IN_API": "false", "P3KE_LOG_JSON": "false"}

    def run(role: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "p3ke_targeting", role], env=env, capture_output=True,
                              text=True, timeout=120, check=False)

    def records() -> list[DataAccess]:
        engine = create_engine(f"sqlite:///{tmp_path / 'data' / 'targeting.db'}")
        outbox = TARGETING.tables.outbox
        with engine.connect() as conn:
            values = conn.execute(select(outbox.c.value).where(outbox.c.event_type == "p3ke.data-access.v1")
                                  .order_by(outbox.c.seq)).scalars().all()
        engine.dispose()
        return [DataAccess.model_validate(json.loads(v)["data"] if "data" in json.loads(v) else json.loads(v))
                for v in values]

    assert run("migrate").returncode == 0
    for _ in range(2):
        started = run("jobs")
        assert started.returncode == 0, started.stderr
    digest = load_agreement(directory).digest
    first = records()
    assert [(r.service, r.resource_type, r.resource_id) for r in first] == [
        ("targeting", "agreement-terms", digest)]  # once per terms: a restart under the same terms adds nothing
    assert f"checked against the manifest {manifest.name}" in (first[0].reason or "")

    # new terms (an addendum, listed in a new manifest): the next start records them
    shutil.copy(BUNDLED_DIR / "example-addendum-extension.yaml", directory / "addendum.yaml")
    manifest.write_text(subprocess.run(["sha256sum", "pks-p3ke-2023.yaml", "addendum.yaml"], cwd=directory,
                                       capture_output=True, text=True, check=True).stdout)
    env["P3KE_AGREEMENT_INCLUDE_EXAMPLES"] = "true"
    started = run("jobs")
    assert started.returncode == 0, started.stderr
    extended = load_agreement(directory, include_examples=True).digest
    assert extended != digest
    assert [r.resource_id for r in records()] == [digest, extended]

    pks = directory / "pks-p3ke-2023.yaml"
    listed = hashlib.sha256(pks.read_bytes()).hexdigest()
    pks.write_text(pks.read_text().replace("term_years: 2", "term_years: 6"))
    refused = run("jobs")
    assert refused.returncode == 2
    assert f"manifest mencatat {listed}" in refused.stderr and "Traceback" not in refused.stderr
