"""`p3ke subject-keys pairs --from k1 [--to k2] --niks FILE... --out PAIRS`: (old reference, new reference) of every
NIK in the files, computed with two keys of P3KE_SUBJECT_HASH_KEYS, for `p3ke audit map-subject-refs`,
`p3ke targeting rekey-ledgers --pairs` and `p3ke delivery rekey-subject-refs --pairs`.

Run it where the NIKs already are (ingest's current snapshot, `<data dir>/snapshots/<sha256>.parquet`, or a
targeting extract), with the ring holding both keys: the pairs file holds references only, never a NIK, so it may be
carried to the audit, targeting and delivery services. NIK files: Parquet with a `nik` column, or text with one NIK
a line. A person in none of the files keeps an old reference only the old key finds: keep that key in the ring until
the entries naming such people are past their retention period.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from p3ke_platform import console

if TYPE_CHECKING:
    from p3ke_platform.subject_keys import RekeyReport

NIK_COLUMN = "nik"
BATCH_ROWS = 65_536


def register(sub: Any) -> None:
    keys = sub.add_parser("subject-keys", help="subject hash key rotation: reference pairs for the audit log, "
                          "targeting's ledgers and delivery's subject references",
                          description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = keys.add_subparsers(dest="subject_keys_action", required=True, metavar="{pairs}")
    pairs = actions.add_parser("pairs", help="old -> new subject references of the NIKs in the files given")
    pairs.add_argument("--from", dest="old", required=True, metavar="KEY_ID", help="the key leaving, e.g. k1")
    pairs.add_argument("--to", dest="new", metavar="KEY_ID", help="the key replacing it (default: the current one)")
    pairs.add_argument("--niks", nargs="+", type=Path, required=True, metavar="FILE",
                       help="Parquet with a `nik` column (e.g. the current snapshot), or text with a NIK a line")
    pairs.add_argument("--out", type=Path, required=True, help="the pairs file to write (mode 0600)")
    console.add_output_options(pairs, json_help="print {\"pairs\", \"from\", \"to\", \"out\"}", progress=False)
    pairs.set_defaults(func=lambda args: console.guard("p3ke subject-keys pairs", args, lambda: _pairs(args)))


def _pairs(args: argparse.Namespace) -> int:
    from p3ke_platform.settings import load_settings
    from p3ke_platform.subject_keys import KeyRingError, PairsHeader, write_pairs

    ring = load_settings().subject_key_ring
    new = args.new or ring.current.id
    for path in args.niks:
        if not path.is_file():
            raise FileNotFoundError(2, "no such file", str(path))
    try:
        pairs = ring.pairs(_niks(args.niks), args.old, new)
        tmp = args.out.with_name(f".{args.out.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            count = write_pairs(fh, pairs, PairsHeader(args.old, new))
        os.replace(tmp, args.out)
    except KeyRingError as exc:
        raise console.CommandError(str(exc), code=console.EXIT_USAGE) from None
    console.emit({"pairs": count, "from": args.old, "to": new, "out": str(args.out)}, args.json,
                 lambda r: f"{r['pairs']} pasangan {r['from']} -> {r['to']} ditulis ke / pairs written to {r['out']}")
    return 0


def _niks(paths: list[Path]) -> Iterator[str]:
    for path in paths:
        if path.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            from p3ke_platform.subject_keys import KeyRingError

            parquet = pq.ParquetFile(path)
            if NIK_COLUMN not in parquet.schema_arrow.names:
                raise KeyRingError(f"{path}: tidak ada kolom {NIK_COLUMN} / has no {NIK_COLUMN} column")
            for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=[NIK_COLUMN]):
                yield from (str(v) for v in batch.column(0).to_pylist() if v is not None)
        else:
            with path.open(encoding="utf-8") as fh:
                yield from (line.strip() for line in fh)


# -- what `p3ke targeting rekey-ledgers` and `p3ke delivery rekey-subject-refs` share ------------------------------

_OUTCOME_TEXT = {
    "rekeyed": "dikunci ulang / re-keyed",
    "would-rekey": "akan dikunci ulang (uji coba, tidak diubah) / would be re-keyed (dry run, unchanged)",
    "recorded": "sudah ditulis ulang oleh proses sebelumnya, kini dicatat / rewritten by an earlier run, now recorded",
    "refused": "DITOLAK, berkas tidak diubah / REFUSED, the file is left unchanged",
    "absent": "berkas tidak ada / the file is not there",
}


def add_rekey_options(parser: argparse.ArgumentParser) -> None:
    """`--pairs FILE`, `--dry-run` and `--json` of a re-keying command."""
    parser.add_argument("--pairs", type=Path, required=True, metavar="FILE",
                        help="the pairs file `p3ke subject-keys pairs` wrote (old key -> new key)")
    parser.add_argument("--dry-run", action="store_true", help="only say what would be re-keyed; change nothing")
    console.add_output_options(parser, json_help="print {\"from\", \"to\", \"dry_run\", \"files\": [...], "
                               "\"rekeyed\", \"refused\"}", progress=False)


def rekey_command(service: str, settings_class: type[Any], command: str, args: argparse.Namespace,
                  rekey: Callable[..., RekeyReport]) -> int:
    """Run a re-keying (`rekey(ctx, pairs, dry_run=...)` in `service`'s context, built from the environment's
    settings as its processes build it) of its files, print its report (per file: old key -> new key, references,
    outcome; the service's log lines, which name no reference, on stderr); exit 1 when a file was refused
    (references without a pair), 2 on a malformed pairs file."""
    from p3ke_platform.logging import configure_logging
    from p3ke_platform.subject_keys import KeyRingError

    def run() -> RekeyReport:
        from p3ke_platform.service import Runtime, installed_service
        from p3ke_platform.settings import load_settings

        runtime = Runtime(installed_service(service), load_settings(settings_class, service=service))
        try:
            return rekey(runtime.context, args.pairs, dry_run=args.dry_run)
        finally:
            runtime.engine.dispose()

    def body() -> int:
        configure_logging(service, "INFO", json=False)  # on stderr: stdout is the report
        if not args.pairs.is_file():
            raise FileNotFoundError(2, "no such file", str(args.pairs))
        try:
            report = run()
        except KeyRingError as exc:
            raise console.CommandError(f"{args.pairs}: {exc}", code=console.EXIT_USAGE) from None
        result = {"pairs": str(args.pairs), "from": report.header.old_key_id, "to": report.header.new_key_id,
                  "dry_run": bool(args.dry_run), "files": [vars(o) for o in report.files],
                  "rekeyed": report.rekeyed, "refused": report.refused}
        console.emit(result, args.json, _report_lines)
        return console.EXIT_FAILED if report.refused else console.EXIT_OK

    return console.guard(command, args, body)


def _report_lines(r: Mapping[str, Any]) -> list[str]:
    lines = []
    for f in r["files"]:
        line = (f"{f['resource_id']}: {f['old_key_id']} -> {f['new_key_id']}, {f['refs']} referensi / refs: "
                f"{_OUTCOME_TEXT[f['outcome']]}")
        if f["outcome"] == "refused":
            line += (f" ({f['missing']} referensi tanpa pasangan; hitung pasangan dari snapshot yang memuat mereka / "
                     f"{f['missing']} refs without a pair; compute the pairs from a snapshot that holds them)")
        lines.append(line)
    if not lines:
        lines.append("tidak ada berkas dengan kunci lama pasangan ini / no file holds the pairs' old key")
    if r["dry_run"]:
        lines.append(f"uji coba / dry run {r['from']} -> {r['to']}: {r['rekeyed']} berkas akan dikunci ulang, "
                     f"{r['refused']} ditolak / files would be re-keyed, refused (tidak ada yang diubah / nothing "
                     "changed)")
    else:
        lines.append(f"{r['from']} -> {r['to']}: {r['rekeyed']} berkas dikunci ulang, {r['refused']} ditolak / files "
                     "re-keyed, refused")
    return lines
