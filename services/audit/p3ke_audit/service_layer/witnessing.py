"""Asking the configured witnesses to cosign the latest checkpoint (C2SP tlog-witness `add-checkpoint`).

One round (`witness_round`, run by the `audit-witness` job every P3KE_AUDIT_WITNESS_RETRY_S seconds, at
once after this process signs a checkpoint, and by `AuditContext.witness_now()`): for each configured
witness that has not cosigned the latest checkpoint, send it with `old` = the largest checkpoint that
witness cosigned for us (per audit_cosignatures, 0 if none) and the consistency proof from there, built
from the stored tree. A 200 carries cosignature lines: each is verified with THAT witness's configured
key over the checkpoint body before it is stored. A 409 says which size the witness knows:

* smaller than what it cosigned for us: the witness lost or rolled back its state ("behind"; counted,
  logged as critical), and it is sent the checkpoint again with a proof from its size;
* larger than our latest checkpoint: our log shrank or forked after that witness saw it ("refused";
  counted, logged as critical); it is sent `old <its size>` with our smaller checkpoint all the same, so
  that the witness sees it and raises its own alarm;
* in between (a concurrent submission, a lost answer): sent again once, with a proof from its size.

An answer that says the log forked or rolled back (log-rollback, inconsistent, conflict) also opens an
incident, in the transaction that records it (alarm_incidents.witness_alarm: once per alarm).

Every attempt is recorded in audit_witness_state (status ok | unreachable | refused | behind, a short
error without personal data: checkpoints hold none). Nothing here holds the append lock or an open
transaction during a request; several processes may run rounds at once: a cosignature stored twice is
ignored (its primary key), and the witness protocol itself serialises what each witness accepts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Literal

import httpx
from prometheus_client import Counter, Gauge
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from p3ke_audit.adapters.orm import cosignatures, witness_state
from p3ke_audit.adapters.tree_store import MissingNode, StoredCheckpoint, TreeStore
from p3ke_audit.config import AuditSettings, WitnessEndpoint
from p3ke_audit.service_layer import alarm_incidents
from p3ke_audit.service_layer.witnessed import largest_cosigned, witnessing_status
from p3ke_platform.logging import describe_error, get_logger
from p3ke_platform.tlog.cosignature import Cosignature, verify_line
from p3ke_platform.tlog.merkle import consistency_proof
from p3ke_platform.tlog.note import CheckpointError, signature_lines
from p3ke_platform.tlog.witness_protocol import (
    MAX_BODY_BYTES,
    PATH,
    AddCheckpoint,
    ProtocolError,
    parse_cosignatures,
    parse_size,
)

if TYPE_CHECKING:
    from p3ke_audit.service_layer.context import AuditContext

log = get_logger(__name__)
Status = Literal["ok", "unreachable", "refused", "behind"]

UNWITNESSED = Gauge("p3ke_audit_unwitnessed_entries",
                    "entries not yet covered by a checkpoint a quorum of witnesses cosigned")
UP = Gauge("p3ke_audit_witness_up", "1 if the witness's last answer was a valid cosignature, else 0", ["witness"])
REFUSALS = Counter("p3ke_audit_witness_refusals_total",
                   "witness answers other than a valid cosignature (unreachable ones are not counted)",
                   ["witness", "reason"])

# what a refusal means, in the operator's words: (reason label, Indonesian, English)
REFUSAL_TEXT = {
    400: ("bad-request", "saksi menolak permintaan sebagai salah bentuk", "the witness says the request is malformed"),
    403: ("untrusted-key", "saksi tidak mempercayai kunci tanda tangan log ini; daftarkan kunci verifikasi log "
          "(p3ke audit public-key) di saksi", "the witness does not trust the log's signing key"),
    404: ("unknown-origin", "saksi tidak mengenal log ini (origin); daftarkan kunci verifikasi log di saksi",
          "the witness does not know this log's origin"),
}


@dataclass(frozen=True)
class WitnessResult:
    """What one witness answered in a round (`contacted` false: it had cosigned the latest checkpoint already)."""

    witness: str
    vkey: str
    status: Status
    tree_size: int  # the checkpoint submitted
    cosigned_size: int  # the largest checkpoint it cosigned for us, after this round
    witness_size: int | None = None  # the size it said it knows (a 409)
    error: str | None = None
    stored: int = 0  # new cosignature rows
    contacted: bool = True
    reason: str | None = None  # why it did not cosign (the label of p3ke_audit_witness_refusals_total)
    incident_id: str | None = None  # an incident this answer opened (a fork or rollback: alarm_incidents)


@dataclass(frozen=True)
class _Answer:
    status: int | None  # None: no answer (connection, timeout)
    body: bytes
    error: str = ""


class WitnessClient:
    """HTTP to the witnesses: one `add-checkpoint` request, its answer read up to the protocol's limit."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout

    @cached_property
    def http(self) -> httpx.Client:
        """Built on the first request (its TLS context costs tens of milliseconds; most rounds send nothing)."""
        return httpx.Client(timeout=self.timeout, follow_redirects=False,
                            headers={"User-Agent": "p3ke-audit", "Content-Type": "text/plain; charset=utf-8"})

    def add_checkpoint(self, url: str, request: AddCheckpoint) -> _Answer:
        try:
            with self.http.stream("POST", url + PATH, content=request.encode()) as response:
                body = b""
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_BODY_BYTES:
                        break
                return _Answer(response.status_code, body[:MAX_BODY_BYTES + 1])
        except httpx.TimeoutException:
            return _Answer(None, b"", "tidak menjawab dalam batas waktu (timeout)")
        except httpx.HTTPError as exc:
            return _Answer(None, b"", f"tidak dapat dihubungi (cannot connect: {type(exc).__name__})")

    def close(self) -> None:
        if "http" in self.__dict__:
            self.http.close()


