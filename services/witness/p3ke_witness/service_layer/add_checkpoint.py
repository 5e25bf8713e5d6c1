"""`add-checkpoint` (C2SP tlog-witness): check a log's checkpoint against what this witness cosigned before, and
cosign it (C2SP tlog-cosignature v1) or refuse it, raising an alarm on a fork or a rollback.

The order of the checks is the spec's: 400 malformed, 404 unknown origin, 403 no valid signature of a trusted
log key, then `domain.rules.judge` (400 / 409 / 422 / 200). The state is updated by compare-and-set before the
cosignature is returned; a request that loses a race is answered 409 with the size that won.
"""

from __future__ import annotations

from dataclasses import dataclass

from p3ke_platform.logging import get_logger
from p3ke_platform.tlog.cosignature import cosign
from p3ke_platform.tlog.note import Checkpoint, CheckpointError, add_signatures, parse_body, signature_lines
from p3ke_platform.tlog.witness_protocol import (
    SIZE_CONTENT_TYPE,
    AddCheckpoint,
    ProtocolError,
    encode_size,
    parse_request,
)
from p3ke_witness.adapters import state
from p3ke_witness.adapters.state import AlarmEvidence
from p3ke_witness.domain.logs import verifying_key
from p3ke_witness.domain.rules import Known, judge
from p3ke_witness.service_layer.alarms import raise_alarm
from p3ke_witness.service_layer.context import WitnessContext
from p3ke_witness.service_layer.metrics import COSIGNED, REFUSED, SIZE

log = get_logger(__name__)
TEXT = "text/plain; charset=utf-8"
MAX_SIZE = 2**63 - 1  # what the database holds (BIGINT); the spec's sizes are uint64


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str = TEXT


def _text(status: int, message: str) -> Answer:
    REFUSED.labels(str(status)).inc()
    return Answer(status, (message + "\n").encode())


def add_checkpoint(ctx: WitnessContext, body: bytes) -> Answer:
    try:
        request = parse_request(body)
        text, _ = signature_lines(request.note)
        checkpoint = parse_body(text)
    except (ProtocolError, CheckpointError) as exc:
        return _text(400, f"permintaan tidak sesuai protokol tlog-witness / malformed add-checkpoint request: {exc}")
    if checkpoint.size > MAX_SIZE or request.old_size > MAX_SIZE:
        return _text(400, f"ukuran lebih dari {MAX_SIZE} / a size above {MAX_SIZE}")
    keys = ctx.logs.get(checkpoint.origin)
    if not keys:
        return _text(404, "origin log ini tidak dikenal saksi ini (tidak ada di P3KE_WITNESS_LOGS) / "
                          "unknown log origin: this witness is not configured for it")
    try:
        log_key = verifying_key(request.note, keys)
    except CheckpointError as exc:
        return _text(403, f"checkpoint tidak ditandatangani oleh kunci log yang dipercaya / no valid signature of a "
                          f"trusted key of this log: {exc}")
    return _decide(ctx, request, checkpoint, text, log_key.vkey)


def _decide(ctx: WitnessContext, request: AddCheckpoint, checkpoint: Checkpoint, text: str,
            log_key: str) -> Answer:
    """`text` is the note's body as the log signed it: the cosignature covers exactly those bytes."""
    origin = checkpoint.origin
    with ctx.sessions() as session:
        prior = state.known(session, origin)
        verdict = judge(request, checkpoint, prior, lambda size: state.cosigned_root_at(session, origin, size))
        if verdict.alarm is not None and prior is not None:
            line = state.cosignature_at(session, origin, prior.size)
            evidence = Known(prior.size, prior.root, add_signatures(prior.note, [line]) if line else prior.note)
    if verdict.alarm is not None and prior is not None:
        raise_alarm(ctx, AlarmEvidence(origin, verdict.alarm, evidence, checkpoint, request.note, request.old_size,
                                       request.proof, verdict.message))
    if verdict.status == 409:
        REFUSED.labels("409").inc()
        log.info("add-checkpoint refused", origin=origin, status=409, size=checkpoint.size,
                 old_size=request.old_size, known_size=verdict.known_size)
        return Answer(409, encode_size(verdict.known_size), SIZE_CONTENT_TYPE)
    if not verdict.cosign:
        log.info("add-checkpoint refused", origin=origin, status=verdict.status, size=checkpoint.size,
                 old_size=request.old_size, known_size=verdict.known_size)
        return _text(verdict.status, verdict.message)
    now = ctx.clock()
    line = cosign(text, ctx.settings.witness_name, ctx.key, timestamp=int(now.timestamp()))
    if not state.advance(ctx.sessions, prior, checkpoint, request.note, log_key, line, now):
        with ctx.sessions() as session:
            current = state.known(session, origin)
        REFUSED.labels("409").inc()
        log.info("add-checkpoint lost a race", origin=origin, size=checkpoint.size)
        return Answer(409, encode_size(current.size if current else 0), SIZE_CONTENT_TYPE)
    COSIGNED.labels(origin).inc()
    SIZE.labels(origin).set(checkpoint.size)
    log.info("checkpoint cosigned", origin=origin, size=checkpoint.size, old_size=request.old_size)
    return Answer(200, line.encode())
