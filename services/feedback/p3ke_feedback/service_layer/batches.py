"""A data balikan batch, from the uploaded file to stored, matched, counted and announced.

Order: the agreement policy (may this actor submit feedback for this program), the handover (signed,
handed to the uploader's party, of this agreement and program), the same file again (recognised, not
stored twice), what it supersedes, the extract (its SHA-256) and the snapshot; then validation and
matching in DuckDB, outside any database transaction; then one transaction stores the batch, moves
the report cells, takes away what a superseded batch had added, emits `feedback-received` and the
audit events. The batch's files are written to a work directory and moved into place just before that
transaction, and removed again if it fails: nothing is ever half-stored.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from p3ke_feedback.adapters import matching, sources
from p3ke_feedback.adapters.files import FileProblem
from p3ke_feedback.adapters.orm import batch_cells, extracts, feedback_batches, promotions, signed_handovers
from p3ke_feedback.domain.cells import CELL_MEASURES
from p3ke_feedback.domain.layout import LayoutError
from p3ke_feedback.domain.model import aware
from p3ke_feedback.domain.vocabulary import MatchClass, MatchView, counts_in_view
from p3ke_feedback.service_layer import aggregates, programs
from p3ke_feedback.service_layer.context import Context
from p3ke_feedback.service_layer.handovers import extract_file, settle, snapshot_file, snapshot_row
from p3ke_platform.agreement import agreement_day
from p3ke_platform.ids import random_id
from p3ke_platform.logging import get_logger
from p3ke_platform.refusal import Message, Refused, messages
from p3ke_platform.shared_files import fsync_path as fsync
from p3ke_platform.tabular.errors import Explained, refusal_message
from p3ke_platform.unit_of_work import UnitOfWork
from p3ke_schemas import Actor, FeedbackReceived

log = get_logger(__name__)
M = messages("feedback")
PURPOSE = "data balikan: BNBA of program recipients reported by party 2 (PKS Art. 4(2), 5(1))"


@dataclass(frozen=True)
class Upload:
    path: Path  # the received file (streamed to disk by the API)
    filename: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Submission:
    handover_id: str
    program: str
    supersedes: str | None = None
    batch_id: str | None = None


@dataclass(frozen=True)
class Stored:
    created: bool
    batch: Mapping[str, Any]
    phases: dict[str, float] = field(default_factory=dict)  # seconds per step (logged; the benchmark reads it)


class _Laps:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = round(now - self._last, 3)
        self._last = now


def authorize(ctx: Context, actor: Actor, program: str) -> None:
    """May this actor submit feedback for this program today (the agreement's policy)? A program added by
    written approval is then accepted for a handover signed for it (`_handover`, `programs.policy_scope`)."""
    Refused.unless(ctx.policy.decide_for(actor, "submit-feedback", programs.policy_scope(ctx, program),
                                         at=ctx.clock()))


def _handover(session: Session, ctx: Context, actor: Actor, sub: Submission) -> Any:
    row = session.execute(select(signed_handovers).where(
        signed_handovers.c.handover_id == sub.handover_id)).mappings().first()
    if row is None:
        raise Refused(404, M("handover.unknown", handover=sub.handover_id), rule="handover-unknown")
    if row["agreement_id"] != ctx.agreement_id:
        raise Refused(409, M("handover.other_agreement", handover=sub.handover_id, agreement=row["agreement_id"],
                             applied=ctx.agreement_id), rule="handover-agreement")
    if row["recipient_org"] and row["recipient_org"] != actor.org:
        raise Refused(403, M("handover.other_party", handover=sub.handover_id, org=row["recipient_org"]),
                      rule="handover-party")
    if row["program"] != sub.program:
        raise Refused(422, M("handover.other_program", handover=sub.handover_id, program=row["program"],
                             named=sub.program), rule="handover-program")
    return row


def find_same(session: Session, handover_id: str, sha256: str) -> Any:
    return session.execute(select(feedback_batches).where(feedback_batches.c.handover_id == handover_id,
                                                          feedback_batches.c.file_sha256 == sha256)).mappings().first()


def _same_or_conflict(session: Session, sub: Submission, upload: Upload) -> Any:
    """An earlier batch this upload repeats (returned), or a refusal if its id is taken by another."""
    same = find_same(session, sub.handover_id, upload.sha256)
    if sub.batch_id:
        other = session.execute(select(feedback_batches).where(
            feedback_batches.c.batch_id == sub.batch_id)).mappings().first()
        if other is not None and (same is None or other["batch_id"] != same["batch_id"]):
            raise Refused(409, M("batch_id.taken", batch=sub.batch_id), rule="batch-id")
    return same


def _superseded(session: Session, sub: Submission) -> Any:
    if not sub.supersedes:
        return None
    old = session.execute(select(feedback_batches).where(
        feedback_batches.c.batch_id == sub.supersedes)).mappings().first()
    if old is None or old["handover_id"] != sub.handover_id:
        raise Refused(409, M("supersedes.other_handover", batch=sub.supersedes, handover=sub.handover_id),
                      rule="supersedes")
    if old["status"] != "current":
        raise Refused(409, M("supersedes.already", batch=sub.supersedes, by=old["superseded_by"]), rule="supersedes")
    return old


def _prior(ctx: Context, session: Session, program: str, period: str,
           supersedes: str | None) -> list[matching.PriorBatch]:
    """The program's other current batches in the same year (a person is counted once per program and year)."""
    conditions = [feedback_batches.c.program == program, feedback_batches.c.status == "current",
                  feedback_batches.c.period.like(period[:4] + "-%")]
    if supersedes:
        conditions.append(feedback_batches.c.batch_id != supersedes)
    rows = session.execute(select(feedback_batches.c.batch_id, feedback_batches.c.directory,
                                  feedback_batches.c.period).where(*conditions)
                           .order_by(feedback_batches.c.received_at, feedback_batches.c.batch_id)).all()
    promoted: dict[str, list[int]] = {}
    if rows:
        for batch_id, row in session.execute(select(promotions.c.batch_id, promotions.c.row).where(
                promotions.c.batch_id.in_([r.batch_id for r in rows]))):
            promoted.setdefault(batch_id, []).append(int(row))
    out = []
    for order, (batch_id, directory, batch_period) in enumerate(rows):
        path = ctx.storage / directory / "rows.parquet"
        if not path.is_file():
            raise Refused(409, M("storage.rows_missing", batch=batch_id), rule="storage")
        out.append(matching.PriorBatch(batch_id, path, order, tuple(sorted(promoted.get(batch_id, ()))),
                                       batch_period))
    return out


def _prepare(ctx: Context, actor: Actor, sub: Submission, upload: Upload) -> dict[str, Any]:
    """Every check that reads the database, in one short read (SQLite: one writer at a time)."""
    with ctx.sessions() as session:
        handover = _handover(session, ctx, actor, sub)
        same = _same_or_conflict(session, sub, upload)
        if same is not None:
            return {"same": same}
        old = _superseded(session, sub)
        ext = session.execute(select(extracts).where(
            extracts.c.extract_id == handover["extract_id"])).mappings().first()
        if ext is None:
            raise Refused(409, M("extract.not_announced", extract=handover["extract_id"], handover=sub.handover_id),
                          rule="extract")
        snapshot = snapshot_row(session, ext["dataset_version_id"], latest=True)
        if snapshot is None:
            raise Refused(409, M("snapshot.none"), rule="snapshot")
        prior = _prior(ctx, session, sub.program, handover["period"], sub.supersedes)
    try:
        extract_path, columns = extract_file(ctx, ext)
        snapshot_path = snapshot_file(ctx, snapshot)
    except FileProblem as exc:
        raise Refused(409, M("handover.files", handover=sub.handover_id, problem=str(exc)), rule="files") from None
    if not columns.has_nik:
        raise Refused(409, M("extract.no_nik", handover=sub.handover_id), rule="extract-nik")
    return {"same": None, "handover": handover, "old": old, "columns": columns, "extract_path": extract_path,
            "snapshot": snapshot, "snapshot_path": snapshot_path, "prior": prior}


def submit(ctx: Context, actor: Actor, sub: Submission, upload: Upload) -> Stored:
    """Store one batch, or recognise it as an earlier one; raises Refused with the reason."""
    authorize(ctx, actor, sub.program)
    found = _prepare(ctx, actor, sub, upload)
    if found["same"] is not None:
        upload.path.unlink(missing_ok=True)
        return Stored(False, found["same"])
    handover = found["handover"]
    batch_id = sub.batch_id or random_id("fb", 20)
    work = ctx.storage / "work" / uuid.uuid4().hex
    final = ctx.batch_dir(batch_id)
    s = ctx.settings
    work.mkdir(parents=True, exist_ok=True)
    lap = _Laps()
    try:
        with ctx.duckdb.connect(s.feedback_duckdb_threads, s.feedback_duckdb_memory, s.temp_dir) as con:
            matching.register_vocabularies(con, ctx.regions)
            try:
                staged = sources.stage(con, upload.path, work)
            except (sources.NotATable, LayoutError) as exc:
                raise Refused(422, _reason("file.feedback_layout", name=upload.filename, reason=exc),
                              rule="layout") from None
            blank, summary = matching.skipped_rows(con)
            if blank or summary:
                staged.notes.append(sources.Note(key="file.rows_skipped", blank=f"{blank:,}", summary=f"{summary:,}"))
            if staged.rows - blank - summary <= 0:
                raise Refused(422, _reason("file.feedback_no_rows", name=upload.filename), rule="empty")
            lap("read")
            signed_on = agreement_day(aware(handover["signed_at"]))
            matching.validate(con, program=sub.program, signed_on=signed_on,
                              header_line=staged.header_line if staged.fmt == "csv" else None)
            lap("validate")
            matching.match(con, matching.MatchInputs(program=sub.program, extract=found["columns"],
                                                     snapshot=found["snapshot_path"], prior=found["prior"]))
            result = matching.outcome(con)
            if result.rows == 0:
                raise Refused(422, _reason("file.feedback_no_rows", name=upload.filename), rule="empty")
            lap("match")
            by_code = matching.write_findings(con, work / "findings.parquet")
            _systematic(staged, result.rows, by_code)
            _refuse_if_nothing_served(upload.filename, result, by_code, staged)
            found["promotions"] = matching.orphans(con, found["prior"]) if sub.supersedes else []
            matching.write_rows(con, work / "rows.parquet")
            (work / "xlsx-staging.parquet").unlink(missing_ok=True)
            shutil.move(upload.path, work / f"original.{staged.fmt}")
            publish_dir(work, final)
            lap("files")
            try:
                batch = _store(ctx, con, actor, sub, upload, batch_id, found, staged, result, by_code)
            except BaseException:
                shutil.rmtree(final, ignore_errors=True)
                raise
            lap("store")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        upload.path.unlink(missing_ok=True)
    if batch.created:
        log.info("feedback batch stored", batch_id=batch_id, handover_id=sub.handover_id, program=sub.program,
                 rows=result.rows, rejected=result.rejected, served=result.served, supersedes=sub.supersedes,
                 promoted=len(found["promotions"]), seconds=lap.seconds)
    return Stored(batch.created, batch.batch, lap.seconds)


def publish_dir(work: Path, final: Path) -> None:
    """Flush the batch's files and move the work directory into place (one rename)."""
    for path in work.iterdir():
        fsync(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        work.rename(final)
    except OSError:
        raise Refused(409, M("batch.files_exist", batch=final.name), rule="batch-id") from None
    fsync(final.parent)


SYSTEMATIC = ("file.nik_column_numeric", "file.dates_as_numbers")
"""File-level notes that name the cause of a refusal (a column systematically wrong): said first."""


def _reason(key: str, /, *, causes: tuple[Explained, ...] = (), **params: Any) -> Message:
    """A refusal's reason from the ``findings`` catalogue, with how to fix it, in the caller's language; the
    causes (a column systematically wrong) said first."""
    return refusal_message(*causes, Explained(key=key, **params))


def _systematic(staged: sources.Staged, rows: int, by_code: dict[str, int]) -> None:
    """A NIK column a spreadsheet turned into numbers, seen on most rows of a CSV or Parquet file: one
    file-level note (an XLSX workbook's cells already said so while it was read)."""
    keys = {n.key for n in staged.notes}
    scientific = by_code.get("nik_scientific", 0)
    if rows and scientific >= rows / 2 and "file.nik_column_numeric" not in keys:
        staged.notes.append(sources.Note(key="file.nik_column_numeric", count=f"{scientific:,}", rows=f"{rows:,}"))


def _refuse_if_nothing_served(filename: str, result: matching.Outcome, by_code: dict[str, int],
                              staged: sources.Staged | None = None) -> None:
    if result.served:
        return
    causes = tuple(Explained(key="file.feedback_layout", name=filename, reason=n)
                   for n in (staged.notes if staged else []) if n.key in SYSTEMATIC)
    if result.rejected == result.rows:
        codes = ", ".join(f"{code} {n}" for code, n in sorted(by_code.items(), key=lambda kv: -kv[1])[:10])
        raise Refused(422, _reason("file.feedback_all_invalid", causes=causes, name=filename, rows=result.rows,
                                   codes=codes), rule="all-invalid")
    dup = result.by_class.get(MatchClass.DUPLICATE.value, 0)
    raise Refused(422, _reason("file.feedback_nothing_new", causes=causes, name=filename, rows=result.rows,
                               rejected=result.rejected, duplicates=dup), rule="nothing-new")


def _store(ctx: Context, con: Any, actor: Actor, sub: Submission, upload: Upload, batch_id: str,
           found: dict[str, Any], staged: sources.Staged, result: matching.Outcome, by_code: dict[str, int]) -> Stored:
    handover, old = found["handover"], found["old"]
    now = ctx.clock()
    program, period = sub.program, handover["period"]
    summary = {"by_class": result.by_class, "by_status": result.by_status, "by_province": result.by_province,
               "by_finding": by_code, "notes": staged.note_texts("id"), "notes_en": staged.note_texts("en"),
               "extract_id": handover["extract_id"]}
    row = {"batch_id": batch_id, "handover_id": sub.handover_id, "agreement_id": handover["agreement_id"],
           "program": program, "period": period, "status": "current", "supersedes": sub.supersedes,
           "superseded_by": None, "filename": upload.filename, "file_format": staged.fmt, "file_bytes": upload.size,
           "file_sha256": upload.sha256, "dataset_version_id": found["snapshot"]["dataset_version_id"],
           "rows": result.rows, "rows_rejected": result.rejected, "served": result.served,
           "summary": json.dumps(summary, sort_keys=True), "submitted_org": actor.org,
           "submitted_subject": actor.subject, "received_at": now,
           "directory": str(ctx.batch_dir(batch_id).relative_to(ctx.storage))}
    try:
        with ctx.unit_of_work() as uow:
            session = uow.session
            if old is not None:
                moved = session.execute(update(feedback_batches).where(
                    feedback_batches.c.batch_id == old["batch_id"], feedback_batches.c.status == "current")
                    .values(status="superseded", superseded_by=batch_id))
                if moved.rowcount != 1:
                    raise Refused(409, M("supersedes.meanwhile", batch=old["batch_id"]), rule="supersedes")
                aggregates.add_batch(session, program, period, aggregates.batch_cell_rows(session, old["batch_id"]),
                                     sign=-1)
            session.execute(insert(feedback_batches).values(**row))
            session.execute(insert(batch_cells), [{"batch_id": batch_id, "region": c["region"], "desil": c["desil"],
                                                   **{m: c[m] for m in CELL_MEASURES}} for c in result.cells])
            aggregates.add_batch(session, program, period, result.cells)
            _promote(session, program, found["prior"], found["promotions"], batch_id, now)
            if handover["delivered_state"] != "settled":
                settle(ctx, session, sub.handover_id)
            first = handover["first_feedback_at"] or now
            session.execute(update(signed_handovers).where(signed_handovers.c.handover_id == sub.handover_id)
                            .values(first_feedback_at=first, last_feedback_at=now))
            uow.emit(FeedbackReceived(
                batch_id=batch_id, handover_id=sub.handover_id, agreement_id=handover["agreement_id"],
                program=program, supersedes=sub.supersedes, rows=result.rows, rows_rejected=result.rejected,
                counts_by_match_class=counts_in_view(result.by_class, MatchView.HANDOVER),
                counts_by_status=result.by_status,
                counts_by_region=result.by_province, submitted_by=actor, received_at=now), subject=batch_id)
            uow.record_access(actor=actor, action="upload", resource_type="feedback-batch", resource_id=batch_id,
                              record_count=result.rows, agreement_id=handover["agreement_id"], program=program,
                              purpose=PURPOSE)
            _record_match(uow, con, actor, batch_id, handover["agreement_id"], program, now)
    except IntegrityError:
        with ctx.sessions() as session:
            same = find_same(session, sub.handover_id, upload.sha256)
        if same is None:
            raise Refused(409, M("batch_id.taken", batch=batch_id), rule="batch-id") from None
        shutil.rmtree(ctx.batch_dir(batch_id), ignore_errors=True)
        return Stored(False, same)
    return Stored(True, row)


def _promote(session: Session, program: str, prior: list[matching.PriorBatch], found: list[matching.Promotion],
             by: str, now: Any) -> None:
    """Count the duplicates whose person the correction left counted nowhere (in their own batch's cells)."""
    if not found:
        return
    periods = {b.batch_id: b.period for b in prior}
    session.execute(insert(promotions), [{"batch_id": p.batch_id, "row": p.row, "promoted_by": by,
                                          "promoted_at": now} for p in found])
    for p in found:
        delta = aggregates.promotion_delta(p.region, p.desil, p.base_class, p.status, p.nilai_manfaat)
        aggregates.add_batch_cells(session, p.batch_id, [delta])
        aggregates.add_batch(session, program, periods[p.batch_id], [delta])
    log.info("duplicates counted after a correction", promoted=len(found), correction=by)


def _record_match(uow: UnitOfWork, con: Any, actor: Actor, batch_id: str, agreement_id: str, program: str,
                  now: Any) -> None:
    """The match in the audit log with every matched person's keyed hash (UU PDP Art. 31-32), streamed from
    DuckDB; the unit of work splits it over events of MAX_SUBJECTS_PER_EVENT references."""
    uow.record_access(actor=actor, action="match", resource_type="feedback-batch", resource_id=batch_id,
                      agreement_id=agreement_id, program=program,
                      purpose=PURPOSE + "; matched against the extract and Data P3KE",
                      subject_refs=matching.subject_refs(con, uow.subject_hash_key), at=now)