def _short(body: bytes) -> str:
    """A witness's own words, for an operator: one line, printable, at most 200 characters."""
    text = body.decode("utf-8", "replace")
    return "".join(c if c.isprintable() else " " for c in text).strip()[:200]


class _Submission:
    """One witness, one checkpoint: the requests, the 409 handling, the verification of the answer."""

    def __init__(self, endpoint: WitnessEndpoint, checkpoint: StoredCheckpoint, cosigned: int,
                 sessions: sessionmaker[Session], client: WitnessClient) -> None:
        self.endpoint, self.witness = endpoint, endpoint.witness
        self.checkpoint, self.cosigned = checkpoint, cosigned
        self.sessions, self.client = sessions, client
        self.body, _ = signature_lines(checkpoint.note)
        self.found: list[Cosignature] = []
        self.witness_size: int | None = None

    def result(self, status: Status, error: str | None = None, reason: str | None = None) -> WitnessResult:
        if reason:
            REFUSALS.labels(self.witness.name, reason).inc()
        return WitnessResult(self.witness.name, self.endpoint.vkey, status, self.checkpoint.tree_size,
                             max([self.cosigned, *([self.checkpoint.tree_size] if self.found else [])]),
                             self.witness_size, error, reason=reason)

    def proof(self, old: int) -> list[bytes]:
        if not 0 < old < self.checkpoint.tree_size:
            return []
        with self.sessions() as session:
            return consistency_proof(old, self.checkpoint.tree_size, TreeStore(session).lookup)

    def send(self, old: int) -> _Answer:
        try:
            proof = self.proof(old)
        except MissingNode as exc:
            return _Answer(None, b"", f"log tidak dapat membuat bukti konsistensi dari {old} (cannot build the "
                           f"consistency proof: {exc})")
        return self.client.add_checkpoint(self.endpoint.url, AddCheckpoint(old, proof, self.checkpoint.note))

    def run(self) -> WitnessResult:
        size, cosigned = self.checkpoint.tree_size, self.cosigned
        if cosigned > size:
            # the witness cosigned more of our log than we now have: show it our smaller checkpoint
            self.send(cosigned)
            return self._rollback(cosigned)
        answer = self.send(cosigned)
        if answer.status == 409:
            try:
                known = self.witness_size = parse_size(answer.body)
            except ProtocolError as exc:
                return self.result("refused", f"jawaban 409 saksi tidak sah ({exc})", "protocol")
            if known > size:
                self.send(known)  # the witness sees the smaller checkpoint and raises its own alarm
                return self._rollback(known)
            if known == cosigned:  # not a size we disagree on: the same size with another root
                return self._judge(answer, cosigned)
            behind = known < cosigned
            if behind:
                log.critical("witness rolled back its state", witness=self.witness.name, knows=known,
                             cosigned=cosigned)
            answer = self.send(known)
            outcome = self._judge(answer, known)
            if behind:
                return self.result("behind", f"saksi hanya mengenal ukuran {known}, padahal telah menandatangani "
                                   f"checkpoint {cosigned} log ini: state saksi hilang atau dimundurkan (the witness "
                                   f"knows size {known} but had cosigned {cosigned}: it lost or rolled back its "
                                   f"state)", "witness-rollback")
            return outcome
        return self._judge(answer, cosigned)

    def _rollback(self, known: int) -> WitnessResult:
        size = self.checkpoint.tree_size
        log.critical("a witness saw a larger checkpoint of this log than its latest", witness=self.witness.name,
                     witness_size=known, latest=size)
        return self.result("refused", f"saksi telah melihat checkpoint {known}, tetapi checkpoint terbaru log ini "
                           f"{size}: log menyusut atau bercabang (rollback/fork); periksa dengan p3ke audit verify "
                           f"(the witness saw checkpoint {known}, our latest is {size})", "log-rollback")

    def _judge(self, answer: _Answer, old: int) -> WitnessResult:
        size = self.checkpoint.tree_size
        if answer.status is None:
            return self.result("unreachable", answer.error)
        if answer.status == 200:
            return self._cosigned(answer.body)
        if answer.status == 422:
            log.critical("witness refused our checkpoint as inconsistent", witness=self.witness.name, old=old,
                         size=size)
            return self.result("refused", f"checkpoint {size} tidak konsisten dengan {old} (the witness says "
                               f"checkpoint {size} is not consistent with {old})", "inconsistent")
        if answer.status == 409:
            return self.result("refused", f"saksi menolak checkpoint {size} dari ukuran {old}: saksi mengenal ukuran "
                               f"{_short(answer.body)} dengan root lain, atau tidak sepakat tentang ukuran (409: the "
                               f"witness knows another root or size)", "conflict")
        if answer.status in REFUSAL_TEXT:
            reason, indonesian, english = REFUSAL_TEXT[answer.status]
            said = f": {_short(answer.body)}" if answer.body.strip() else ""
            return self.result("refused", f"{indonesian} ({english}; HTTP {answer.status}{said})", reason)
        return self.result("unreachable", f"saksi menjawab HTTP {answer.status} (the witness answered "
                           f"HTTP {answer.status})")

    def _cosigned(self, body: bytes) -> WitnessResult:
        try:
            lines = parse_cosignatures(body)
            for line in lines:
                cosig = verify_line(self.body, line, self.witness)
                if cosig is not None:
                    self.found.append(cosig)
        except (ProtocolError, CheckpointError) as exc:
            return self.result("refused", f"cosignature saksi tidak sah ({exc}); periksa kunci saksi yang "
                               f"dikonfigurasi", "bad-cosignature")
        if not self.found:
            return self.result("refused", "jawaban saksi tidak memuat cosignature dengan kunci yang dikonfigurasi "
                               "(no cosignature of the configured key)", "bad-cosignature")
        return self.result("ok")


