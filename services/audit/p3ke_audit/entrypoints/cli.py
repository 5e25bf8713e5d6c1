"""`p3ke audit …`: verify the log, verify an exported bundle offline, sign a checkpoint, show the keys.

`verify` and `verify-bundle` print a human summary on stdout, or one JSON report with --json; a failed
verification exits 1 (its problems on stderr, or in the JSON report). Errors follow p3ke_platform.console.
`verify-bundle` checks the entries' origins only when given the event keys (`event-keys` writes them); without
them it says so, in Indonesian then in English.

Both take checkpoints seen before (`--trusted-checkpoint FILE`, a signed note saved e.g. from
`/v1/checkpoints/latest?format=note`) and witness keys (`--witness-key VKEY`, cosignature/v1 verifier keys, with
`--quorum N`, default: every key given). A trusted checkpoint must carry the log's signature and, with witness keys,
a quorum of their cosignatures, else the command refuses it (exit 2, saying why). Then the log (or the bundle) must
reach its size and have its root there, else the verification fails naming both sizes (domain/trusted.py).
`verify-bundle` with witness keys also requires the bundle's own checkpoint to be witnessed; a trusted checkpoint
the bundle holds no proof for is a warning (export with `consistency_from`), not a failure.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from p3ke_audit.entrypoints import incidents_cli, obligations_cli, processing_records_cli, subject_keys_cli
from p3ke_platform import console
from p3ke_platform.settings import ConfigurationError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from p3ke_audit.service_layer.context import AuditContext
    from p3ke_audit.service_layer.verification import VerifyReport
    from p3ke_platform.tlog.cosignature import Witness
    from p3ke_platform.tlog.note import Checkpoint


def _trust_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trusted-checkpoint", action="append", type=Path, default=[], metavar="FILE",
                        help="a checkpoint note of this log saved earlier (e.g. GET "
                        "/v1/checkpoints/latest?format=note, or a witness's copy); repeatable. It must carry the log's "
                        "signature (and, with --witness-key, a quorum of cosignatures); the log must still reach its "
                        "size with the same root there")
    parser.add_argument("--witness-key", action="append", default=[], metavar="VKEY",
                        help="a witness's cosignature/v1 verifier key (name+keyid+base64), or a file holding it; "
                        "repeatable. Trusted checkpoints must then be cosigned by --quorum of these witnesses")
    parser.add_argument("--quorum", type=int, metavar="N",
                        help="how many of the --witness-key witnesses must have cosigned (default: all of them)")


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
    _trust_options(verify)
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
    _trust_options(bundle)
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
    incidents_cli.register(sub, _context)
    obligations_cli.register(sub, _context)
    processing_records_cli.register(sub, _context)  # ropa, dpia (UU PDP Art. 31, 34)
    subject_keys_cli.register(sub, _context)  # map-subject-refs, subject-keys (subject hash key rotation)


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


class Trust(NamedTuple):
    """What the command was given to trust besides the log's key."""

    checkpoints: list[Checkpoint]
    witnesses: list[Witness]
    quorum: int


