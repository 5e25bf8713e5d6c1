"""``p3ke synth``: the command (``register(subparsers)`` adds it to the ``p3ke`` CLI)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from p3ke_ingest.synth.defects import DEFECT_KINDS
from p3ke_platform import console


def _rate(text: str) -> float:
    value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("a rate between 0 and 1 (or 0%-100%)")
    return value


def register(subparsers: Any) -> None:
    """Add ``synth`` to an ``argparse`` subparsers object."""
    p = subparsers.add_parser(
        "synth",
        help="write a synthetic P3KE snapshot (individual + family file)",
        description=(
            "Write a realistic synthetic Data P3KE snapshot: individu.<fmt> and keluarga.<fmt> in the real "
            "column layout, deterministic for --seed, streamed in chunks; optionally with the defects "
            "real files have, each logged with its row."
        ),
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (created if missing)")
    size = p.add_mutually_exclusive_group(required=True)
    size.add_argument("--families", type=console.count_arg, metavar="N", help="number of families")
    size.add_argument("--individuals", type=console.count_arg, metavar="N", help="number of persons (e.g. 1e7)")
    p.add_argument("--format", choices=("csv", "xlsx", "parquet"), default="csv", dest="fmt")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--reference-date", type=console.date_arg, default=None, metavar="YYYY-MM-DD",
        help="date the ages and usia_* flags refer to (default 2023-02-28)",
    )  # fmt: skip
    p.add_argument("--defects", type=_rate, default=0.0, metavar="RATE", help="share of rows to spoil, e.g. 0.02")
    p.add_argument(
        "--defect-kinds", nargs="+", default=None, metavar="KIND",
        help=f"which defects (space or comma separated; default all): {', '.join(DEFECT_KINDS)}",
    )  # fmt: skip
    p.add_argument("--defect-log", default=None, metavar="PATH", help="defect log (.csv, .json, .jsonl)")
    p.add_argument("--provinces", default=None, metavar="CODES", help="only these provinces, e.g. 32,33")
    p.add_argument("--no-family-file", action="store_true", help="write the individual file only")
    p.add_argument("--chunk-families", type=console.count_arg, default=None, metavar="N", help=argparse.SUPPRESS)
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--json", action="store_true",
                   help="print a JSON summary (files, rows, seed, defects) on stdout instead of the human one")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from p3ke_ingest.synth.snapshot import DEFAULT_CHUNK_FAMILIES, DEFAULT_REFERENCE_DATE, generate
    from p3ke_ingest.synth.writers import XlsxTooLarge

    kinds = None
    if args.defect_kinds is not None:
        kinds = [k for item in args.defect_kinds for k in item.split(",") if k]
    as_json = bool(getattr(args, "json", False))
    try:
        result = generate(
            args.out,
            families=args.families,
            individuals=args.individuals,
            seed=args.seed,
            fmt=args.fmt,
            reference_date=args.reference_date or DEFAULT_REFERENCE_DATE,
            defects=args.defects,
            defect_kinds=kinds,
            defect_log=args.defect_log,
            provinces=args.provinces,
            family_file=not args.no_family_file,
            chunk_families=args.chunk_families or DEFAULT_CHUNK_FAMILIES,
            progress=console.progress_enabled(args.no_progress),
        )
    except (ValueError, XlsxTooLarge) as exc:
        return console.fail("p3ke synth", str(exc), as_json=as_json, code=console.EXIT_USAGE)
    except OSError as exc:
        return console.fail("p3ke synth", str(exc), as_json=as_json, code=console.EXIT_FAILED)
    console.emit(summary(result), as_json, lambda _: _human(result))
    return 0


def summary(result: Any) -> dict[str, Any]:
    """What ``p3ke synth --json`` prints: the files written, their rows, the seed and the defects planted."""
    return {
        "out_dir": str(result.out_dir),
        "format": result.format,
        "seed": result.seed,
        "reference_date": result.reference_date.isoformat(),
        "families": result.families,
        "individuals": result.individuals,
        "files": {level: {"path": str(path), "rows": result.rows[level]} for level, path in result.files.items()},
        "defects": {"log": str(result.defect_log) if result.defect_log else None,
                    "total": sum(result.defects_by_kind.values()), "by_kind": result.defects_by_kind},
        "manifest": str(result.manifest) if result.manifest else None,
        "seconds": round(result.seconds, 3),
    }


def _human(result: Any) -> str:
    family = f" --family {result.family_path}" if result.family_path is not None else ""
    return (result.summary() + "\n"
            f"next: p3ke ingest check {result.individual_path}{family}   (or: p3ke ingest submit ... --token TOKEN)")


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m p3ke_ingest.synth.cli synth ...``) until the lead wires ``p3ke``."""
    parser = argparse.ArgumentParser(prog="p3ke")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
