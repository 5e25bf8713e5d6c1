"""p3ke_platform.service_context: settings, clock and agreement policy, loaded once, checked at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import pytest

from p3ke_platform.agreement import AgreementConfigError, Policy
from p3ke_platform.service_context import ServiceContext, utc_now
from p3ke_platform.settings import Settings, load_settings


@dataclass
class _Context(ServiceContext[Settings]):
    loads: int = 0

    @cached_property
    def extra(self) -> str:
        self.loads += 1
        return "loaded"

    def check(self) -> None:
        super().check()
        _ = self.extra


def test_the_policy_is_loaded_once_and_names_the_agreement(tmp_path: Path) -> None:
    ctx = _Context(load_settings(service="audit", data_dir=tmp_path))
    assert isinstance(ctx.policy, Policy) and ctx.policy is ctx.policy
    assert ctx.agreement_id == ctx.policy.agreement.base.id != ""


def test_the_default_clock_is_utc_and_tests_may_move_it(tmp_path: Path) -> None:
    settings = load_settings(service="audit", data_dir=tmp_path)
    assert _Context(settings).clock is utc_now and utc_now().tzinfo is UTC
    fixed = datetime(2026, 3, 1, tzinfo=UTC)
    assert _Context(settings, clock=lambda: fixed).clock() == fixed


def test_check_loads_the_policy_and_what_the_service_adds(tmp_path: Path) -> None:
    ctx = _Context(load_settings(service="audit", data_dir=tmp_path))
    ctx.check()
    assert "policy" in ctx.__dict__ and ctx.loads == 1
    ctx.check()
    assert ctx.loads == 1


def test_check_stops_on_a_bad_agreement(tmp_path: Path) -> None:
    ctx = _Context(load_settings(service="audit", data_dir=tmp_path, agreement_dir=tmp_path / "missing"))
    with pytest.raises(AgreementConfigError):
        ctx.check()
