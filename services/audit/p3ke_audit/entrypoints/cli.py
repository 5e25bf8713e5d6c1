"""`p3ke audit …`: verify the log, verify an exported bundle offline, sign a checkpoint, show the keys.

`verify` and `verify-bundle` print a human summary on stdout, or one JSON report with --json; a failed
verification exits 1 (its problems on stderr, or in the JSON report). Errors follow p3ke_platform.console.
`verify-bundle` checks the entries' origins only when given the event keys (`event-keys` writes them); without
them it says so, in Indonesian then in English.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from p3ke_platform import console
from p3ke_platform.settings import ConfigurationError

if TYPE_CHECKING:
    from p3ke_audit.service_layer.context import AuditContext


def register(subparsers: Any) -> None:
    audit = subparsers.add_parser("audit", help="the audit log: verify, verify-bundle, checkpoint, public-key, "
                                  "event-keys")
    sub = audit.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")

    verify = sub.add_parser("verify", help="re-derive the whole tree from the database and verify every entry's "
                            "origin; name the bad entries",
                            description="Recompute every entry's leaf, every stored subtree hash and every "
                            "checkpoint's root from the audit database (P3KE_DATABASE_URL), and verify every "
                            "entry's origin signature again against the deployment's pinned event keys "
                            "(P3KE_EVENT_TRUST_FILE, the agreement's platform keys). Exit 0 when intact, 1 when "
                            "something does not match (the first entry that does not match is named, and every "
                            "entry no pinned key signed).")
    verify.add_argument("--key", help="verify checkpoints with this public key (verifier key text, or a file "
                        "holding it or a PEM key) instead of the configured signing key")
    verify.add_argument("--origin", help="the log's origin, with a PEM --key (default: P3KE_AUDIT_ORIGIN)")
    verify.add_argument("--no-record", action="store_true", help="do not store the result in the database")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(func=run_verify)

    bundle = sub.add_parser("verify-bundle", help="check an exported bundle offline with the public keys only",
                            description="Check every entry's leaf and inclusion proof and every checkpoint's "
                            "signature and consistency; with --event-keys, also every entry's origin (its "
                            "producer's signature and the columns derived from the signed event), as `p3ke audit "
                            "verify` does. Needs no database and no network.")
    bundle.add_argument("bundle", help="the exported JSON file ('-' for stdin)")
    bundle.add_argument("--key", required=True, help="the log's verifier key (name+id+key), or a file holding it "
                        "or a PEM public key")
    bundle.add_argument("--origin", help="the log's origin, with a PEM --key")
    bundle.add_argument("--event-keys", action="append", type=Path, metavar="FILE",
                        help="the public keys that sign events, `keys: [{kid, owner, jwk, not_before?, "
                        "not_after?}]` (YAML or JSON; services' and platforms' keys, as `p3ke audit event-keys` "
                        "writes them); repeatable. Without it the entries' origins are not checked")
    bundle.add_argument("--json", action="store_true", help="print the report as JSON")
    bundle.set_defaults(func=run_verify_bundle)

    checkpoint = sub.add_parser("checkpoint", help="sign a checkpoint now if the log grew since the last one")
    checkpoint.set_defaults(func=run_checkpoint)

    key = sub.add_parser("public-key", help="print the checkpoint verifier key (and PEM) to give to witnesses")
    key.set_defaults(func=run_public_key)

    event_keys = sub.add_parser("event-keys", help="print the public event keys this deployment trusts, for "
                                "`verify-bundle --event-keys`",
                                description="Print the trust file of the running configuration: the services' "
                                "pinned keys (P3KE_EVENT_TRUST_FILE), the agreement's platform keys and (outside "
                                "production) the development keys, as public JWKs with owners and validity.")
    event_keys.set_defaults(func=run_event_keys)

    grants = sub.add_parser("grant-sql", help="print the PostgreSQL GRANTs of the application role")
    grants.add_argument("--role", required=True, help="the role the audit processes connect as")
    grants.add_argument("--schema", default="public")
    grants.set_defaults(func=run_grant_sql)


def _context() -> AuditContext:
    """The audit context of this command (settings from the environment), as the service's processes build it."""
    from p3ke_audit.config import AuditSettings
    from p3ke_platform.service import Runtime, installed_service
    from p3ke_platform.settings import load_settings

    return Runtime(installed_service("audit"), load_settings(AuditSettings, service="audit")).context


def _key(text: str, origin: str | None) -> tuple[str, Any]:
    from p3ke_audit.adapters.keys import load_public_key
    from p3ke_platform.tlog.note import CheckpointError

    path = Path(text)
    if "+" not in text and path.is_file():
        text = path.read_text()
    try:
        return load_public_key(text.strip() + ("\n" if "BEGIN" in text else ""), origin)
    except (CheckpointError, ValueError) as exc:
        raise ConfigurationError(f"--key: {exc}") from None


def run_verify(args: argparse.Namespace) -> int:
    return console.guard("p3ke audit verify", args, lambda: _verify(args))


