"""``p3ke synth`` and ``p3ke ingest submit|check``: the ingest commands of the ``p3ke`` CLI."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CHUNK = 1 << 20


def register(subparsers: Any) -> None:
    from p3ke_ingest.synth.cli import register as register_synth

    register_synth(subparsers)
    ingest = subparsers.add_parser("ingest", help="submit or check a P3KE snapshot")
    sub = ingest.add_subparsers(dest="ingest_command", required=True, metavar="COMMAND")

    submit = sub.add_parser("submit", help="upload files to the ingest API, submit them and follow the job")
    submit.add_argument("individual", type=Path, help="the individual file (CSV, XLSX or Parquet)")
    submit.add_argument("--family", type=Path, help="the family file")
    submit.add_argument("--api", default="http://127.0.0.1:8101", help="ingest API base URL")
    submit.add_argument("--token", required=True, help="bearer token of party 1's data steward")
    submit.add_argument("--no-wait", action="store_true", help="return once the job is queued")
    submit.set_defaults(func=_submit)

    check = sub.add_parser("check", help="validate files locally (no database, nothing published)")
    check.add_argument("individual", type=Path)
    check.add_argument("--family", type=Path)
    check.add_argument("--report", type=Path, help="write the masked findings here (.csv or .jsonl)")
    check.set_defaults(func=_check)


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


def _submit(args: argparse.Namespace) -> int:
    import httpx

    try:
        return _upload_and_follow(args)
    except httpx.HTTPError as exc:
        print(f"p3ke ingest: the ingest API at {args.api} did not answer: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"p3ke ingest: {exc}", file=sys.stderr)
        return 1


def _upload_and_follow(args: argparse.Namespace) -> int:
    import httpx

    headers = {"Authorization": f"Bearer {args.token}"}
    with httpx.Client(base_url=args.api, headers=headers, timeout=httpx.Timeout(60.0, read=None)) as client:
        refs: dict[str, dict[str, str]] = {}
        for label, path in (("individual", args.individual), ("family", args.family)):
            if path is None:
                continue
            r = client.post("/v1/uploads", params={"filename": path.name}, content=_chunks(path),
                            headers={"Content-Type": "application/octet-stream",
                                     "Content-Length": str(path.stat().st_size)})
            if r.status_code != 201:
                print(f"p3ke ingest: upload of {path.name} refused ({r.status_code}): {r.text}", file=sys.stderr)
                return 1
            refs[label] = {"upload_id": r.json()["upload_id"]}
            print(f"uploaded {path.name}: {r.json()['bytes']:,} bytes, sha256 {r.json()['sha256']}")
        r = client.post("/v1/submissions", json=refs)
        if r.status_code not in (200, 202):
            print(f"p3ke ingest: submission refused ({r.status_code}): {r.text}", file=sys.stderr)
            return 1
        sid = r.json()["submission_id"]
        print(f"submission {sid}: {r.json()['status']}")
        if args.no_wait:
            return 0
        while True:
            body = client.get(f"/v1/submissions/{sid}").json()
            print(f"  {body['status']:<10} {body['phase']:<12} {body['progress']:.0%}", flush=True)
            if body["status"] in ("published", "unchanged", "refused", "failed"):
                break
            time.sleep(2)
        for reason in body.get("reasons") or []:
            print(f"  reason: {reason}")
        if body.get("dataset_version_id"):
            print(f"dataset version {body['dataset_version_id']}")
        return 0 if body["status"] in ("published", "unchanged") else 3


def _check(args: argparse.Namespace) -> int:
    from p3ke_ingest.adapters import reports
    from p3ke_ingest.adapters.storage import Storage
    from p3ke_ingest.config import IngestSettings
    from p3ke_ingest.service_layer.validation import InputFile, rules_from, validate
    from p3ke_platform.settings import load_settings

    settings = load_settings(IngestSettings, service="ingest")
    inputs = [InputFile("individual", args.individual, args.individual.name)]
    if args.family:
        inputs.append(InputFile("family", args.family, args.family.name))
    with tempfile.TemporaryDirectory(prefix="p3ke-ingest-check-") as tmp:
        storage = Storage(Path(tmp))
        outcome = validate("check", inputs, storage, rules=rules_from(settings), policy=settings.acceptance,
                           memory_mb=settings.ingest_engine_memory_mb, threads=settings.ingest_engine_threads)
        print(json.dumps({"accepted": outcome.accepted, "reasons": outcome.reasons, **outcome.summary,
                          "individuals": outcome.individuals, "families": outcome.families,
                          "counts_by_desil": outcome.counts_by_desil}, indent=2))
        if args.report:
            fmt = "jsonl" if args.report.suffix == ".jsonl" else "csv"
            with args.report.open("wb") as f:
                for chunk in reports.export(outcome.report, fmt):
                    f.write(chunk)
    return 0 if outcome.accepted else 3
