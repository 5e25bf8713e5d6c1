"""`p3ke subject-keys pairs --from k1 [--to k2] --niks FILE... --out PAIRS`: (old reference, new reference) of every
NIK in the files, computed with two keys of P3KE_SUBJECT_HASH_KEYS, for `p3ke audit map-subject-refs`.

Run it where the NIKs already are (ingest's current snapshot, `<data dir>/snapshots/<sha256>.parquet`, or a
targeting extract), with the ring holding both keys: the pairs file holds references only, never a NIK, so it may
be carried to the audit service. NIK files: Parquet with a `nik` column, or text with one NIK a line. A person in
none of the files keeps an old reference only the old key finds: keep that key in the ring until the entries
naming such people are past their retention period.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from p3ke_platform import console

NIK_COLUMN = "nik"
BATCH_ROWS = 65_536


def register(sub: Any) -> None:
    keys = sub.add_parser("subject-keys", help="subject hash key rotation: reference pairs for the audit log",
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
