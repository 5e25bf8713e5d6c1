"""``p3ke feedback synth|upload``: make a synthetic data balikan, and upload one to the feedback API.

    p3ke feedback synth --package-csv P3KE_padat_karya_ext-1.csv --program padat_karya --out balikan.csv
    p3ke feedback upload balikan.csv --handover ho-... --token "$P2_OFFICER"

Output follows ``p3ke_platform.console``: a human summary on stdout (``--json``: one JSON document),
progress bars and errors on stderr. ``upload`` exits 0 when the batch is stored (or was already, for
the same file), 3 when the service refuses the file itself (422: layout, empty, no row served; 413:
too large), 1 when the API cannot be reached or refuses the request (token, policy, unknown handover,
another program), 2 for a local problem (a missing file, a bad option).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from p3ke_platform import console

DEFAULT_API = "http://127.0.0.1:8104"
MEDIA_TYPES = {".csv": "text/csv", ".txt": "text/csv",
               ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
               ".parquet": "application/octet-stream"}


def _share(text: str) -> float:
    value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("a share between 0 and 1 (or 0%-100%)")
    return value


def register(subparsers: Any) -> None:
    feedback = subparsers.add_parser("feedback", help="data balikan: make a synthetic one, upload one",
                                     description="Party 2's data balikan (who was actually served) for a handover.")
    sub = feedback.add_subparsers(dest="feedback_command", required=True, metavar="COMMAND")

    synth = sub.add_parser(
        "synth", help="write a synthetic data balikan CSV for a delivered package",
        description="Write a realistic synthetic data balikan for the persons of a delivery package: a share of "
        "them served (with the program's statuses, activities, dates and benefit values), plus planted rows of "
        "persons in P3KE but not delivered, NIKs not in P3KE and invalid NIKs. Deterministic for --seed. The "
        "columns are the feedback service's layout (Indonesian headers).")
    synth.add_argument("--package-csv", type=Path, required=True, metavar="CSV",
                       help="the CSV inside the opened delivery package (its manifest.json beside it is read if there)")
    synth.add_argument("--program", required=True, metavar="CODE",
                       help="program code: pelatihan_berbasis_kompetensi, padat_karya, tenaga_kerja_mandiri, "
                       "pbi_jamsostek_pekerja_rentan (short forms pbk, pk, tkm, pbi accepted), or the code of a "
                       "program the parties added")
    synth.add_argument("--out", type=Path, required=True, metavar="CSV", help="the data balikan file to write")
    synth.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    synth.add_argument("--served-share", type=_share, default=0.8, metavar="SHARE",
                       help="share of the package's persons reported as served (default 0.8)")
    synth.add_argument("--extra-not-delivered-from", nargs=2, metavar=("SNAPSHOT", "N"), default=None,
                       help="add N persons drawn from this P3KE snapshot individual file (CSV from p3ke synth, or "
                       "the published Parquet) who are not in the package")
    synth.add_argument("--extra-not-in-p3ke", type=console.count_arg, default=0, metavar="N",
                       help="add N persons with well-formed NIKs that are not in P3KE")
    synth.add_argument("--invalid-nik", type=console.count_arg, default=0, metavar="N",
                       help="add N rows with a missing or invalid NIK (every kind in turn)")
    synth.add_argument("--start-date", type=console.date_arg, default=None, metavar="YYYY-MM-DD",
                       help="earliest activity start (default: 14 days after the package's manifest created_at, "
                       "else 2026-01-05)")
    console.add_output_options(synth, json_help="print a JSON summary (rows planted per match class, statuses)",
                               progress=False)
    synth.set_defaults(func=run_synth)

    upload = sub.add_parser(
        "upload", help="upload a data balikan file to the feedback API and show how its rows matched",
        description="Stream the file (CSV, XLSX or Parquet) to POST /v1/feedback-batches for a signed handover, "
        "with an upload progress bar, and print the batch's counts by match class (--json: the batch as the API "
        "returns it). Needs party 2's program officer token.")
    upload.add_argument("file", type=Path, help="the data balikan file")
    upload.add_argument("--handover", required=True, metavar="ID", help="the handover id (ho-...)")
    upload.add_argument("--api", default=DEFAULT_API, help=f"feedback API base URL (default {DEFAULT_API})")
    upload.add_argument("--token", required=True, help="bearer token of party 2's program officer")
    upload.add_argument("--program", metavar="CODE",
                        help="the handover's program, one of Art. 3 or one the parties added (default: looked up "
                        "with GET /v1/handovers)")
    upload.add_argument("--supersedes", metavar="BATCH_ID", help="this file corrects (replaces) that batch")
    console.add_output_options(upload, json_help="print the stored batch (counts by class, status, finding) as JSON")
    upload.set_defaults(func=run_upload)


# -- synth -----------------------------------------------------------------------------------------------------


def run_synth(args: argparse.Namespace) -> int:
    return console.guard("p3ke feedback synth", args, lambda: _synth(args))


def _synth(args: argparse.Namespace) -> int:
    from p3ke_feedback.synth import FeedbackSynth, SynthError, generate

    snapshot: Path | None = None
    not_delivered = 0
    if args.extra_not_delivered_from is not None:
        snapshot = Path(args.extra_not_delivered_from[0])
        try:
            not_delivered = console.count_arg(args.extra_not_delivered_from[1])
        except argparse.ArgumentTypeError as exc:
            raise console.CommandError(f"--extra-not-delivered-from N: {exc}", code=console.EXIT_USAGE) from None
        if not snapshot.is_file():
            raise console.CommandError(f"no such snapshot file: {snapshot}", code=console.EXIT_USAGE)
    if not args.package_csv.is_file():
        raise console.CommandError(f"no such file: {args.package_csv}", code=console.EXIT_USAGE)
    spec = FeedbackSynth(package_csv=args.package_csv, program=args.program, out=args.out, seed=args.seed,
                         served_share=args.served_share, not_delivered_from=snapshot, not_delivered=not_delivered,
                         not_in_p3ke=args.extra_not_in_p3ke, invalid_nik=args.invalid_nik, start=args.start_date)
    try:
        result = generate(spec)
    except SynthError as exc:
        raise console.CommandError(str(exc), code=console.EXIT_USAGE) from None
    for note in result.notes:
        print(f"p3ke feedback synth: note: {note}", file=sys.stderr)
    console.emit(result.as_dict(), args.json, _synth_summary)
    return console.EXIT_OK


def _synth_summary(r: Any) -> list[str]:
    lines = [f"wrote {r['out']}: {r['rows']:,} rows for {r['program']} (seed {r['seed']}, from {r['package_rows']:,} "
             f"persons in the package; activities from {r['start']})",
             console.table([[cls, n] for cls, n in r["expected_by_match_class"].items()],
                           ["planted as", "rows"], align="lr"),
             f"statuses: {console.counts_line(r['by_status'])}"]
    if r["invalid_nik_kinds"]:
        lines.append(f"invalid NIKs: {console.counts_line(r['invalid_nik_kinds'])}")
    handover = r.get("handover_id") or "<handover id>"
    lines.append(f"next: p3ke feedback upload {r['out']} --handover {handover} --token TOKEN")
    return lines


# -- upload ----------------------------------------------------------------------------------------------------


def run_upload(args: argparse.Namespace) -> int:
    return console.guard("p3ke feedback upload", args, lambda: _upload(args))


def _upload(args: argparse.Namespace) -> int:
    import re

    from p3ke_feedback.domain.vocabulary import PROGRAM_ALIASES, PROGRAM_PATTERN, PROGRAMS, token

    if not args.file.is_file():
        raise console.CommandError(f"no such file: {args.file}", code=console.EXIT_USAGE)
    program = args.program
    if program is not None:
        program = PROGRAM_ALIASES.get(token(program)) or (program if re.fullmatch(PROGRAM_PATTERN, program) else None)
        if program is None:
            raise console.CommandError(f"unknown program {args.program!r}: one of {', '.join(PROGRAMS)}, or the code "
                                       "of a program the parties added (lower case letters, digits and _)",
                                       code=console.EXIT_USAGE)
    with console.api_client(args.api, args.token) as client:  # Accept-Language: the command's language
        if program is None:
            program = _program_of(client, args.handover)
        params = {"handover_id": args.handover, "program": program, "filename": args.file.name}
        if args.supersedes:
            params["supersedes"] = args.supersedes
        with console.bar(args, label=f"upload {args.file.name}", kind="bytes") as b:
            stream = console.FileUpload(args.file, b, content_type=MEDIA_TYPES.get(args.file.suffix.lower(),
                                                                                    "application/octet-stream"))
            r = client.post("/v1/feedback-batches", params=params, content=stream, headers=stream.headers)
    if r.status_code not in (200, 201):
        error = console.http_error(r, console.text("doing.upload", file=args.file.name))
        rule = r.headers.get("x-p3ke-refusal") or ""
        if r.status_code in (413, 422) and rule and not rule.startswith("handover"):
            error.code = console.EXIT_NEGATIVE  # the file's content was refused: fix the file
        raise error
    batch = r.json()
    if batch.get("file_sha256") and not batch.get("duplicate") and batch["file_sha256"] != stream.sha256:
        raise console.CommandError(f"the API stored SHA-256 {batch['file_sha256']}, but {stream.sha256} was sent "
                                   "(the file changed while uploading?)")
    console.emit(batch, args.json, _batch_summary)
    return console.EXIT_OK


def _program_of(client: Any, handover_id: str) -> str:
    page, offset = 500, 0
    while True:  # the list is paged, oldest first
        r = client.get("/v1/handovers", params={"limit": page, "offset": offset})
        if r.status_code != 200:
            raise console.http_error(r, console.text("doing.program_lookup"))
        rows = r.json()
        for h in rows:
            if h.get("handover_id") == handover_id:
                return str(h["program"])
        if len(rows) < page:
            break
        offset += page
    raise console.CommandError(f"handover {handover_id} is not known to the feedback service: it is not signed by "
                               "both parties yet, or its handover-signed event has not arrived (GET /v1/handovers "
                               "lists the signed ones)", code=console.EXIT_FAILED)


def _batch_summary(b: Any) -> list[str]:
    from p3ke_feedback.domain.vocabulary import SERVED_CLASSES, MatchView, class_labels_id

    rows = int(b.get("rows") or 0)
    head = "already uploaded (the same file): the earlier batch" if b.get("duplicate") else "stored"
    lines = [f"batch {b['batch_id']}: {head}",
             f"  handover {b['handover_id']}, {b['program']}, period {b['period']}, matched against "
             f"{b['dataset_version_id']}",
             f"  {rows:,} rows: {int(b.get('served') or 0):,} served, {int(b.get('rows_rejected') or 0):,} with errors"]
    counts = b.get("counts_by_match_class") or {}
    view = MatchView.P3KE if b.get("match_view") == MatchView.P3KE.value else MatchView.HANDOVER
    labels = class_labels_id(view)  # party 2 is told only whether a row was in the handover
    table = []
    for cls, label in labels.items():
        n = int(counts.get(cls, 0))
        share = f"{n / rows:.1%}" if rows else "-"
        table.append([cls, n, share, label, "yes" if cls in SERVED_CLASSES else "no"])
    for cls, n in counts.items():  # a class this CLI does not know yet
        if cls not in labels:
            table.append([cls, int(n), f"{int(n) / rows:.1%}" if rows else "-", "", ""])
    lines.append(console.table(table, ["match class", "rows", "share", "keterangan", "served (if no error)"],
                               align="lrrll"))
    if b.get("counts_by_status"):
        lines.append(f"statuses: {console.counts_line(b['counts_by_status'])}")
    if b.get("counts_by_finding"):
        lines.append(f"findings: {console.counts_line(b['counts_by_finding'])}")
        if b.get("links", {}).get("findings_csv"):
            lines.append(f"  masked row-level findings: GET {b['links']['findings_csv']}")
    for note in b.get("notes") or []:
        lines.append(f"note: {note}")
    return lines
