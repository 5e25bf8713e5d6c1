"""`p3ke agreement show|check|manifest`: the effective terms, the policy's answer, the files' hashes.

Why: operators and compliance staff must be able to see which terms the services apply today (and the
SHA-256 of every file they come from, as every decision records their digest), ask the very same policy
the services ask ("would this request be allowed, and why not?") without reading code, and produce the
manifest production accepts terms files by (`manifest`, `sha256sum` format). `register` plugs the
command into the top-level CLI; each sub-action sets `func(args) -> exit code` on the parsed namespace.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

import yaml

from .loader import AgreementConfigError, load_agreement, read_bytes, record_files
from .model import ACTIONS, Agreement
from .policy import WIB, Policy, agreement_day

EXIT_ALLOWED, EXIT_DENIED, EXIT_ERROR = 0, 1, 2


def _parse_at(text: str) -> date | datetime:
    """A day (2026-11-26) or an ISO date-time (2026-11-26T23:30:00+07:00; naive = Jakarta time)."""
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date or date-time: {text!r}") from None


def _add_source_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--at", type=_parse_at, default=None,
                        help="date or date-time to decide at (default: today in Jakarta)")
    parser.add_argument("--dir", type=Path, default=None,
                        help="agreement directory (default: P3KE_AGREEMENT_DIR, else the bundled PKS)")
    parser.add_argument("--include-examples", action="store_true",
                        help="also load records marked `example: true` (demo/test only, never real terms)")
    parser.add_argument("--file", dest="files", type=Path, action="append", default=[],
                        help="an extra record file to load (repeatable; loaded even if it is an example)")
    parser.add_argument("--manifest", type=Path, default=None,
                        help="accept only files listed with their SHA-256 in this sha256sum-format manifest "
                             "(default: P3KE_AGREEMENT_MANIFEST when --dir is not given)")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add the `agreement` command (with `show` and `check`) to a top-level CLI's subparsers."""
    parser = subparsers.add_parser("agreement", help="show the agreement's terms; check a decision",
                                   description=__doc__)
    actions = parser.add_subparsers(dest="agreement_action", required=True, metavar="{show,check,manifest}")

    show = actions.add_parser("show", help="print the effective terms at a date, the files' SHA-256 and digest")
    _add_source_args(show)
    show.add_argument("--format", choices=("yaml", "json"), default="yaml")
    show.set_defaults(func=run_show)

    check = actions.add_parser("check", help="would this be allowed? exit 0 allowed, 1 denied, 2 error")
    _add_source_args(check)
    check.add_argument("--org", required=True, help="the actor's organisation, e.g. kemnaker")
    check.add_argument("--role", dest="roles", action="extend", nargs="+", default=[],
                       help="the actor's roles (repeatable)")
    check.add_argument("--action", required=True, choices=ACTIONS)
    check.add_argument("--program", default=None)
    check.add_argument("--field", dest="fields", action="extend", nargs="+", default=[],
                       help="P3KE fields asked for (repeatable)")
    check.add_argument("--purpose", default=None)
    check.add_argument("--signatory", default=None, help="signatory id, for sign-bast")
    check.add_argument("--json", action="store_true", help="print the decision as JSON")
    check.set_defaults(func=run_check)

    manifest = actions.add_parser(
        "manifest", help="print the sha256sum-format manifest of an agreement directory (P3KE_AGREEMENT_MANIFEST)",
        description="Check that the directory loads, then print `<sha256>  <file>` for each of its record files, "
                    "as `sha256sum` does: deploy the output as P3KE_AGREEMENT_MANIFEST.")
    manifest.add_argument("--dir", type=Path, default=None,
                          help="agreement directory (default: P3KE_AGREEMENT_DIR, else the bundled PKS)")
    manifest.add_argument("--include-examples", action="store_true",
                          help="load records marked `example: true` while checking (demo/test only)")
    manifest.set_defaults(func=run_manifest)
    return parser


def _load(args: argparse.Namespace) -> Agreement:
    directory, manifest = args.dir, args.manifest
    if directory is None:
        from p3ke_platform.settings import load_settings

        settings = load_settings()
        directory = settings.agreement_dir
        manifest = manifest or settings.agreement_manifest
    args.manifest_used = manifest
    return load_agreement(directory, include_examples=args.include_examples, files=args.files, manifest=manifest)


def _when(args: argparse.Namespace) -> date | datetime:
    return args.at if args.at is not None else datetime.now(WIB)


def run_show(args: argparse.Namespace) -> int:
    """Print the terms in force at `--at`, the versions over time and the records valid that day."""
    try:
        agreement = _load(args)
    except (AgreementConfigError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    day = agreement_day(_when(args))
    terms = agreement.terms_at(day)
    doc = {
        "at": day.isoformat(),
        "status": terms.status(day),
        "version": terms.version,
        "versions": [{"from": "signing" if start == date.min else start.isoformat(), "version": t.version,
                      "last_day": t.validity.last_day.isoformat()} for start, t in agreement.timeline()],
        "terms_sha256": agreement.digest,
        "files": [{"file": f.name, "record": f.record_id, "sha256": f.sha256} for f in agreement.sources],
        "manifest": str(args.manifest_used) if args.manifest_used else None,
        "terms": terms.model_dump(mode="json"),
        "written_approvals": [a.model_dump(mode="json") for a in agreement.approvals if a.valid_on(day)],
        "disclosure_consents": [c.model_dump(mode="json") for c in agreement.consents if c.valid_on(day)],
    }
    if args.format == "json":
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        print(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=110), end="")
    return EXIT_ALLOWED


def run_check(args: argparse.Namespace) -> int:
    """Ask the policy; print ALLOW/DENY with the reason; exit 0 when allowed, 1 when denied."""
    try:
        agreement = _load(args)
    except (AgreementConfigError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    decision = Policy(agreement).decide(
        args.org, args.roles, args.action, args.program, args.fields,
        at=_when(args), purpose=args.purpose, signatory_id=args.signatory,
    )
    if args.json:
        print(decision.model_dump_json(indent=2))
    else:
        verdict = "ALLOW" if decision.allowed else "DENY"
        print(f"{verdict} ({decision.rule}, terms {decision.terms_version}): {decision.reason}")
    return EXIT_ALLOWED if decision.allowed else EXIT_DENIED


def run_manifest(args: argparse.Namespace) -> int:
    """Print the manifest of a directory that loads; exit 2 (and print nothing on stdout) if it does not."""
    try:
        directory = args.dir if args.dir is not None else _settings_dir()
        agreement = load_agreement(directory, include_examples=args.include_examples)
        lines = [f"{hashlib.sha256(read_bytes(p)).hexdigest()}  {p.name}" for p in record_files(directory)]
    except (AgreementConfigError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print("\n".join(lines))
    print(f"# {len(lines)} file(s), terms {agreement.base.id}, digest of the loaded files {agreement.digest}",
          file=sys.stderr)
    return EXIT_ALLOWED


def _settings_dir() -> Path:
    from p3ke_platform.settings import load_settings

    from .loader import BUNDLED_DIR

    return load_settings().agreement_dir or BUNDLED_DIR


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry (`python -m p3ke_platform.agreement.cli agreement check ...`), as in `p3ke`."""
    parser = argparse.ArgumentParser(prog="p3ke")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