def _upsert(session: Session, values: dict[str, object]) -> None:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(witness_state).values(**values)
    session.execute(stmt.on_conflict_do_update(index_elements=[witness_state.c.vkey],
                                               set_={k: stmt.excluded[k] for k in values if k != "vkey"}))


def _record(session: Session, endpoint: WitnessEndpoint, result: WitnessResult, found: Sequence[Cosignature],
            now: datetime) -> int:
    """Store the new cosignatures (a row another process stored first is left alone) and the witness's state."""
    stored = 0
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    for cosig in found:
        stmt = dialect.insert(cosignatures).values(
            tree_size=result.tree_size, key_id=cosig.witness.key_id.hex(), witness=cosig.witness.name,
            line=cosig.line, signed_at=cosig.signed_at, received_at=now).on_conflict_do_nothing()
        stored += len(session.execute(stmt.returning(cosignatures.c.key_id)).all())
    values: dict[str, object] = {
        "vkey": endpoint.vkey, "name": endpoint.name, "url": endpoint.url, "status": result.status,
        "cosigned_size": result.cosigned_size or None, "last_attempt_at": now, "last_error": result.error}
    if result.witness_size is not None:
        values["witness_size"] = result.witness_size
    elif result.status == "ok":
        values["witness_size"] = result.tree_size
    if result.status == "ok":
        values["last_success_at"] = now
    _upsert(session, values)
    return stored


