"""`p3ke audit incidents-scan`: the audit-incidents job's work, once, now (e.g. from a CronJob when the jobs
process does not run it): open incidents from forged-event refusals and new violations in the log, and mark the
incidents whose notices are overdue. Prints the incidents opened."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from p3ke_audit.service_layer.context import AuditContext


def register(sub: Any, context: Callable[[], AuditContext]) -> None:
    """Add the sub-command; `context` builds the audit context from the environment (cli.py's)."""
    scan = sub.add_parser("incidents-scan", help="open incidents from the log's new forged-event refusals and "
                          "violations now; mark overdue notices (what the audit-incidents job does)")
    scan.set_defaults(func=partial(run_scan, context=context))


def run_scan(_args: argparse.Namespace, context: Callable[[], AuditContext]) -> int:
    from p3ke_audit.service_layer.incident_scan import scan_now

    ctx = context()
    try:
        opened = scan_now(ctx)
    finally:
        ctx.engine.dispose()
    print(f"insiden dibuka / incidents opened: {len(opened)}")
    for incident_id in opened:
        print(incident_id)
    return 0
