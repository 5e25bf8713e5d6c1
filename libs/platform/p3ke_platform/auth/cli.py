"""`p3ke dev-token`: mint a token of the local development issuer (never in production)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from p3ke_platform.auth.tokens import ORGS, ROLES, DevIssuer
from p3ke_platform.settings import load_settings


def register(subparsers: Any) -> None:
    """Add `dev-token` to the top-level CLI's subparsers; it runs through `args.func(args)`."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "dev-token",
        help="mint a development bearer token (local issuer; refused in production)",
        description="Print a JWT of the local development issuer to stdout. "
        "Services accept it while P3KE_AUTH_DEV_ISSUER is on and they share the data directory.",
    )
    parser.add_argument("--org", required=True, choices=ORGS)
    parser.add_argument("--role", dest="roles", action="append", required=True, choices=ROLES,
                        help="repeatable")
    parser.add_argument("--subject", default="dev-user", help="the `sub` claim (default: dev-user)")
    parser.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default: 3600)")
    parser.add_argument("--service-account", action="store_true", help="mark as a platform account")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="where the issuer key lives (default: P3KE_DATA_DIR)")
    parser.set_defaults(func=run_dev_token)


def run_dev_token(args: argparse.Namespace) -> int:
    overrides: dict[str, Any] = {"data_dir": args.data_dir} if args.data_dir else {}
    settings = load_settings(**overrides)
    if settings.env == "production":
        print("p3ke dev-token: refused: P3KE_ENV is production; use the identity provider",
              file=sys.stderr)
        return 2
    try:
        token = DevIssuer(settings).mint(args.subject, args.org, args.roles, ttl_seconds=args.ttl,
                                         service_account=args.service_account)
    except ValueError as exc:
        print(f"p3ke dev-token: {exc}", file=sys.stderr)
        return 2
    if not settings.auth_dev_issuer:
        print("p3ke dev-token: note: P3KE_AUTH_DEV_ISSUER is off, services will reject this token",
              file=sys.stderr)
    print(token)
    return 0