def submit(endpoint: WitnessEndpoint, checkpoint: StoredCheckpoint, sessions: sessionmaker[Session],
           client: WitnessClient) -> WitnessResult:
    """Ask one witness to cosign `checkpoint` (no request if it cosigned it already) and record the outcome."""
    with sessions() as session:
        cosigned = largest_cosigned(session, endpoint.witness)
    if cosigned == checkpoint.tree_size:
        UP.labels(endpoint.name).set(1)
        return WitnessResult(endpoint.name, endpoint.vkey, "ok", checkpoint.tree_size, cosigned, contacted=False)
    submission = _Submission(endpoint, checkpoint, cosigned, sessions, client)
    result = submission.run()
    with sessions() as session, session.begin():
        now = datetime.now(UTC)
        stored = _record(session, endpoint, result, submission.found, now)
        incident_id = alarm_incidents.witness_alarm(
            session, now, witness=endpoint.name, reason=result.reason or "", tree_size=result.tree_size,
            witness_size=result.witness_size, cosigned_size=result.cosigned_size, error=result.error)
    if incident_id:
        log.critical("incident opened from a witness's fork or rollback alarm", witness=endpoint.name,
                     incident_id=incident_id)
    UP.labels(endpoint.name).set(1 if result.status == "ok" else 0)
    if result.status != "ok":
        log.warning("witness did not cosign", witness=endpoint.name, status=result.status, size=result.tree_size,
                    error=(result.error or "")[:300])
    return replace(result, stored=stored, incident_id=incident_id)


def witness_round(sessions: sessionmaker[Session], settings: AuditSettings,
                  client: WitnessClient | None = None) -> list[WitnessResult]:
    """Submit the latest checkpoint to every configured witness (one after the other) and update the gauges."""
    if not settings.audit_witnesses:
        return []
    with sessions() as session:
        latest = TreeStore(session).last_checkpoint()
    own = client is None
    client = client or WitnessClient(settings.audit_witness_timeout_s)
    try:
        results = [submit(e, latest, sessions, client) for e in settings.audit_witnesses] if latest else []
    finally:
        if own:
            client.close()
    with sessions() as session:
        UNWITNESSED.set(witnessing_status(session, settings).unwitnessed_entries)
    return results


def witness_loop(ctx: AuditContext, stop: threading.Event) -> None:
    """The `audit-witness` background job: a round every P3KE_AUDIT_WITNESS_RETRY_S seconds, and at once
    when this process signed a checkpoint (`ctx.witness_wanted`), until `stop` is set."""
    client = WitnessClient(ctx.settings.audit_witness_timeout_s)
    try:
        while not stop.is_set():
            ctx.witness_wanted.clear()
            try:
                ctx.witness_now(client)
            except Exception as exc:  # keep trying; the next round may succeed
                log.warning("witness round failed", error=describe_error(exc))
            deadline = time.monotonic() + ctx.settings.audit_witness_retry_s
            while not stop.wait(0.1) and not ctx.witness_wanted.is_set() and time.monotonic() < deadline:
                pass
    finally:
        client.close()


def current_state(session: Session) -> list[dict[str, object]]:
    """The audit_witness_state rows (for tests and operators)."""
    return [dict(r) for r in session.execute(select(witness_state).order_by(witness_state.c.name)).mappings()]