def _verify(args: argparse.Namespace) -> int:
    from p3ke_audit.service_layer.verification import record, verify_log

    ctx = _context()
    if args.key:
        name, public = _key(args.key, args.origin or ctx.settings.audit_origin)
    else:
        name, public = ctx.signer.name, ctx.signer.public_key
    keys = ctx.event_keys  # the deployment's pinned event keys: the trust file and the agreement's parties
    engine = ctx.engine
    try:
        report = verify_log(engine, name, public, keys=keys)
        if not args.no_record:
            record(engine, report)
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps({"ok": report.ok, "tree_size": report.tree_size, "entries_checked": report.entries_checked,
                          "checkpoints_checked": report.checkpoints_checked,
                          "latest_checkpoint": report.latest_checkpoint, "first_bad_leaf": report.first_bad_leaf,
                          "last_bad_leaf": report.last_bad_leaf,
                          "origin_checked": report.origin_checked, "signed_entries": report.signed_entries,
                          "origin_failed": report.origin_failed,
                          "origin_failures": [{"leaf_index": f.leaf_index, "seq": f.seq, "event_id": f.event_id,
                                               "reason": f.reason} for f in report.origin_failures],
                          "unsigned_entries": report.unsigned_entries, "unsigned_ranges": report.unsigned_ranges,
                          "warnings": report.warnings,
                          "problems": report.problems, "seconds": round(report.seconds, 3)}))
    else:
        print(report.summary())
        for failure in report.origin_failures[:50]:
            print(f"  {failure.describe()}", file=sys.stderr)
        if report.origin_failed > 50:
            print(f"  … and {report.origin_failed - 50} more (--json lists the first {len(report.origin_failures)})",
                  file=sys.stderr)
    return 0 if report.ok else 1


ORIGIN_UNCHECKED = (
    "PERHATIAN: asal entri (tanda tangan produsen event) TIDAK diperiksa; berikan --event-keys (dari "
    "`p3ke audit event-keys`)",
    "NOTE: the entries' origin (their producers' signatures) was NOT checked; give --event-keys (from "
    "`p3ke audit event-keys`)",
)


def _origin_lines(report: Any) -> list[str]:
    """What the human report says of the entries' origins: Indonesian, then English."""
    if not report.origin_checked:
        return list(ORIGIN_UNCHECKED)
    unsigned = len(report.unsigned_leaves)
    failed = len(report.origin_failures)
    return [f"asal entri: {report.signed_entries} tanda tangan sah, {failed} gagal, {unsigned} tanpa bukti asal "
            "(format 1)",
            f"origin: {report.signed_entries} signatures verified, {failed} failed, {unsigned} without origin "
            "evidence (format 1)", *(f"warning: {w}" for w in report.warnings)]


def run_verify_bundle(args: argparse.Namespace) -> int:
    from p3ke_audit.adapters.event_keys import ring_of
    from p3ke_audit.domain.bundle import verify_bundle

    command = "p3ke audit verify-bundle"
    try:
        name, public = _key(args.key, args.origin)
        keys = ring_of(args.event_keys) if args.event_keys else None
    except ConfigurationError as exc:
        return console.fail(command, str(exc), as_json=args.json, code=2)
    try:
        raw = sys.stdin.read() if args.bundle == "-" else Path(args.bundle).read_text()
    except OSError as exc:
        return console.fail(command, f"cannot read {args.bundle}: {exc.strerror or exc}", as_json=args.json, code=2)
    try:
        bundle = json.loads(raw)
    except json.JSONDecodeError as exc:
        return console.fail(command, f"not JSON: {exc}", as_json=args.json, code=1)
    report = verify_bundle(bundle if isinstance(bundle, dict) else {}, name, public, keys=keys)
    result = {"ok": report.ok, "log": name, "tree_size": report.tree_size, "entries_checked": report.entries_checked,
              "checkpoints_checked": report.checkpoints_checked, "problems": report.problems,
              "origin_checked": report.origin_checked, "signed_entries": report.signed_entries,
              "origin_failures": [{"leaf_index": f.leaf_index, "event_id": f.event_id, "reason": f.reason}
                                  for f in report.origin_failures],
              "unsigned_entries": len(report.unsigned_leaves), "unsigned_ranges": report.unsigned_ranges,
              "warnings": report.warnings if report.origin_checked else [*report.warnings, ORIGIN_UNCHECKED[1]]}
    if args.json:
        console.emit(result, True, lambda _: "")
    elif report.ok:
        print(f"ok: {report.entries_checked} entries and {report.checkpoints_checked} earlier checkpoints verified "
              f"against the signed tree of {report.tree_size} ({name})")
        for line in _origin_lines(report):
            print(line)
    else:
        print(f"FAILED: {len(report.problems)} problem(s)", file=sys.stderr)
        for problem in report.problems[:50]:
            print(f"  {problem}", file=sys.stderr)
        if len(report.problems) > 50:
            print(f"  … and {len(report.problems) - 50} more (--json lists them all)", file=sys.stderr)
        for line in _origin_lines(report):
            print(line, file=sys.stderr)
    return 0 if report.ok else 1


def run_checkpoint(_args: argparse.Namespace) -> int:
    ctx = _context()
    try:
        cp = ctx.issue_checkpoint(force=True)
    finally:
        ctx.engine.dispose()
    if cp is None:
        print("no new entries since the last checkpoint (or the tree does not extend it: see the log)")
        return 0
    print(cp.note, end="")
    return 0


def run_public_key(_args: argparse.Namespace) -> int:
    s = _context().signer
    print(s.verifier_key)
    print(s.public_pem(), end="")
    return 0


def run_event_keys(args: argparse.Namespace) -> int:
    return console.guard("p3ke audit event-keys", args, _event_keys)


def _event_keys() -> int:
    from p3ke_audit.adapters.event_keys import keys_file_text

    print(keys_file_text(_context().event_keys), end="")
    return 0


def run_grant_sql(args: argparse.Namespace) -> int:
    from p3ke_audit.adapters.grants import grant_sql

    try:
        print(grant_sql(args.role, args.schema), end="")
    except ValueError as exc:
        print(f"p3ke audit grant-sql: {exc}", file=sys.stderr)
        return 2
    return 0
