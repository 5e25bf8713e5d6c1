"""What feedback's handlers and routes share, built once per process from its settings: the agreement
policy, the region reference, the storage layout and a clock (tests move it)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from p3ke_feedback.adapters.wilayah import Regions, load_regions
from p3ke_feedback.config import FeedbackSettings, feedback_settings
from p3ke_platform.service_context import ServiceContext
from p3ke_platform.settings import Settings


@dataclass
class Context(ServiceContext[FeedbackSettings]):
    @cached_property
    def regions(self) -> Regions:
        return load_regions(self.settings.wilayah_path)

    @property
    def storage(self) -> Path:
        return self.settings.storage_dir

    def batch_dir(self, batch_id: str) -> Path:
        return self.storage / "batches" / batch_id

    def check(self) -> None:
        """Load everything now, so bad configuration stops start-up instead of the first request."""
        super().check()
        _ = self.regions


@lru_cache(maxsize=16)
def context_for(settings: Settings) -> Context:
    return Context(feedback_settings(settings))
