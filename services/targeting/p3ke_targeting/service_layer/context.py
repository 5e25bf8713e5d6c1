"""What targeting's handlers and routes share, built once per process from its settings: the agreement
policy, the eligibility rules, the region reference and a clock."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

from p3ke_platform.service_context import ServiceContext
from p3ke_platform.settings import Settings
from p3ke_targeting.adapters.rules_file import load_rules
from p3ke_targeting.adapters.wilayah import load_region_codes
from p3ke_targeting.config import TargetingSettings, targeting_settings
from p3ke_targeting.domain.eligibility import EligibilityRules


@dataclass
class Context(ServiceContext[TargetingSettings]):
    @cached_property
    def rules(self) -> EligibilityRules:
        return load_rules(self.settings.rules_path)

    @cached_property
    def region_codes(self) -> frozenset[str]:
        return load_region_codes(self.settings.wilayah_path)

    def check(self) -> None:
        """Load everything now, so bad configuration stops start-up instead of the first request."""
        super().check()
        _ = self.rules, self.region_codes


@lru_cache(maxsize=16)
def context_for(settings: Settings) -> Context:
    return Context(targeting_settings(settings))
