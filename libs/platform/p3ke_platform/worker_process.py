"""Run a faust app as a worker process with our logging, and stop cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

from typing import Any

from p3ke_platform.logging import configure_logging
from p3ke_platform.settings import Settings


def run_faust(app: Any, settings: Settings) -> int:
    import faust

    class Worker(faust.Worker):  # type: ignore[misc]
        def _setup_logging(self) -> None:  # keep structlog JSON + redaction, not faust's own format
            configure_logging(settings.service, settings.log_level, settings.log_json)

    worker = Worker(app, loglevel=settings.log_level.lower(), quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()  # returns via SystemExit when stopped
    return 0