def _trust(args: argparse.Namespace, name: str, public: Any) -> Trust:
    """The trusted checkpoints (verified) and witness keys of the command line; ConfigurationError (exit 2)
    for a key that does not parse, a file that cannot be read or a checkpoint that is not trusted."""
    from p3ke_audit.domain.trusted import NotTrusted, load_trusted
    from p3ke_platform.tlog.cosignature import Witness
    from p3ke_platform.tlog.note import CheckpointError

    witnesses = []
    for text in args.witness_key:
        path = Path(text)
        try:
            witnesses.append(Witness.parse(path.read_text() if "+" not in text and path.is_file() else text))
        except (CheckpointError, OSError, ValueError) as exc:
            raise ConfigurationError(f"--witness-key {text[:80]!r}: kunci saksi tidak sah / not a witness key: "
                                     f"{exc}") from None
    if args.quorum is not None and not witnesses:
        raise ConfigurationError("--quorum tanpa --witness-key / --quorum needs --witness-key")
    quorum = len(witnesses) if args.quorum is None else args.quorum
    if witnesses and not 1 <= quorum <= len(witnesses):
        raise ConfigurationError(f"--quorum {quorum}: harus antara 1 dan {len(witnesses)} (jumlah --witness-key) / "
                                 f"must be between 1 and {len(witnesses)} (the number of --witness-key)")
    checkpoints: list[Checkpoint] = []
    for path in args.trusted_checkpoint:
        try:
            note = path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"--trusted-checkpoint {path}: tidak dapat dibaca / cannot be read: "
                                     f"{getattr(exc, 'strerror', None) or exc}") from None
        try:
            checkpoints += load_trusted([note], name, public, witnesses, quorum)
        except NotTrusted as exc:
            raise ConfigurationError(f"--trusted-checkpoint {path}: {str(exc).replace('#1 ', '')}") from None
    unique = {(c.size, c.root): c for c in checkpoints}
    return Trust(sorted(unique.values(), key=lambda c: c.size), witnesses, quorum)


def _check_trusted(engine: Engine, report: VerifyReport, trust: Trust) -> list[dict[str, Any]]:
    """Each trusted checkpoint against the log: its root at the trusted size from the stored tree (what the walk
    checked, when it reported the tree intact). Failures go into the report; returns one result per checkpoint."""
    from p3ke_audit.adapters.tree_store import MissingNode, TreeStore
    from p3ke_audit.domain.trusted import compare
    from p3ke_platform.tlog.merkle import root_at

    results = []
    witnessed = bool(trust.witnesses)
    with engine.connect() as conn:
        store = TreeStore(conn)
        for cp in trust.checkpoints:
            try:
                root = root_at(cp.size, store.lookup) if 0 < cp.size <= report.tree_size else None
                problem = compare(cp, report.tree_size, root, witnessed=witnessed)
            except MissingNode as exc:
                problem = (f"akar log pada ukuran {cp.size} tidak dapat dihitung / the log's root at size {cp.size} "
                           f"cannot be computed: {exc}")
            if problem is not None:
                report.fail(problem)
            results.append({"tree_size": cp.size, "ok": problem is None, "problem": problem})
    return results


def _witnessed(engine: Engine, trust: Trust) -> dict[str, Any] | None:
    """With witness keys: whether the log's latest checkpoint carries a quorum of their cosignatures (stored)."""
    from p3ke_audit.adapters.tree_store import TreeStore
    from p3ke_platform.tlog.cosignature import cosignatures
    from p3ke_platform.tlog.note import CheckpointError

    if not trust.witnesses:
        return None
    with engine.connect() as conn:
        store = TreeStore(conn)
        last = store.last_checkpoint()
        if last is None:
            return {"tree_size": None, "witnessed": False, "witnesses": []}
        try:
            names = sorted(c.witness.name for c in cosignatures(store.cosigned_note(last), trust.witnesses))
        except CheckpointError:  # a stored line of a given witness that does not verify
            names = []
    return {"tree_size": last.tree_size, "witnessed": len(names) >= trust.quorum, "witnesses": names}


def _trust_lines(trusted: list[dict[str, Any]], witnessed: dict[str, Any] | None) -> list[str]:
    """What the human report says of the trusted checkpoints and the witnesses: Indonesian, then English."""
    lines = []
    good = [str(r["tree_size"]) for r in trusted if r["ok"]]
    if good:
        lines.append(f"konsisten dengan checkpoint tepercaya / consistent with the trusted checkpoint(s): "
                     f"{', '.join(good)}")
    lines += [f"GAGAL / FAILED: {r['problem']}" for r in trusted if not r["ok"]]
    if witnessed is not None:
        size, names = witnessed["tree_size"], ", ".join(witnessed["witnesses"]) or "-"
        lines.append(f"checkpoint terbaru {size} disaksikan oleh / latest checkpoint {size} witnessed by: {names}"
                     if witnessed["witnessed"] else
                     f"PERHATIAN: checkpoint terbaru {size} belum disaksikan (kuorum tidak terpenuhi; kosignatur: "
                     f"{names}) / NOTE: the latest checkpoint {size} is not witnessed (no quorum; cosigned by: "
                     f"{names})")
    return lines


