"""`p3ke retention show`: the retention schedule in force, and what is due next.

Why: the schedule is a decision of the data controllers; operators and data protection officers must see which
schedule the services apply (from P3KE_RETENTION_SCHEDULE, as the services load it, or `--file` to check a draft)
and which artefacts fall due soonest, before any disposal job acts. For each service that keeps artefacts the
command builds the service's context from the environment (P3KE_DATABASE_URL, P3KE_DATA_DIR, as the service's
own processes do; `--service` picks services, since one environment names one database) and asks its inventory
(`p3ke_<service>.service_layer.retention_inventory`). A service without an inventory, or whose database cannot
be read, is named with the reason. Output holds kinds, ids and dates: nothing of a data subject.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from p3ke_platform import console
from p3ke_platform.agreement import WIB

from .due import agreement_end
from .inventory import Scheduled, inventory_of, schedule_artefacts
from .schedule import KIND_TEXT, OWNERS, Rule, Schedule, ScheduleError, load_schedule

COMMAND = "p3ke retention show"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("retention", help="the retention schedule and what is due next",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="retention_action", required=True, metavar="{show,dispose}")
    show = actions.add_parser("show", help="print the schedule (Indonesian) and the artefacts due next",
                              description="Print the retention schedule as a table (kind, period, starting event, "
                              "owner, legal basis), then the artefacts of each service, soonest due first.")
    show.add_argument("--file", type=Path, default=None,
                      help="a schedule file to check and show (default: P3KE_RETENTION_SCHEDULE as the services "
                           "load it)")
    show.add_argument("--service", action="append", choices=OWNERS, default=None,
                      help="list the artefacts of this service only (repeatable; default every service)")
    show.add_argument("--limit", type=console.count_arg, default=20, help="artefacts listed (default 20)")
    show.add_argument("--at", type=datetime.fromisoformat, default=None,
                      help="the time to compare with (ISO; default now)")
    console.add_output_options(show, json_help="print the schedule and the due artefacts as one JSON document")
    show.set_defaults(func=_show)
    dispose = actions.add_parser(
        "dispose", help="run the disposal job once (or list what it would destroy: --dry-run)",
        description="Run each owning service's disposal job once, as its `retention-disposal` loop does: destroy "
        "what the schedule says is due, unless a legal hold names it (asked of the audit service, "
        "P3KE_LEGAL_HOLDS_URL: nothing is destroyed when it does not answer), with an `erase` record and an "
        "`artefact-disposed` event each. --dry-run lists what would go and why, and what is held, and destroys "
        "nothing.")
    dispose.add_argument("--dry-run", action="store_true", help="list only; destroy nothing")
    dispose.add_argument("--service", action="append", choices=OWNERS, default=None,
                         help="this service only (repeatable; default every service)")
    console.add_output_options(dispose, json_help="print each service's run as one JSON document")
    dispose.set_defaults(func=_dispose)


def _show(args: argparse.Namespace) -> int:
    return console.guard(COMMAND, args, lambda: _run(args))


def _schedule(args: argparse.Namespace) -> Schedule:
    from p3ke_platform.settings import load_settings

    from .configured import schedule_for

    if args.file is not None:
        try:
            return load_schedule(args.file)
        except ScheduleError as exc:
            raise console.CommandError(str(exc), code=console.EXIT_USAGE) from None
    return schedule_for(load_settings())


def _inventory(name: str) -> tuple[list[Scheduled], str]:
    """The service's artefacts with their due times, and its state (`ok`, or why there is no list)."""
    from sqlalchemy.exc import SQLAlchemyError

    from p3ke_platform.service import Runtime, installed_services
    from p3ke_platform.settings import ConfigurationError, load_settings

    spec = installed_services().get(name)
    source = inventory_of(spec.package) if spec is not None else None
    if spec is None or source is None:
        return [], (f"inventaris belum tersedia untuk layanan {name} / no inventory yet for service {name}")
    try:
        context = Runtime(spec, load_settings(spec.settings_class, service=name)).context
        found = list(source.artefacts(context))
        ends = agreement_end(context.policy.agreement)
        return schedule_artefacts(context.retention_schedule, found, ends), "ok"
    except (SQLAlchemyError, OSError, ConfigurationError) as exc:
        detail = str(exc).splitlines()[0] if isinstance(exc, ConfigurationError) else type(exc).__name__
        return [], (f"inventaris layanan {name} tidak dapat dibaca (apakah basis datanya dapat dihubungi dan sudah "
                    f"dimigrasi?) / the inventory of service {name} cannot be read (is its database reachable and "
                    f"migrated?): {detail}")


