"""``p3ke synth`` and ``p3ke ingest submit|check``: the ingest commands of the ``p3ke`` CLI.

Output follows ``p3ke_platform.console``: a human summary on stdout (``--json``: one JSON document),
progress bars and errors on stderr. Exit codes: 0 published/unchanged (check: accepted), 1 the API
could not be reached or refused the request, 2 a local file or option is wrong, 3 the snapshot was
refused or the job failed (check: not accepted).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from p3ke_platform import console

FINAL = ("published", "unchanged", "refused", "failed")
GOOD = ("published", "unchanged")
POLL_FIRST, POLL_MAX = 0.25, 2.0


def register(subparsers: Any) -> None:
    from p3ke_ingest.synth.cli import register as register_synth

    register_synth(subparsers)
    ingest = subparsers.add_parser("ingest", help="submit or check a P3KE snapshot",
                                   description="Submit a P3KE snapshot to the ingest API (party 1's data steward), "
                                   "or validate files locally first.")
    sub = ingest.add_subparsers(dest="ingest_command", required=True, metavar="COMMAND")

    submit = sub.add_parser("submit", help="upload files to the ingest API, submit them and follow the job",
                            description="Stream the file(s) to POST /v1/uploads (a bytes progress bar each), "
                            "submit them (POST /v1/submissions) and follow the validation job to its end (a job "
                            "progress bar). Prints the dataset version, rows and findings; --json prints the final "
                            "submission as the API returns it. Exit 0 published or unchanged, 3 refused or failed, "
                            "1 the API could not be reached or refused the request.")
    submit.add_argument("individual", type=Path, help="the individual file (CSV, XLSX or Parquet)")
    submit.add_argument("--family", type=Path, help="the family file")
    submit.add_argument("--api", default="http://127.0.0.1:8101", help="ingest API base URL")
    submit.add_argument("--token", required=True, help="bearer token of party 1's data steward")
    submit.add_argument("--no-wait", action="store_true", help="return once the job is queued")
    console.add_output_options(submit, json_help="print the final submission (GET /v1/submissions/{id}) as JSON")
    submit.set_defaults(func=_submit)

    check = sub.add_parser("check", help="validate files locally (no database, nothing published)",
                           description="Run the ingest service's validation on local files: nothing is stored "
                           "or published. Exit 0 when the files would be accepted, 3 when not.")
    check.add_argument("individual", type=Path)
    check.add_argument("--family", type=Path)
    check.add_argument("--report", type=Path, help="write the masked findings here (.csv or .jsonl)")
    console.add_output_options(check, json_help="print the outcome (accepted, reasons, counts per file) as JSON")
    check.set_defaults(func=_check)


# -- submit ----------------------------------------------------------------------------------------------------


def _submit(args: argparse.Namespace) -> int:
    return console.guard("p3ke ingest submit", args, lambda: _upload_and_follow(args))


def _upload_and_follow(args: argparse.Namespace) -> int:
    files = [(label, path) for label, path in (("individual", args.individual), ("family", args.family))
             if path is not None]
    for _, path in files:
        if not path.is_file():
            raise console.CommandError(f"no such file: {path}", code=console.EXIT_USAGE)
    with console.api_client(args.api, args.token) as client:  # Accept-Language: the command's language
        refs: dict[str, dict[str, str]] = {}
        uploads: list[dict[str, Any]] = []
        for label, path in files:
            with console.bar(args, label=f"upload {path.name}", kind="bytes") as b:
                stream = console.FileUpload(path, b)
                r = client.post("/v1/uploads", params={"filename": path.name}, content=stream,
                                headers=stream.headers)
            if r.status_code != 201:
                raise console.http_error(r, console.text("doing.upload", file=path.name))
            body = r.json()
            if body.get("sha256") and body["sha256"] != stream.sha256:
                raise console.CommandError(f"upload of {path.name}: the API stored SHA-256 {body['sha256']}, but "
                                           f"{stream.sha256} was sent (the file changed while uploading?)")
            refs[label] = {"upload_id": body["upload_id"]}
            uploads.append({"label": label, **body})
        r = client.post("/v1/submissions", json=refs)
        if r.status_code not in (200, 202):
            raise console.http_error(r, console.text("doing.submission"))
        accepted = r.json()
        sid = accepted["submission_id"]
        body = _get(client, sid) if args.no_wait else _follow(client, sid, args)
    # --json: the submission exactly as the API returns it; the human summary also names the uploads
    shown = body if args.json else {**body, "duplicate": bool(accepted.get("duplicate")), "uploads": uploads}
    console.emit(shown, args.json, _submission_summary)
    if args.no_wait:
        return console.EXIT_OK
    return console.EXIT_OK if body["status"] in GOOD else console.EXIT_NEGATIVE


def _get(client: Any, sid: str) -> dict[str, Any]:
    while True:
        r = client.get(f"/v1/submissions/{sid}")
        if r.status_code == 429:  # rate limited: wait as told
            time.sleep(min(float(r.headers.get("retry-after", "1") or 1), 30.0))
            continue
        if r.status_code != 200:
            raise console.http_error(r, console.text("doing.read_submission", submission=sid))
        return dict(r.json())


def _follow(client: Any, sid: str, args: argparse.Namespace) -> dict[str, Any]:
    """Poll the submission until it is final, moving a job bar (fraction done, phase as the note)."""
    delay = POLL_FIRST
    with console.bar(args, 1.0, label=f"job {sid[:12]}", kind="fraction") as b:
        while True:
            body = _get(client, sid)
            b.set(float(body.get("progress") or 0.0), note=f"{body.get('status', '?')} {body.get('phase', '')}".strip())
            if body.get("status") in FINAL:
                return body
            time.sleep(delay)
            delay = min(delay * 1.5, POLL_MAX)


def _submission_summary(s: Any) -> list[str]:
    status = s.get("status", "?")
    head = {"published": "published", "unchanged": "unchanged (the same data as the current version)",
            "refused": "REFUSED", "failed": "FAILED"}.get(status, status)
    lines = []
    for u in s.get("uploads", []):
        size = console.human_bytes(u.get("bytes", 0))
        lines.append(f"uploaded {u.get('filename')}: {size}, sha256 {u.get('sha256')}")
    dup = " (an identical submission already existed)" if s.get("duplicate") else ""
    lines.append(f"submission {s.get('submission_id')}: {head}{dup}")
    if s.get("dataset_version_id"):
        lines.append(f"dataset version: {s['dataset_version_id']}")
    files = (s.get("summary") or {}).get("files") or {}
    lines += _files_lines(files)
    for reason in s.get("reasons") or []:
        lines.append(f"reason: {reason}")
    if status in ("queued", "running"):
        lines.append(f"follow it: GET /v1/submissions/{s.get('submission_id')}")
    elif s.get("links", {}).get("report_csv") and any(f.get("findings") for f in files.values()):
        lines.append(f"findings report: GET {s['links']['report_csv']}")
    return lines


def _ordered(files: dict[str, Any]) -> dict[str, Any]:
    """The individual file first, as submitted."""
    return dict(sorted(files.items(), key=lambda kv: (kv[0] != "individual", kv[0])))


# -- check -----------------------------------------------------------------------------------------------------


def _check(args: argparse.Namespace) -> int:
    return console.guard("p3ke ingest check", args, lambda: _run_check(args))


def _run_check(args: argparse.Namespace) -> int:
    from p3ke_ingest.adapters import reports
    from p3ke_ingest.adapters.storage import Storage
    from p3ke_ingest.config import IngestSettings
    from p3ke_ingest.service_layer.validation import InputFile, rules_from, validate
    from p3ke_platform.settings import load_settings

    for path in (args.individual, args.family):
        if path is not None and not path.is_file():
            raise console.CommandError(f"no such file: {path}", code=console.EXIT_USAGE)
    settings = load_settings(IngestSettings, service="ingest")
    inputs = [InputFile("individual", args.individual, args.individual.name)]
    if args.family:
        inputs.append(InputFile("family", args.family, args.family.name))
    with tempfile.TemporaryDirectory(prefix="p3ke-ingest-check-") as tmp:
        storage = Storage(Path(tmp))
        with console.bar(args, 1.0, label="check", kind="fraction") as b:
            outcome = validate("check", inputs, storage, rules=rules_from(settings), policy=settings.acceptance,
                               memory_mb=settings.ingest_engine_memory_mb, threads=settings.ingest_engine_threads,
                               progress=lambda phase, done: b.set(done, note=phase))
            b.set(1.0, note="accepted" if outcome.accepted else "not accepted")
        result = {"accepted": outcome.accepted, "reasons": outcome.reasons, **outcome.summary,
                  "individuals": outcome.individuals, "families": outcome.families,
                  "counts_by_desil": outcome.counts_by_desil}
        if args.report:
            fmt = "jsonl" if args.report.suffix == ".jsonl" else "csv"
            with args.report.open("wb") as f:
                for chunk in reports.export(outcome.report, fmt):
                    f.write(chunk)
            result["report"] = str(args.report)
    console.emit(result, args.json, _check_summary)
    return console.EXIT_OK if outcome.accepted else console.EXIT_NEGATIVE


def _files_lines(summary: dict[str, Any]) -> list[str]:
    """A table of the files (rows, rejected, published, findings) and their findings by code."""
    files = _ordered(summary)
    if not files:
        return []
    rows = [[label, f.get("name", ""), f.get("rows", 0), f.get("rejected", 0), f.get("published", 0),
             f.get("findings", 0)] for label, f in files.items()]
    lines = [console.table(rows, ["file", "name", "rows", "rejected", "published", "findings"], align="llrrrr")]
    lines += [f"  {label} findings: {console.counts_line(f['findings_by_code'])}"
              for label, f in files.items() if f.get("findings_by_code")]
    return lines


def _check_summary(r: Any) -> list[str]:
    lines = ["accepted: the files would be published" if r["accepted"] else "NOT ACCEPTED"]
    lines += _files_lines(r.get("files") or {})
    if r["accepted"]:
        lines.append(f"{r['individuals']:,} persons in {r['families']:,} families")
        if r.get("counts_by_desil"):
            lines.append("by desil: " + ", ".join(f"{k}: {v:,}" for k, v in sorted(
                r["counts_by_desil"].items(), key=lambda kv: int(kv[0]) if str(kv[0]).isdigit() else 99)))
    for reason in r.get("reasons") or []:
        lines.append(f"reason: {reason}")
    if r.get("report"):
        lines.append(f"findings report: {r['report']}")
    return lines
