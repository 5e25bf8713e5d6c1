"""`p3ke`: the command line for users and operators.

Core commands live here; each service adds its own through the `p3ke.services` entry points
(ServiceSpec.register_cli), so this module never imports a service by name.

Bahasa Indonesia first: `--lang en` (anywhere on the line) or `P3KE_LANG=en` for English, in the CLI's own
messages (PO domain `cli`) and in the services' answers (`Accept-Language`); see `p3ke_platform.console`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from p3ke_platform import console
from p3ke_platform.settings import ConfigurationError


def _run(args: argparse.Namespace) -> int:
    from p3ke_platform.launcher import run

    return run(Path(args.data_dir), exit_when_ready=args.exit_when_ready, seed=not args.no_seed,
               seed_families=args.seed_families)


def _topics(args: argparse.Namespace) -> int:
    from p3ke_platform.messaging.admin import ensure_topics
    from p3ke_platform.settings import load_settings

    created = ensure_topics(load_settings(), replication=args.replication)
    print(console.text("topics.created", topics=", ".join(created) if created else console.text("topics.none")))
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from p3ke_platform.launcher import service_specs
    from p3ke_platform.migrations import upgrade
    from p3ke_platform.settings import load_settings

    specs = service_specs()
    for name in args.service or list(specs):
        upgrade(specs[name], load_settings(specs[name].settings_class, service=name))
        print(console.text("migrate.done", service=name))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, its texts in the command's language (`console.language()`; the services' own
    subcommands describe themselves in English)."""
    text = console.text
    parser = console.Parser(prog="p3ke", description=text("description"), epilog=text("epilog"))
    parser.add_argument("--lang", choices=["id", "en"], help=text("option.lang"))
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help=text("cmd.run"), description=text("cmd.run"))
    run.add_argument("--data-dir", default="var/local", help=text("cmd.run.data_dir"))
    run.add_argument("--exit-when-ready", action="store_true", help=text("cmd.run.exit_when_ready"))
    run.add_argument("--no-seed", action="store_true", help=text("cmd.run.no_seed"))
    run.add_argument("--seed-families", type=int, default=3000, help=text("cmd.run.seed_families"))
    run.set_defaults(func=_run)

    topics = sub.add_parser("topics", help=text("cmd.topics"), description=text("cmd.topics"))
    topics.add_argument("--replication", type=int, default=1, help=text("cmd.topics.replication"))
    topics.set_defaults(func=_topics)

    migrate = sub.add_parser("migrate", help=text("cmd.migrate"), description=text("cmd.migrate"))
    migrate.add_argument("--service", action="append", help=text("cmd.migrate.service"))
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
    """Run one command; the language (`--lang`, else `P3KE_LANG`, else Indonesian) holds for all of it."""
    try:
        lang, rest = console.split_language(sys.argv[1:] if argv is None else argv)
        console.set_language(lang if lang is not None else console.env_language())
    except ConfigurationError as exc:
        console.set_language(None)
        print(f"p3ke: {exc}", file=sys.stderr)
        return console.EXIT_USAGE
    try:
        args = build_parser().parse_args(rest)
        return int(args.func(args) or 0)
    except ConfigurationError as exc:
        print(f"p3ke: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        console.set_language(None)


if __name__ == "__main__":
    sys.exit(main())
