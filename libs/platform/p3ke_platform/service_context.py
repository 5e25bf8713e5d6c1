"""What a service's handlers and routes share, built once per process from its settings: the settings,
a clock (tests move it) and the agreement policy, loaded on first use.

A service subclasses `ServiceContext` with its settings type and adds what else it loads (rules,
regions, storage), extending `check` so that bad configuration stops start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Generic, TypeVar

from p3ke_platform.agreement import Policy, load_agreement
from p3ke_platform.settings import Settings

S = TypeVar("S", bound=Settings)


def utc_now() -> datetime:
    """The current time in UTC (the default clock)."""
    return datetime.now(UTC)


@dataclass
class ServiceContext(Generic[S]):
    """The settings, the clock and the agreement policy of one service process."""

    settings: S
    clock: Callable[[], datetime] = field(default=utc_now)

    @cached_property
    def policy(self) -> Policy:
        s = self.settings
        return Policy(load_agreement(s.agreement_dir, s.agreement_include_examples))

    @property
    def agreement_id(self) -> str:
        return self.policy.agreement.base.id

    def check(self) -> None:
        """Load everything now, so bad configuration stops start-up instead of the first request."""
        _ = self.policy
