"""What targeting's handlers and routes share, built once per process from its settings: the agreement
policy, the eligibility rules, the region reference and a clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property, lru_cache

from p3ke_platform.agreement import Policy, load_agreement
from p3ke_platform.settings import Settings
from p3ke_targeting.adapters.rules_file import load_rules
from p3ke_targeting.adapters.wilayah import load_region_codes
from p3ke_targeting.config import TargetingSettings, targeting_settings
from p3ke_targeting.domain.eligibility import EligibilityRules


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Context:
    settings: TargetingSettings
    clock: Callable[[], datetime] = field(default=_now)

    @cached_property
    def policy(self) -> Policy:
        s = self.settings
        return Policy(load_agreement(s.agreement_dir, s.agreement_include_examples))

    @property
    def agreement_id(self) -> str:
        return self.policy.agreement.base.id

    @cached_property
    def rules(self) -> EligibilityRules:
        return load_rules(self.settings.rules_path)

    @cached_property
    def region_codes(self) -> frozenset[str]:
        return load_region_codes(self.settings.wilayah_path)

    def check(self) -> None:
        """Load everything now, so bad configuration stops start-up instead of the first request."""
        _ = self.policy, self.rules, self.region_codes


@lru_cache(maxsize=16)
def context_for(settings: Settings) -> Context:
    return Context(targeting_settings(settings))
