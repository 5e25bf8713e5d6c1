"""The witness's read APIs (JWT, `compliance-auditor` or `operator`): the state per log, and the alarms."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from p3ke_witness.adapters import state
from p3ke_witness.entrypoints.deps import Ctx, Reader
from p3ke_witness.entrypoints.dto import AlarmOut, AlarmsOut, LogsOut, logs_of

router = APIRouter(prefix="/v1", tags=["witness"])


@router.get("/logs", summary="The witnessed logs: the latest checkpoint cosigned and the alarms of each")
def list_logs(ctx: Ctx, _reader: Reader) -> LogsOut:
    return logs_of(ctx)


@router.get("/alarms", summary="The forks and rollbacks this witness refused, with both signed checkpoints")
def list_alarms(ctx: Ctx, _reader: Reader,
                origin: Annotated[str | None, Query(max_length=300, description="one log's origin")] = None,
                kind: Annotated[Literal["fork", "rollback"] | None, Query()] = None,
                after: Annotated[int, Query(ge=0, le=2**63 - 1, description="alarms after this id")] = 0,
                limit: Annotated[int, Query(ge=1, le=100_000)] = 100) -> AlarmsOut:
    limit = min(limit, ctx.settings.witness_max_page)
    with ctx.sessions() as session:
        rows = state.list_alarms(session, origin=origin, kind=kind, after=after, limit=limit + 1)
    more = len(rows) > limit
    page = [AlarmOut.of(row) for row in rows[:limit]]
    return AlarmsOut(alarms=page, next_after=page[-1].id if more else None)
