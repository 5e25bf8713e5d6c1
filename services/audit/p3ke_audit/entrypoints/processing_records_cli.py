"""`p3ke audit ropa` / `p3ke audit dpia [--out DIR] [--version N] [--issue] [--json]`: write the register of
processing activities (UU PDP Art. 31) or the DPIA (Art. 34) as an Indonesian PDF and its JSON, from the audit
database (P3KE_DATABASE_URL). The current version is issued first if the terms changed since the last one (what
the audit-processing-records job does); --issue issues a new version with fresh figures from the log."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from p3ke_platform import console

if TYPE_CHECKING:
    from p3ke_audit.service_layer.context import AuditContext

FILENAMES = {"ropa": "catatan-kegiatan-pemrosesan", "dpia": "penilaian-dampak-pdp"}
HELP = {"ropa": "the register of processing activities (UU PDP Art. 31) as PDF and JSON",
        "dpia": "the data protection impact assessment (UU PDP Art. 34) as PDF and JSON"}


def register(sub: Any, context: Callable[[], AuditContext]) -> None:
    """Add `ropa` and `dpia`; `context` builds the audit context from the environment (cli.py's)."""
    for kind in ("ropa", "dpia"):
        parser = sub.add_parser(kind, help=HELP[kind],
                                description=f"Write {HELP[kind]}: <out>/{FILENAMES[kind]}-v<N>.pdf and .json. "
                                "Exit 0 when written; 1 when the version asked for does not exist.")
        parser.add_argument("--out", type=Path, default=Path("."), help="the directory to write to (default: .)")
        parser.add_argument("--version", type=int, help="a version from the history (default: the current one)")
        parser.add_argument("--issue", action="store_true",
                            help="issue a new version now (fresh figures from the log), recorded in the log")
        console.add_output_options(parser, json_help="print {\"document\", \"version\", \"sha256\", \"pdf\", "
                                   "\"json\"} as one JSON document", progress=False)
        parser.set_defaults(func=partial(run, kind=kind, context=context))


def run(args: argparse.Namespace, kind: str, context: Callable[[], AuditContext]) -> int:
    return console.guard(f"p3ke audit {kind}", args, lambda: _write(args, kind, context))


def _write(args: argparse.Namespace, kind: str, context: Callable[[], AuditContext]) -> int:
    from p3ke_audit.adapters import processing_records_pdf
    from p3ke_audit.service_layer import processing_records as service

    ctx = context()
    try:
        if args.issue:
            service.issue(ctx, service.service_actor(ctx), (kind,))  # type: ignore[arg-type]
        row = service.stored(ctx, kind, args.version)  # type: ignore[arg-type]
    finally:
        ctx.engine.dispose()
    if row is None:
        raise console.CommandError(f"{kind} versi {args.version} tidak ada; lihat GET "
                                   f"/v1/records-of-processing/versions / no such version of the {kind}")
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"{FILENAMES[kind]}-v{row['version']}"
    body = str(row["body"])
    stem.with_suffix(".json").write_text(body, encoding="utf-8")
    stem.with_suffix(".pdf").write_bytes(processing_records_pdf.render(json.loads(body)))
    console.emit({"document": kind, "version": row["version"], "sha256": row["sha256"],
                  "terms_sha256": row["terms_sha256"], "pdf": str(stem.with_suffix(".pdf")),
                  "json": str(stem.with_suffix(".json"))}, args.json, _lines)
    return 0


def _lines(result: Mapping[str, Any]) -> Iterator[str]:
    yield (f"{result['document']} versi / version {result['version']} (SHA-256 {result['sha256']}, ketentuan / "
           f"terms {result['terms_sha256']})")
    yield f"  {result['pdf']}"
    yield f"  {result['json']}"
