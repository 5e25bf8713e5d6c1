"""`p3ke`: the command line for users and operators.

Core commands live here; each service adds its own through the `p3ke.services` entry points
(ServiceSpec.register_cli), so this module never imports a service by name.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from p3ke_platform.settings import ConfigurationError


def _run(args: argparse.Namespace) -> int:
    from p3ke_platform.launcher import run

    return run(Path(args.data_dir), exit_when_ready=args.exit_when_ready, seed=not args.no_seed,
               seed_families=args.seed_families)


def _topics(args: argparse.Namespace) -> int:
    from p3ke_platform.messaging.admin import ensure_topics
    from p3ke_platform.settings import load_settings

    created = ensure_topics(load_settings(), replication=args.replication)
    print("created:", ", ".join(created) if created else "nothing (all topics exist)")
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from p3ke_platform.launcher import service_specs
    from p3ke_platform.migrations import upgrade
    from p3ke_platform.settings import load_settings

    specs = service_specs()
    for name in args.service or list(specs):
        upgrade(specs[name], load_settings(specs[name].settings_class, service=name))
        print(f"{name}: migrated")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="p3ke", description="Data P3KE sharing (Kemenko PMK - Kemnaker)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="start Kafka and all five services locally (Ctrl-C stops)")
    run.add_argument("--data-dir", default="var/local", help="local state (default: var/local)")
    run.add_argument("--exit-when-ready", action="store_true", help="stop once everything is ready (and seeded)")
    run.add_argument("--no-seed", action="store_true",
                     help="no development CA, tokens file or synthetic snapshot")
    run.add_argument("--seed-families", type=int, default=3000,
                     help="families in the seeded synthetic snapshot (default 3000)")
    run.set_defaults(func=_run)

    topics = sub.add_parser("topics", help="create the contract's topics and DLQs where missing")
    topics.add_argument("--replication", type=int, default=1)
    topics.set_defaults(func=_topics)

    migrate = sub.add_parser("migrate", help="upgrade services' databases to the newest schema")
    migrate.add_argument("--service", action="append", help="one service (repeatable); default all")
    migrate.set_defaults(func=_migrate)

    for register in _registrations():
        register(sub)
    return parser


def _registrations() -> list[Callable[[Any], None]]:
    from p3ke_platform.agreement.cli import register as agreement
    from p3ke_platform.auth.cli import register as dev_token
    from p3ke_platform.envelope_cli import register as kek_keys
    from p3ke_platform.platform_cli import register as platform
    from p3ke_platform.retention.cli import register as retention
    from p3ke_platform.service import installed_services
    from p3ke_platform.subject_keys_cli import register as subject_keys

    found: list[Callable[[Any], None]] = [dev_token, agreement, platform, retention, subject_keys, kek_keys]
    found += [spec.register_cli for spec in installed_services().values() if spec.register_cli is not None]
    return found


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigurationError as exc:
        print(f"p3ke: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
