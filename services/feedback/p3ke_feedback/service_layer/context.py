"""What feedback's handlers, routes and loops share, built once per process by the runtime
(`ServiceSpec.context`): the settings, the agreement policy, the region reference, the storage layout
and a clock (tests move it)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from p3ke_feedback.config import FeedbackSettings
from p3ke_platform.reference.wilayah import Regions, load_regions
from p3ke_platform.service_context import ServiceContext


class Context(ServiceContext[FeedbackSettings]):
    @cached_property
    def regions(self) -> Regions:
        return load_regions(self.settings.wilayah_path, "P3KE_FEEDBACK_WILAYAH_FILE")

    @property
    def storage(self) -> Path:
        return self.settings.storage_dir

    def batch_dir(self, batch_id: str) -> Path:
        return self.storage / "batches" / batch_id

    def check(self) -> None:
        """Load everything now, so bad configuration stops start-up instead of the first request."""
        super().check()
        _ = self.regions
