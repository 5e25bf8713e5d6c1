"""What the ingest use cases work with, built once per process from the Runtime (never at import)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING

from p3ke_ingest.adapters.storage import Storage
from p3ke_ingest.config import IngestSettings, ingest_settings
from p3ke_platform.agreement import Agreement, Policy, load_agreement

if TYPE_CHECKING:
    from p3ke_ingest.service_layer.jobs import JobRunner
    from p3ke_platform.service import Runtime

_LOCK = threading.Lock()


class IngestContext:
    def __init__(self, runtime: Runtime, *, now: Callable[[], datetime] | None = None) -> None:
        self.runtime = runtime
        self.settings: IngestSettings = ingest_settings(runtime.settings)
        self.storage = Storage(self.settings.ingest_dir)
        self.now = now or (lambda: datetime.now(UTC))
        self._runner: JobRunner | None = None

    @cached_property
    def agreement(self) -> Agreement:
        return load_agreement(self.settings.agreement_dir, self.settings.agreement_include_examples)

    @cached_property
    def policy(self) -> Policy:
        return Policy(self.agreement)

    @property
    def agreement_id(self) -> str:
        return self.agreement.base.id

    def runner(self) -> JobRunner:
        """The job runner of this process (started on first use when jobs run in the API)."""
        with _LOCK:
            if self._runner is None:
                from p3ke_ingest.service_layer.jobs import JobRunner

                self._runner = JobRunner(self)
            return self._runner


def context_of(runtime: Runtime) -> IngestContext:
    """One context per runtime, kept on it."""
    with _LOCK:
        ctx = getattr(runtime, "_ingest_context", None)
        if ctx is None:
            ctx = IngestContext(runtime)
            runtime._ingest_context = ctx  # type: ignore[attr-defined]
        return ctx
