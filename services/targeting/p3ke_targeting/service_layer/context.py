"""What targeting's handlers, routes and loops share, built once per process by the runtime
(`ServiceSpec.context`): the settings, the clock and the agreement policy (from the platform), the
eligibility rules, the Kemendagri region codes and the attached working copies."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from p3ke_platform.reference.wilayah import load_regions
from p3ke_platform.service_context import ServiceContext
from p3ke_targeting.adapters.rules_file import load_rules
from p3ke_targeting.config import TargetingSettings
from p3ke_targeting.domain.eligibility import EligibilityRules

if TYPE_CHECKING:
    from p3ke_targeting.adapters.working_copy import Attachments


class Context(ServiceContext[TargetingSettings]):
    @cached_property
    def rules(self) -> EligibilityRules:
        return load_rules(self.settings.rules_path)

    @cached_property
    def region_codes(self) -> frozenset[str]:
        """The region codes a request may name (any level: 2, 4, 6 or 10 digits)."""
        return load_regions(self.settings.wilayah_path, "P3KE_TARGETING_WILAYAH_FILE").codes

    @cached_property
    def working_copies(self) -> Attachments:
        """The working copies attached in this process's DuckDB databases (`adapters.working_copy`)."""
        from p3ke_targeting.adapters.working_copy import Attachments

        return Attachments()

    def check(self) -> None:
        """Load everything now, so bad configuration stops start-up instead of the first request."""
        super().check()
        _ = self.rules, self.region_codes
