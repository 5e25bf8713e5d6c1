"""`p3ke audit obligations [--status overdue] [--party kemnaker] [--kind KIND] [--json]`: the obligations of the
PKS with their deadlines, from the audit database (P3KE_DATABASE_URL). Sweeps first (what the audit-obligations
job does: the agreement's obligations, status changes and reminders recorded), unless --no-sweep."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from p3ke_audit.domain.obligations import KINDS, STATUSES
from p3ke_platform import console

if TYPE_CHECKING:
    from p3ke_audit.service_layer.context import AuditContext

COMMAND = "p3ke audit obligations"


def register(sub: Any, context: Callable[[], AuditContext]) -> None:
    """Add the sub-command; `context` builds the audit context from the environment (cli.py's)."""
    parser = sub.add_parser("obligations", help="the PKS obligations with their deadlines (M&E, notices, data "
                            "balikan, force majeure, liaison officers), by due date",
                            description="List the obligations of the agreement as of today (Jakarta), oldest due "
                            "date first. Exit 0 (even when some are overdue: filter with --status overdue).")
    parser.add_argument("--status", choices=STATUSES)
    parser.add_argument("--party", choices=("kemenkopmk", "kemnaker", "both"),
                        help="a party's own obligations and both parties' (both: only those)")
    parser.add_argument("--kind", choices=KINDS)
    parser.add_argument("--no-sweep", action="store_true", help="do not record status changes and reminders first")
    console.add_output_options(parser, json_help="print {\"obligations\": [...]} as one JSON document",
                               progress=False)
    parser.set_defaults(func=partial(run_obligations, context=context))


def run_obligations(args: argparse.Namespace, context: Callable[[], AuditContext]) -> int:
    return console.guard(COMMAND, args, lambda: _obligations(args, context))


def _obligations(args: argparse.Namespace, context: Callable[[], AuditContext]) -> int:
    from p3ke_audit.adapters import obligation_store as store
    from p3ke_audit.entrypoints.obligations_dto import ObligationOut
    from p3ke_audit.service_layer import obligations

    ctx = context()
    try:
        if not args.no_sweep:
            obligations.sweep(ctx)
        today = obligations.today(ctx)
        with ctx.sessions() as session:
            rows = store.listing(session, today=today, due_soon_days=ctx.settings.obligation_due_soon_days,
                                 status=args.status, party=args.party, kind=args.kind, limit=100_000)
        found = [ObligationOut.of(r, obligations.status_of(ctx, r, today), today).model_dump(mode="json")
                 for r in rows]
    finally:
        ctx.engine.dispose()
    console.emit({"today": today.isoformat(), "obligations": found}, args.json, _lines)
    return 0


def _lines(result: Mapping[str, Any]) -> Iterator[str]:
    found = result["obligations"]
    yield f"kewajiban per {result['today']} / obligations as of {result['today']}: {len(found)}"
    for ob in found:
        late = " (terlambat / late)" if ob["fulfilment"] and ob["fulfilment"]["late"] else ""
        yield (f"{ob['due_date']}  {ob['status']:<9}{late}  {ob['party']:<10}  {ob['article']:<34}  {ob['id']}  "
               f"{ob['kind_name']}")