def _rule_doc(rule: Rule) -> dict[str, Any]:
    return {"kind": rule.kind.value, "title_id": KIND_TEXT[rule.kind][0], "period": rule.period.iso(),
            "starts": [t.value for t in rule.starts], "ends_with_agreement": rule.ends_with_agreement,
            "until_certificate": rule.until_certificate, "owner": rule.owner, "rule_id": rule.describe_id(),
            "rule_en": rule.describe_en(), "basis_id": rule.basis_id, "basis_en": rule.basis_en}


def _due_doc(item: Scheduled, now: datetime) -> dict[str, Any]:
    a, due = item.artefact, item.due
    return {"kind": a.kind.value, "resource_type": a.resource_type, "resource_id": a.resource_id,
            "path": str(a.path) if a.path else None, "sha256": a.sha256,
            "events": {t.value: at.isoformat() for t, at in a.events.items()},
            "due_at": due.at.isoformat() if due else None, "overdue": bool(due and due.at <= now),
            "trigger": due.trigger.value if due else None,
            "awaiting_certificate": bool(due and due.awaiting_certificate),
            "reason_id": due.reason_id() if due else None, "reason_en": due.reason_en() if due else None}


def _run(args: argparse.Namespace) -> int:
    schedule = _schedule(args)
    now = (args.at if args.at is not None else datetime.now(UTC))
    now = now if now.tzinfo else now.replace(tzinfo=WIB)
    services: dict[str, str] = {}
    items: list[Scheduled] = []
    for name in args.service or sorted({r.owner for r in schedule.rules.values()}):
        found, state = _inventory(name)
        services[name] = state
        items += [s for s in found if schedule.rule(s.artefact.kind).owner == name]
    items.sort(key=lambda s: (s.due is None, s.due.at if s.due else now, s.artefact.kind, s.artefact.resource_id))
    result = {"schedule_file": schedule.source, "title": schedule.title, "at": now.astimezone(WIB).isoformat(),
              "rules": [_rule_doc(r) for r in schedule.rules.values()], "services": services,
              "artefacts": len(items), "due": [_due_doc(s, now) for s in items if s.due is not None][:args.limit],
              "not_started": sum(1 for s in items if s.due is None)}
    console.emit(result, args.json, _human)
    return console.EXIT_OK


def _human(doc: Any) -> list[str]:
    lines = [f"Jadwal retensi: {doc['schedule_file']}", ""]
    lines.append(console.table(
        [(r["kind"], r["period"], r["rule_id"], r["owner"]) for r in doc["rules"]],
        ["jenis", "periode", "mulai dan batas", "pemilik"]))
    lines += ["", "Dasar hukum:"]
    lines += [f"  {r['kind']}: {r['basis_id']}" for r in doc["rules"]]
    lines += ["", f"Jatuh tempo berikutnya (per {doc['at'][:16]}):"]
    lines += [f"  {state}" for state in doc["services"].values() if state != "ok"]
    if doc["due"]:
        rows = []
        for d in doc["due"]:
            day = datetime.fromisoformat(d["due_at"]).astimezone(WIB).strftime("%Y-%m-%d %H:%M WIB")
            status = "lewat waktu" if d["overdue"] else "akan datang"
            rows.append((day, status, d["kind"], f"{d['resource_type']} {d['resource_id']}", d["reason_id"]))
        lines.append(console.table(rows, ["jatuh tempo", "status", "jenis", "artefak", "alasan"]))
    else:
        lines.append("  tidak ada artefak yang terjadwal / no artefact scheduled")
    if doc["not_started"]:
        lines.append(f"  {doc['not_started']} artefak belum memulai periode retensinya (peristiwa awalnya belum "
                     f"terjadi) / artefacts whose retention period has not started yet")
    return lines


