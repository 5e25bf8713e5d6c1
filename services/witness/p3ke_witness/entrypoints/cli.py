"""`p3ke witness …`: the witness's verifier key, the logs it witnesses and the alarms it raised.

Reads the witness's own configuration and database (P3KE_DATABASE_URL, P3KE_WITNESS_*), like an operator on the
witness's host would. stdout carries the result (a table, or one JSON document with --json).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from p3ke_platform import console

if TYPE_CHECKING:
    from p3ke_witness.service_layer.context import WitnessContext


def register(subparsers: Any) -> None:
    witness = subparsers.add_parser("witness", help="the witness of the audit log: vkey, logs, alarms")
    sub = witness.add_subparsers(dest="witness_command", required=True, metavar="COMMAND")

    vkey = sub.add_parser("vkey", help="print this witness's cosignature verifier key (give it to the log and "
                          "to auditors)")
    vkey.set_defaults(func=run_vkey)

    logs = sub.add_parser("logs", help="the witnessed logs: the latest checkpoint cosigned, alarms")
    logs.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    logs.set_defaults(func=run_logs)

    alarms = sub.add_parser("alarms", help="the forks and rollbacks refused, with both signed checkpoints",
                            description="Every alarm: the checkpoint this witness had cosigned and the conflicting "
                            "one the log signed (both as signed notes), and the proof received. Exit 0 when there "
                            "is none, 3 when there are alarms.")
    alarms.add_argument("--origin", help="one log's origin")
    alarms.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    alarms.set_defaults(func=run_alarms)


def _context() -> WitnessContext:
    from p3ke_platform.service import Runtime, installed_service
    from p3ke_platform.settings import load_settings
    from p3ke_witness.config import WitnessSettings

    context: WitnessContext = Runtime(installed_service("witness"),
                                      load_settings(WitnessSettings, service="witness")).context
    return context


def run_vkey(args: argparse.Namespace) -> int:
    return console.guard("p3ke witness vkey", args, lambda: _print(_context().witness.vkey))


def _print(text: str) -> int:
    print(text)
    return 0


def run_logs(args: argparse.Namespace) -> int:
    return console.guard("p3ke witness logs", args, lambda: _logs(args))


def _logs(args: argparse.Namespace) -> int:
    from p3ke_witness.entrypoints.dto import logs_of

    answer = logs_of(_context())
    if args.json:
        print(answer.model_dump_json())
        return 0
    print(f"saksi / witness: {answer.witness}")
    for log in answer.logs:
        size = "-" if log.cosigned_size is None else str(log.cosigned_size)
        print(f"{log.origin}  dikosign/cosigned {size}  pada/at {log.cosigned_at or '-'}  alarm {log.alarms}")
    return 0


def run_alarms(args: argparse.Namespace) -> int:
    return console.guard("p3ke witness alarms", args, lambda: _alarms(args))


def _alarms(args: argparse.Namespace) -> int:
    from p3ke_witness.adapters import state
    from p3ke_witness.entrypoints.dto import AlarmOut

    ctx = _context()
    with ctx.sessions() as session:
        rows = state.list_alarms(session, origin=args.origin, kind=None, after=0, limit=2**62)
    found = [AlarmOut.of(row) for row in rows]
    if args.json:
        print(json.dumps({"alarms": [a.model_dump(mode="json") for a in found]}))
    elif not found:
        print("tidak ada alarm / no alarms")
    for alarm in [] if args.json else found:
        print(f"#{alarm.id} {alarm.raised_at.isoformat()} {alarm.kind.upper()} {alarm.origin}: {alarm.detail}")
        print("  checkpoint yang sudah dikosign / the cosigned checkpoint:")
        print("    " + alarm.cosigned_note.rstrip("\n").replace("\n", "\n    "))
        print("  checkpoint yang bertentangan / the conflicting checkpoint:")
        print("    " + alarm.offered_note.rstrip("\n").replace("\n", "\n    "))
    if found:
        print(f"{len(found)} alarm: log ini bercabang atau mundur / the log forked or rolled back", file=sys.stderr)
    return console.EXIT_NEGATIVE if found else console.EXIT_OK
