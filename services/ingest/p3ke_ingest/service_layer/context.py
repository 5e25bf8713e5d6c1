"""What ingest's routes and its validation-job loop share, built once per process by the runtime
(`ServiceSpec.context`): the settings, the clock and the agreement policy (from the platform), the file
storage, and the signal that wakes the job loop when a submission is queued.

The context knows nothing of the job runner (`service_layer.jobs`): the "ingest-jobs" background loop
waits on `jobs_wake`, which the submission route sets, so nothing here imports the jobs or the use cases.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING

from p3ke_ingest.adapters.storage import Storage
from p3ke_ingest.config import IngestSettings
from p3ke_platform.service_context import ServiceContext, utc_now

if TYPE_CHECKING:
    from p3ke_platform.service import Runtime


class IngestContext(ServiceContext[IngestSettings]):
    def __init__(self, runtime: Runtime, *, clock: Callable[[], datetime] = utc_now) -> None:
        super().__init__(runtime, clock=clock)
        self.jobs_wake = threading.Event()
        """Set when a submission is queued: the job loop of this process looks for work at once."""

    @cached_property
    def storage(self) -> Storage:
        """Uploads, snapshots, reports and the jobs' scratch space under `<data dir>/ingest/`."""
        return Storage(self.settings.ingest_dir)

    def check(self) -> None:
        """Load everything now, so bad configuration stops start-up instead of the first request."""
        super().check()
        _ = self.storage
