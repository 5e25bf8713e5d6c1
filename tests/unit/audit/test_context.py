"""Audit's composition: the context the runtime builds, its start-up check, the checkpointer loop, the routers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from p3ke_audit.bootstrap import SERVICE
from p3ke_audit.config import AuditSettings
from p3ke_audit.service_layer.context import AuditContext
from p3ke_platform.service import Runtime
from p3ke_platform.settings import ConfigurationError, load_settings
from tests.integration.helpers.agreement_terms import far_agreement_dir


def _runtime(tmp_path: Path, **overrides: Any) -> Runtime:
    return Runtime(SERVICE, load_settings(AuditSettings, **{
        "service": "audit", "data_dir": tmp_path, "env": "test", "agreement_include_examples": True,
        # in force to 2099 (tests on real time), beside the data directory
        "agreement_dir": far_agreement_dir(tmp_path.parent / f"{tmp_path.name}-terms"), **overrides}))


def test_the_runtime_builds_one_audit_context_with_the_log_signer(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path, audit_origin="example.org/audit")
    ctx = runtime.context
    assert isinstance(ctx, AuditContext) and runtime.context is ctx
    ctx.check()  # the agreement and the signer: a development key is created outside production
    assert (tmp_path / "keys" / "audit-checkpoint.pem").exists()
    assert ctx.signer.name == "example.org/audit" and ctx.signer is ctx.signer
    assert ctx.subject_ref("3201000000000001") == ctx.subject_ref(" 3201000000000001 ") != ctx.subject_ref(
        "3201000000000002")


def test_an_unreadable_signing_key_stops_start_up(tmp_path: Path) -> None:
    ctx = _runtime(tmp_path, audit_checkpoint_key_file=tmp_path / "missing.pem").context
    with pytest.raises(ConfigurationError, match="P3KE_AUDIT_CHECKPOINT_KEY_FILE"):
        ctx.check()


def test_the_checkpointer_is_a_job_of_the_api_process_unless_told_otherwise(tmp_path: Path) -> None:
    mine = ("audit-checkpointer", "audit-incidents")  # (the incident scan is a job too, with its own switch)

    def names(runtime: Runtime, role: Any) -> list[str]:
        return [loop.name for loop in runtime.loops_for(role) if loop.name in mine]

    default = _runtime(tmp_path)
    assert names(default, "api") == list(mine) and names(default, "jobs") == []
    own_process = _runtime(tmp_path, jobs_in_api=False)
    assert names(own_process, "api") == [] and names(own_process, "jobs") == list(mine)
    off = _runtime(tmp_path, audit_checkpointer_in_api=False, audit_incident_scan_in_api=False)
    assert names(off, "api") == names(off, "jobs") == names(off, "worker") == []


def test_the_routers_and_no_import_cycle_between_the_api_and_the_page() -> None:
    prefixes = [r.prefix for r in SERVICE.routers()]
    assert prefixes[:2] == ["/v1", "/ui"] and set(prefixes[2:]) == {"/v1"}  # then the desk's API routers
    probe = ("import sys, importlib; importlib.import_module(sys.argv[1]); "
             "print(sorted(m for m in sys.modules if m.startswith('p3ke_audit.entrypoints.')))")
    for module, other in (("p3ke_audit.entrypoints.api", "web"), ("p3ke_audit.entrypoints.web", "api")):
        loaded = subprocess.run([sys.executable, "-c", probe, module], capture_output=True, text=True, check=True,
                                timeout=60).stdout
        assert f"p3ke_audit.entrypoints.{other}'" not in loaded and "p3ke_audit.entrypoints.deps" in loaded
