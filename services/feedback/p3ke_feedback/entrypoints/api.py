"""Feedback API: handovers awaiting data balikan (both parties read)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import select

from p3ke_feedback.adapters.orm import signed_handovers
from p3ke_platform.auth import Principal, require
from p3ke_platform.service import Runtime

Reader = Annotated[Principal, Depends(require("program-officer", "data-steward", "operator"))]


class SignedHandover(BaseModel):
    handover_id: str
    program: str
    record_count: int
    signed_at: datetime


def routers(runtime: Runtime) -> list[APIRouter]:
    router = APIRouter(prefix="/v1", tags=["feedback"])

    @router.get("/handovers", response_model=list[SignedHandover])
    def list_signed(_: Reader) -> list[SignedHandover]:
        with runtime.sessions() as session:
            rows = session.execute(select(signed_handovers).order_by(
                signed_handovers.c.signed_at)).mappings().all()
        return [SignedHandover(**row) for row in rows]

    return [router]
