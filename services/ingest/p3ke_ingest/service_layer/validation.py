"""One submission from files to a verdict: sniff, check, decide, write the snapshot and the report.

Runs outside any database transaction (it may take minutes); the caller publishes the outcome in one
transaction afterwards (``publication.publish``). Everything it writes is either in the job's scratch
directory (dropped afterwards) or content-addressed (a snapshot nobody refers to yet is harmless and
is reused by an identical later submission).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from p3ke_ingest import p3ke_columns as cols
from p3ke_ingest.adapters.sources import NotATable, Source, open_source
from p3ke_ingest.adapters.storage import Storage
from p3ke_ingest.adapters.validation_engine import Engine, FileResult, Rules, run_statement_with_progress
from p3ke_ingest.domain.acceptance import AcceptancePolicy, FileOutcome, decide
from p3ke_ingest.domain.layout import LayoutError
from p3ke_platform.tabular.errors import Explained

Progress = Callable[[str, float], None]
LEVELS: tuple[cols.Level, ...] = ("family", "individual")  # the family file first: individuals refer to it
# share of the whole job each phase takes (for one progress figure)
PHASES = {"reading": (0.0, 0.55), "checking": (0.55, 0.65), "writing": (0.65, 0.95), "comparing": (0.95, 1.0)}


@dataclass
class InputFile:
    label: cols.Level
    path: Path
    name: str


@dataclass
class Outcome:
    accepted: bool
    reasons: list[str]  # in Indonesian, each with how to fix it; in English: summary["reasons_en"]
    summary: dict[str, Any]
    report: Path
    snapshot: tuple[Path, str] | None = None
    family_snapshot: tuple[Path, str] | None = None
    individuals: int = 0
    families: int = 0
    rows_rejected: int = 0
    counts_by_desil: dict[str, int] = field(default_factory=dict)
    counts_by_province: dict[str, int] = field(default_factory=dict)
    changes: dict[str, int] | None = None


def rules_from(settings: Any, today: dt.date | None = None) -> Rules:
    return Rules(desil_min=settings.ingest_desil_min, desil_max=settings.ingest_desil_max,
                 persentil_max=settings.ingest_persentil_max, max_field_bytes=settings.ingest_max_field_chars,
                 max_line_bytes=settings.ingest_max_line_bytes, reference_date=today or dt.date.today())


def validate(submission_id: str, inputs: list[InputFile], storage: Storage, *, rules: Rules,
             policy: AcceptancePolicy, memory_mb: int = 1024, threads: int = 0,
             previous_snapshot: Path | None = None, progress: Progress | None = None) -> Outcome:
    work = storage.work_dir(submission_id, fresh=True)
    report = storage.report_dir(submission_id) / "findings.parquet"
    report.unlink(missing_ok=True)
    engine = Engine(work, memory_mb=memory_mb, threads=threads, rules=rules)
    by_label = {f.label: f for f in inputs}
    order = [lv for lv in LEVELS if lv in by_label]
    n = len(order)

    def tell(phase: str, done: float, step: int = 0) -> None:
        if progress is None:
            return
        lo, hi = PHASES[phase]
        progress(phase, lo + (hi - lo) * (step + max(0.0, min(done, 1.0))) / max(n, 1))

    try:
        sources: dict[str, Source] = {}
        refused: list[Explained] = []
        for label in order:
            f = by_label[label]
            try:
                sources[label] = open_source(f.path, label, work, name=f.name)
            except (NotATable, LayoutError) as exc:
                refused.append(file_refusal(label, f.name, exc))
        if refused:
            _write_report(report, [])
            return Outcome(False, *_reasons(refused, {"files": {}}), report)

        staged: dict[str, Path] = {}
        results: dict[str, FileResult] = {}
        parts: list[Path] = []
        for step, label in enumerate(order):
            src = sources[label]
            staged[label] = run_statement_with_progress(
                engine, "reading", lambda src=src: engine.stage(src),
                (lambda _p, v, step=step: tell("reading", v, step)) if progress else None)
            tell("checking", 0.0, step)
            results[label] = engine.check(src, staged[label], staged.get("family"))
            part = work / f"{label}-findings.parquet"
            engine.write_findings(src, part, results[label])
            parts.append(part)
            tell("checking", 1.0, step)
        _write_report(report, parts)

        outcomes = [FileOutcome(label, results[label].rows, results[label].rejected) for label in order]
        verdict = decide(policy, outcomes, "family" in by_label)
        summary = _summary(results, sources)
        if not verdict.accepted:
            # a column systematically wrong is the reason to read first (not only "no valid row")
            causes = [file_refusal(label, sources[label].name, Explained(key=n.key or f"file.{n.code}", **n.params))
                      for label in order for n in sources[label].notes if n.severity == "error"]
            return Outcome(False, *_reasons([*causes, *verdict.reasons], summary), report)

        written: dict[str, tuple[Path, str]] = {}
        for step, label in enumerate(order):
            target = work / f"{label}-snapshot.parquet"
            run_statement_with_progress(
                engine, "writing", lambda label=label, target=target: engine.write_snapshot(
                    sources[label], staged[label], target),
                (lambda _p, v, step=step: tell("writing", v, step)) if progress else None)
            engine.counts(target, results[label])
            written[label] = storage.store_snapshot(target, family=label == "family")
        ind = results["individual"]
        outcome = Outcome(
            True, [], _summary(results, sources), report, snapshot=written["individual"],
            family_snapshot=written.get("family"), individuals=ind.published,
            families=results["family"].published if "family" in results else ind.families,
            rows_rejected=sum(r.rejected for r in results.values()),
            counts_by_desil=ind.counts_by_desil, counts_by_province=ind.counts_by_province)
        if previous_snapshot is not None and previous_snapshot.exists():
            tell("comparing", 0.0)
            outcome.changes = engine.diff(written["individual"][0], previous_snapshot)
        tell("comparing", 1.0)
        return outcome
    finally:
        engine.close()
        storage.drop_work(submission_id)


def file_refusal(label: str, name: str, exc: NotATable | LayoutError) -> Explained:
    """"individual file x.csv: <why>", with how to fix it, in either language."""
    return Explained(key="file.refused", label=label, name=name, reason=exc)


def _reasons(reasons: list[Explained], summary: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """The reasons in Indonesian (stored as the submission's reasons), and the summary with them in English
    and as codes (``reason_codes``)."""
    summary = {**summary, "reasons_en": [r.explained("en") for r in reasons],
               "reason_codes": [_code(r) for r in reasons]}
    return [r.explained("id") for r in reasons], summary


def _code(reason: Explained) -> str:
    inner = reason.params.get("reason")
    key = inner.key if isinstance(inner, Explained) and inner.key else reason.key
    return (key or "refused").removeprefix("file.")


def _summary(results: dict[str, FileResult], sources: dict[str, Source]) -> dict[str, Any]:
    """Per file: counts, findings by code, and the file-level findings (code, severity, message and fix in
    Indonesian and English): what was read, and any column systematically wrong."""
    return {"files": {label: {"name": r.name, "rows": r.rows, "rejected": r.rejected, "published": r.published,
                              "findings": r.findings, "findings_by_code": r.by_code,
                              "file_findings": [{"code": n.code, "severity": n.severity, "message": n.message("id"),
                                                 "fix": n.fix("id"), "message_en": n.message("en"),
                                                 "fix_en": n.fix("en")} for n in sources[label].notes]}
                      for label, r in results.items()}}


def _write_report(target: Path, parts: list[Path]) -> None:
    """Concatenate the per-file findings into one Parquet report, batch by batch."""
    from p3ke_ingest.adapters.reports import FINDINGS_SCHEMA

    tmp = target.with_suffix(".tmp")
    with pq.ParquetWriter(tmp, FINDINGS_SCHEMA, compression="zstd") as writer:
        for part in reversed(parts):  # the individual file first, as submitted
            for batch in pq.ParquetFile(part).iter_batches(65_536):
                writer.write_batch(batch)
    tmp.replace(target)