def run_verify(args: argparse.Namespace) -> int:
    return console.guard("p3ke audit verify", args, lambda: _verify(args))


def _verify(args: argparse.Namespace) -> int:
    from p3ke_audit.service_layer.verification import record, verify_log

    ctx = _context()
    if args.key:
        name, public = _key(args.key, args.origin or ctx.settings.audit_origin)
    else:
        name, public = ctx.signer.name, ctx.signer.public_key
    trust = _trust(args, name, public)
    keys = ctx.event_keys  # the deployment's pinned event keys: the trust file and the agreement's parties
    engine = ctx.engine
    try:
        report = verify_log(engine, name, public, keys=keys)
        trusted = _check_trusted(engine, report, trust)
        witnessed = _witnessed(engine, trust)
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
                          "warnings": report.warnings, "trusted_checkpoints": trusted, "latest_witnessed": witnessed,
                          "problems": report.problems, "seconds": round(report.seconds, 3)}))
    else:
        print(report.summary())
        for line in _trust_lines(trusted, witnessed):
            print(line, file=sys.stdout if report.ok else sys.stderr)
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
        trust = _trust(args, name, public)
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
    report = verify_bundle(bundle if isinstance(bundle, dict) else {}, name, public, keys=keys,
                           trusted=trust.checkpoints, witnesses=trust.witnesses, quorum=trust.quorum)
    result = {"ok": report.ok, "log": name, "tree_size": report.tree_size, "entries_checked": report.entries_checked,
              "checkpoints_checked": report.checkpoints_checked, "problems": report.problems,
              "origin_checked": report.origin_checked, "signed_entries": report.signed_entries,
              "origin_failures": [{"leaf_index": f.leaf_index, "event_id": f.event_id, "reason": f.reason}
                                  for f in report.origin_failures],
              "unsigned_entries": len(report.unsigned_leaves), "unsigned_ranges": report.unsigned_ranges,
              "trusted_checked": report.trusted_checked, "trusted_failures": report.trusted_failures,
              "trusted_unchecked": report.trusted_unchecked, "witnessed_by": report.witnessed_by,
              "warnings": report.warnings if report.origin_checked else [*report.warnings, ORIGIN_UNCHECKED[1]]}
    if args.json:
        console.emit(result, True, lambda _: "")
    elif report.ok:
        print(f"ok: {report.entries_checked} entries and {report.checkpoints_checked} earlier checkpoints verified "
              f"against the signed tree of {report.tree_size} ({name})")
        for line in _origin_lines(report):
            print(line)
        for line in _bundle_trust_lines(report, trust):
            print(line)
    else:
        print(f"FAILED: {len(report.problems)} problem(s)", file=sys.stderr)
        for problem in report.problems[:50]:
            print(f"  {problem}", file=sys.stderr)
        if len(report.problems) > 50:
            print(f"  … and {len(report.problems) - 50} more (--json lists them all)", file=sys.stderr)
        for line in _origin_lines(report):
            print(line, file=sys.stderr)
        for line in _bundle_trust_lines(report, trust):
            print(line, file=sys.stderr)
    return 0 if report.ok else 1


def _bundle_trust_lines(report: Any, trust: Trust) -> list[str]:
    """The human report's lines on trusted checkpoints and witnesses of a bundle (failures are in the problems)."""
    lines = []
    if report.trusted_checked:
        lines.append("konsisten dengan checkpoint tepercaya / consistent with the trusted checkpoint(s): "
                     + ", ".join(str(size) for size in report.trusted_checked))
    lines += [f"warning: {w}" for w in report.trusted_unchecked]
    if trust.witnesses and report.witnessed_by is not None and len(report.witnessed_by) >= trust.quorum:
        lines.append(f"checkpoint {report.tree_size} disaksikan oleh / witnessed by: {', '.join(report.witnessed_by)}")
    return lines


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
