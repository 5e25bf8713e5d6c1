"""Delivery API: handovers and their status."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import select

from p3ke_delivery.adapters.orm import handovers
from p3ke_platform.auth import Principal, require
from p3ke_platform.service import Runtime

Party = Annotated[Principal, Depends(require("program-officer", "signatory", "data-steward", "operator"))]


class Handover(BaseModel):
    handover_id: str
    extract_id: str
    program: str
    record_count: int
    status: str
    created_at: datetime


def routers(runtime: Runtime) -> list[APIRouter]:
    router = APIRouter(prefix="/v1", tags=["delivery"])

    @router.get("/handovers", response_model=list[Handover])
    def list_handovers(_: Party) -> list[Handover]:
        with runtime.sessions() as session:
            rows = session.execute(select(handovers).order_by(handovers.c.created_at)).mappings().all()
        return [Handover(**row) for row in rows]

    return [router]