DISPOSE = "p3ke retention dispose"


def _dispose(args: argparse.Namespace) -> int:
    return console.guard(DISPOSE, args, lambda: _run_dispose(args))


def _dispose_one(name: str, dry_run: bool) -> dict[str, Any]:
    from sqlalchemy.exc import SQLAlchemyError

    from p3ke_platform.service import Runtime, installed_services
    from p3ke_platform.settings import ConfigurationError, load_settings

    from .disposal import DisposalJob, Report

    spec = installed_services().get(name)
    try:
        if spec is None:
            raise ConfigurationError(f"layanan {name} tidak terpasang / service {name} is not installed")
        if "retention_disposals" not in spec.metadata.tables:
            return Report(name, datetime.now(UTC).isoformat(), dry_run, ran=False,
                          problem=f"pekerjaan pemusnahan belum tersedia untuk layanan {name} / no disposal job yet "
                                  f"for service {name}").as_dict() | {"available": False}
        context = Runtime(spec, load_settings(spec.settings_class, service=name)).context
        return DisposalJob(context).run_once(dry_run=dry_run).as_dict()
    except (SQLAlchemyError, OSError, ConfigurationError) as exc:
        detail = str(exc).splitlines()[0] if isinstance(exc, ConfigurationError) else type(exc).__name__
        report = Report(name, datetime.now(UTC).isoformat(), dry_run, ran=False,
                        problem=f"layanan {name} tidak dapat menjalankan pemusnahan (basis data dapat dihubungi dan "
                                f"sudah dimigrasi?) / service {name} cannot run its disposal (is its database "
                                f"reachable and migrated?): {detail}")
        return report.as_dict()


def _run_dispose(args: argparse.Namespace) -> int:
    names = args.service or list(OWNERS)
    runs = [_dispose_one(name, args.dry_run) for name in names]
    console.emit({"dry_run": args.dry_run, "services": runs}, args.json, _human_dispose)
    failed = any(r["problem"] and r.get("available", True) for r in runs)  # a service without a job: named only
    return console.EXIT_FAILED if failed else console.EXIT_OK


OUTCOME_TEXT = {"disposed": "dimusnahkan", "would-dispose": "akan dimusnahkan", "held": "ditahan",
                "shared": "dipertahankan (berkas bersama)", "completed": "dimusnahkan (lanjutan)",
                "withdrawn": "dibatalkan (ditahan)"}


def _human_dispose(doc: Any) -> list[str]:
    lines = [("Uji coba pemusnahan (tidak ada yang dimusnahkan) / dry run (nothing destroyed)" if doc["dry_run"]
              else "Pemusnahan sesuai jadwal retensi / disposal under the retention schedule")]
    for run in doc["services"]:
        lines += ["", f"Layanan {run['service']}:"]
        if run["problem"]:
            lines.append(f"  {run['problem']}")
        rows = [(OUTCOME_TEXT.get(i["outcome"], i["outcome"]), i["kind"], f"{i['resource_type']} {i['resource_id']}",
                 ", ".join(i["held_by"]) or (i["reason"] or "")) for i in run["items"]]
        if rows:
            lines.append(console.table(rows, ["hasil", "jenis", "artefak", "alasan / ditahan oleh"]))
        elif not run["problem"]:
            lines.append("  tidak ada yang jatuh tempo / nothing is due")
    return lines
