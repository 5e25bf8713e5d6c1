"""Compliance queries over the audit log (compliance staff of either party)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import select

from p3ke_audit.adapters.orm import entries
from p3ke_platform.auth import Principal, require
from p3ke_platform.service import Runtime

Auditor = Annotated[Principal, Depends(require("compliance-auditor"))]


class Entry(BaseModel):
    seq: int
    event_id: str
    event_type: str
    service: str | None
    actor_org: str | None
    actor_subject: str | None
    action: str | None
    resource_type: str | None
    resource_id: str | None
    outcome: str | None
    record_count: int
    occurred_at: datetime
    recorded_at: datetime
    payload: dict[str, Any]


def routers(runtime: Runtime) -> list[APIRouter]:
    router = APIRouter(prefix="/v1", tags=["audit"])

    @router.get("/entries", response_model=list[Entry], summary="Log entries, oldest first")
    def list_entries(_: Auditor, after: int = 0, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                     resource_id: str | None = None, actor_subject: str | None = None,
                     event_type: str | None = None) -> list[Entry]:
        query = select(entries).where(entries.c.seq > after).order_by(entries.c.seq).limit(limit)
        if resource_id:
            query = query.where(entries.c.resource_id == resource_id)
        if actor_subject:
            query = query.where(entries.c.actor_subject == actor_subject)
        if event_type:
            query = query.where(entries.c.event_type == event_type)
        with runtime.sessions() as session:
            rows = session.execute(query).mappings().all()
        return [Entry(**{**row, "payload": json.loads(row["payload"])}) for row in rows]

    return [router]
