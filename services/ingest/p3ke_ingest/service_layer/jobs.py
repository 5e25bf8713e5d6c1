"""Validation jobs: claimed from the database, run by a background loop, resumed after a crash.

The "ingest-jobs" loop (`run`, declared in `bootstrap.py`) runs in the API process by default
(`P3KE_JOBS_IN_API=true`), else in `python -m p3ke_ingest jobs`. Why the API process will do: ingest
consumes no topic, and the uploaded file lands in the API's data directory anyway. The heavy lifting is
DuckDB, which runs in its own native threads without the GIL, so the event loop keeps answering
(progress polls included). Any number of processes can run jobs: the job state lives in the database, a
worker *claims* a queued job with a conditional UPDATE (only one wins), and keeps a heartbeat while it
runs. A job whose heartbeat is older than the lease (the process died or was killed) is queued again and
run from the start by whoever sees it first, up to ``ingest_job_max_attempts``; then it is marked failed.
A run leaves nothing visible until its final transaction (``publication.publish``), so a rerun is safe.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from p3ke_ingest.adapters.orm import submissions
from p3ke_ingest.service_layer import publication, work_space
from p3ke_ingest.service_layer.context import IngestContext
from p3ke_ingest.service_layer.job_failures import failure_key, reasons
from p3ke_ingest.service_layer.submissions import upload_row
from p3ke_ingest.service_layer.validation import InputFile, rules_from, validate
from p3ke_platform.logging import get_logger

log = get_logger(__name__)
POLL_SECONDS = 2.0
STOP_JOIN_SECONDS = 10.0


def run(ctx: IngestContext, stop: threading.Event) -> None:
    """The "ingest-jobs" background loop: `ingest_job_workers` threads share one runner (one worker id)
    and run queued jobs until `stop` is set. A submission wakes them at once (`ctx.jobs_wake`); otherwise
    they look for work (and for jobs to recover) every POLL_SECONDS."""
    runner = JobRunner(ctx)
    threads = [threading.Thread(target=runner.work, args=(stop,), name=f"p3ke-ingest-job-{i}", daemon=True)
               for i in range(ctx.settings.ingest_job_workers)]
    for thread in threads:
        thread.start()
    log.info("ingest job runner started", worker=runner.worker_id, threads=len(threads))
    stop.wait()
    ctx.jobs_wake.set()  # the idle workers see `stop` now rather than at their next poll
    for thread in threads:
        thread.join(STOP_JOIN_SECONDS)  # a job still running is taken over after its lease, as after a crash


class JobRunner:
    """Claims, runs and recovers jobs as one worker (`worker_id`); tests and the benchmark drive it
    directly (`run_once`, `claim`, `process`, `recover`)."""

    def __init__(self, ctx: IngestContext, worker_id: str | None = None) -> None:
        self.ctx = ctx
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"

    def work(self, stop: threading.Event) -> None:
        """One worker thread of the loop: recover stale jobs, run queued ones, wait to be woken or to poll."""
        wake = self.ctx.jobs_wake
        while not stop.is_set():
            try:
                self.recover()
                while not stop.is_set() and self.run_once():
                    pass
            except Exception as exc:  # keep the loop alive; the job itself records its failure
                log.error("ingest job loop error", error=type(exc).__name__)
            wake.wait(POLL_SECONDS)
            wake.clear()

    # -- one job ------------------------------------------------------------------------------------------
    def recover(self) -> int:
        """Queue again (or fail) running jobs whose worker stopped sending heartbeats."""
        s = self.ctx.settings
        cutoff = self.ctx.clock() - timedelta(seconds=s.ingest_job_lease_seconds)
        stale = (submissions.c.status == "running") & (submissions.c.heartbeat_at < cutoff)
        with self.ctx.unit_of_work() as uow:
            given_up = uow.session.execute(select(submissions.c.submission_id).where(
                stale, submissions.c.attempts >= s.ingest_job_max_attempts)).scalars().all()
            requeued = uow.session.execute(update(submissions).where(
                stale, submissions.c.attempts < s.ingest_job_max_attempts).values(
                status="queued", phase="requeued", claimed_by=None, progress=0.0))
            said, said_en = reasons("job.failed.interrupted", count=s.ingest_job_max_attempts)
            failed = uow.session.execute(update(submissions).where(
                stale, submissions.c.attempts >= s.ingest_job_max_attempts).values(
                status="failed", phase="failed", finished_at=self.ctx.clock(), claimed_by=None,
                reasons=[said], summary={"reasons_en": [said_en]}))
        for sid in given_up:  # what the interrupted runs left behind
            self.ctx.storage.drop_work(sid)
        n = int(requeued.rowcount or 0) + int(failed.rowcount or 0)  # type: ignore[attr-defined]
        if n:
            log.warning("ingest jobs recovered", requeued=requeued.rowcount, failed=failed.rowcount)  # type: ignore[attr-defined]
        return n

    def claim(self) -> dict[str, Any] | None:
        for _ in range(5):
            now = self.ctx.clock()
            with self.ctx.unit_of_work() as uow:
                row = uow.session.execute(select(submissions).where(submissions.c.status == "queued")
                                          .order_by(submissions.c.submitted_at).limit(1)).mappings().first()
                if row is None:
                    return None
                won = uow.session.execute(update(submissions).where(
                    submissions.c.submission_id == row["submission_id"], submissions.c.status == "queued").values(
                    status="running", phase="starting", claimed_by=self.worker_id, heartbeat_at=now,
                    started_at=now, attempts=submissions.c.attempts + 1))
                if won.rowcount == 1:  # type: ignore[attr-defined]
                    return dict(row)
        return None

    def run_once(self) -> bool:
        """Claim and run one queued job; False when none was queued."""
        job = self.claim()
        if job is None:
            return False
        self.process(job)
        return True

    def process(self, job: dict[str, Any]) -> str | None:
        sid = job["submission_id"]
        ctx = self.ctx
        state = {"phase": "starting", "progress": 0.0}
        beat_stop = threading.Event()

        def beat() -> None:
            interval = max(1.0, ctx.settings.ingest_job_lease_seconds / 4)
            while not beat_stop.wait(interval):
                self._heartbeat(sid, state)

        beater = threading.Thread(target=beat, name=f"p3ke-ingest-heartbeat-{sid[:8]}", daemon=True)
        beater.start()
        try:
            inputs = self._inputs(job)
            short = work_space.shortfall(ctx.storage.root / "work", [f.path for f in inputs],
                                         ctx.settings.ingest_work_space_factor)
            if short is not None:
                log.warning("ingest job not started: the work volume has too little free space", submission_id=sid,
                            input_bytes=short.input_bytes, needed_bytes=short.needed_bytes,
                            free_bytes=short.free_bytes)
                with contextlib.suppress(publication.LostClaim):
                    publication.fail(ctx, sid, self.worker_id, *reasons("job.failed.no_room", **short.params()))
                return "failed"
            with ctx.sessions() as session:
                current = publication.current_version(session)
            previous = ctx.storage.snapshot_path(current["snapshot_uri"]) if current else None
            outcome = validate(
                sid, inputs, ctx.storage, rules=rules_from(ctx.settings), policy=ctx.settings.acceptance,
                memory_mb=ctx.settings.ingest_engine_memory_mb, threads=ctx.settings.ingest_engine_threads,
                previous_snapshot=previous,
                progress=lambda phase, value: state.update(phase=phase, progress=round(value, 4)))
            beat_stop.set()
            beater.join()
            status = publication.publish(ctx, job, outcome, self.worker_id)
            log.info("ingest job finished", submission_id=sid, status=status)
            return status
        except publication.LostClaim:
            log.warning("ingest job taken over by another worker; result dropped", submission_id=sid)
            return None
        except Exception as exc:
            key = failure_key(exc)
            log.error("ingest job failed", submission_id=sid, cause=key.rsplit(".", 1)[-1], phase=state["phase"],
                      error=type(exc).__name__)
            with contextlib.suppress(publication.LostClaim):
                publication.fail(ctx, sid, self.worker_id, *reasons(key, error=type(exc).__name__))
            return "failed"
        finally:
            beat_stop.set()
            beater.join()

    def _heartbeat(self, sid: str, state: dict[str, Any]) -> None:
        try:
            with self.ctx.unit_of_work() as uow:
                uow.session.execute(update(submissions).where(
                    submissions.c.submission_id == sid, submissions.c.claimed_by == self.worker_id,
                    submissions.c.status == "running").values(
                    heartbeat_at=self.ctx.clock(), phase=state["phase"], progress=state["progress"]))
        except Exception as exc:  # a missed heartbeat is retried at the next one
            log.warning("ingest heartbeat failed", submission_id=sid, error=type(exc).__name__)

    def _inputs(self, job: dict[str, Any]) -> list[InputFile]:
        out = []
        for src in job["sources"]:
            if src["kind"] == "upload":
                row = upload_row(self.ctx, src["upload_id"])
                path = self.ctx.storage.absolute(row["path"])
            else:
                path = self.ctx.storage.snapshot_path(src["path"])
            out.append(InputFile(src["label"], path, src["name"]))
        return out
