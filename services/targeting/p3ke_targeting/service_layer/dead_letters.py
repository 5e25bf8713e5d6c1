"""Answering a request the worker dead-lettered (it does not match the schema, or it reuses a request_id for
another request): the requester hears why, as a rejected `extract-prepared`, whenever its `request_id` can be
read from the message, and the refusal is audited. A message of unproven origin is never answered (it is not
anyone's request; answering it would let a forger write rejections under others' request ids)."""

from __future__ import annotations

import json
from typing import Any

from p3ke_platform.logging import get_logger
from p3ke_platform.unit_of_work import UnitOfWork
from p3ke_schemas import Actor, ExtractPrepared
from p3ke_targeting.service_layer.context import Context

log = get_logger(__name__)
UNKNOWN_PROGRAM = "tidak_diketahui"


def _text(value: Any, limit: int = 100) -> str | None:
    """`value` if it is a non-empty string of at most `limit` characters (an id the answer can carry)."""
    return value if isinstance(value, str) and 0 < len(value) <= limit else None


def _requester(data: dict[str, Any]) -> Actor | None:
    try:
        return Actor.model_validate(data.get("requested_by"))
    except ValueError:
        return None


def answer_dead_lettered_request(ctx: Context, uow: UnitOfWork, value: bytes | None, reason: str) -> None:
    try:
        data = json.loads(value or b"")
    except ValueError:
        return  # not JSON: no request_id to answer to (the dead letter keeps the message)
    if not isinstance(data, dict) or not (request_id := _text(data.get("request_id"))):
        return
    program = _text(data.get("program"), limit=64)
    if program is None or not program.replace("_", "").isalnum():
        program = UNKNOWN_PROGRAM
    agreement_id = _text(data.get("agreement_id")) or ctx.agreement_id
    text = f"the request was not processed: {reason}"[:2000]
    uow.emit(ExtractPrepared(request_id=request_id, agreement_id=agreement_id, program=program, status="rejected",
                             reason=text, prepared_at=ctx.clock()), subject=request_id)
    actor = _requester(data) or Actor(org="kemnaker", subject="unidentified requester", roles=[])
    uow.record_access(actor=actor, action="refusal", resource_type="extract-request", resource_id=request_id,
                      outcome="denied", reason=text, agreement_id=agreement_id,
                      program=None if program == UNKNOWN_PROGRAM else program)
    log.info("dead-lettered request answered", request_id=request_id)
