"""In production a process that runs the disposal job refuses to start without a way to ask for legal holds
(issue 18): without P3KE_LEGAL_HOLDS_URL or P3KE_LEGAL_HOLDS_TOKEN_FILE the job would fail closed on every run and
silently keep data past its retention period. Only the process whose role runs the job is stopped (the API while
P3KE_JOBS_IN_API is true, else `jobs`); the worker, and a process where disposal is off, start as before."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData

from p3ke_platform import runner
from p3ke_platform.messaging.tables import messaging_tables
from p3ke_platform.retention import disposal
from p3ke_platform.retention.holds import LEGAL_HOLDS_BEARER_REQUIRED, LEGAL_HOLDS_URL_REQUIRED, legal_holds_problems
from p3ke_platform.runner import main
from p3ke_platform.service import BackgroundLoop, Runtime, ServiceSpec
from p3ke_platform.settings import ConfigurationError, Settings, load_settings

_metadata = MetaData()


def _idle(ctx: Any, stop: threading.Event) -> None:
    stop.wait()


SPEC = ServiceSpec(name="feedback", title="Demo", description="demo", package="p3ke_platform", metadata=_metadata,
                   tables=messaging_tables(_metadata), loops=[disposal.loop()])


def _production(tmp_path: Path, **overrides: Any) -> Settings:
    """Production settings as far as the disposal check reads them (the files production also needs are the
    business of test_settings; here they are left out)."""
    schedule = tmp_path / "jadwal_retensi.yaml"
    values = load_settings(service="feedback", data_dir=tmp_path, env="test", retention_schedule=schedule)
    return Settings.model_construct(**{**values.model_dump(), "env": "production", **overrides})


def test_production_without_url_or_token_names_both_in_both_languages(tmp_path: Path) -> None:
    problems = legal_holds_problems(_production(tmp_path))
    assert problems == [LEGAL_HOLDS_URL_REQUIRED, LEGAL_HOLDS_BEARER_REQUIRED]
    assert problems[0].startswith("P3KE_LEGAL_HOLDS_URL: tidak diatur") and " / not set: " in problems[0]
    assert "http://audit" in problems[0] and "P3KE_RETENTION_DISPOSAL_SECONDS=0" in problems[0]
    assert problems[1].startswith("P3KE_LEGAL_HOLDS_TOKEN_FILE: tidak diatur") and "service-account" in problems[1]
    token = tmp_path / "token"
    assert legal_holds_problems(_production(tmp_path, legal_holds_url="http://audit")) == [
        LEGAL_HOLDS_BEARER_REQUIRED]
    assert legal_holds_problems(_production(tmp_path, legal_holds_token_file=token)) == [LEGAL_HOLDS_URL_REQUIRED]
    assert legal_holds_problems(_production(tmp_path, legal_holds_url="http://audit",
                                            legal_holds_token_file=token)) == []
    local = load_settings(service="feedback", data_dir=tmp_path, env="local")
    assert legal_holds_problems(local) == []  # the development issuer mints a token; no URL: nothing disposed


@pytest.mark.parametrize(("jobs_in_api", "role", "stops"), [
    (True, "api", True),
    (True, "worker", False),
    (True, "jobs", False),  # `jobs` exits at once while the API runs them (runner.run_jobs)
    (False, "api", False),
    (False, "worker", False),
    (False, "jobs", True),
])
def test_only_the_role_that_runs_the_disposal_job_stops(tmp_path: Path, jobs_in_api: bool, role: Any,
                                                        stops: bool) -> None:
    runtime = Runtime(SPEC, _production(tmp_path, jobs_in_api=jobs_in_api))
    if not stops:
        runtime.check_loops(role)
        return
    with pytest.raises(ConfigurationError) as caught:
        runtime.check_loops(role)
    assert str(caught.value) == f"{LEGAL_HOLDS_URL_REQUIRED}\n{LEGAL_HOLDS_BEARER_REQUIRED}"


def test_no_check_where_disposal_is_off_or_configured(tmp_path: Path) -> None:
    Runtime(SPEC, _production(tmp_path, retention_disposal_seconds=0)).check_loops("api")
    configured = _production(tmp_path, legal_holds_url="http://audit", legal_holds_token_file=tmp_path / "token")
    Runtime(SPEC, configured).check_loops("api")


def test_production_settings_refuse_a_token_file_that_is_not_there(tmp_path: Path) -> None:
    """The token is a mounted Secret: a path to nothing stops start-up like every other key file."""
    with pytest.raises(ConfigurationError, match=r"P3KE_LEGAL_HOLDS_TOKEN_FILE: \S+ is not a readable file"):
        load_settings(service="feedback", env="production", legal_holds_token_file=tmp_path / "missing")


def test_the_runner_stops_the_role_naming_what_its_loops_lack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m p3ke_<service> jobs` checks its loops after the context and before anything runs."""
    lacking = ServiceSpec(name="feedback", title="Demo", description="demo", package="p3ke_platform",
                          metadata=_metadata, tables=SPEC.tables,
                          loops=[BackgroundLoop("lacking", _idle, role="jobs",
                                                check=lambda ctx: ["P3KE_DEMO: tidak diatur / not set"])])
    for name, value in {"P3KE_DATA_DIR": str(tmp_path), "P3KE_ENV": "test", "P3KE_JOBS_IN_API": "false",
                        "P3KE_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(runner, "run_jobs", lambda runtime: 0)  # without the check: 0, not a process that waits
    assert main(lacking, ["jobs"]) == 2
    assert "feedback: P3KE_DEMO: tidak diatur / not set" in capsys.readouterr().err
