"""Targeting API: dataset versions available for selection, and the status of extract requests."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel
from sqlalchemy import select

from p3ke_platform.auth import Principal, require
from p3ke_platform.service import Runtime
from p3ke_targeting.adapters.orm import datasets, extract_requests

Officer = Annotated[Principal, Depends(require("program-officer", "data-steward", "operator"))]


class DatasetVersion(BaseModel):
    dataset_version_id: str
    snapshot_sha256: str
    individuals: int
    families: int
    published_at: datetime
    is_current: bool


class RequestStatus(BaseModel):
    request_id: str
    program: str
    status: str
    received_at: datetime


def routers(runtime: Runtime) -> list[APIRouter]:
    router = APIRouter(prefix="/v1", tags=["targeting"])

    @router.get("/datasets", response_model=list[DatasetVersion])
    def list_datasets(_: Officer) -> list[DatasetVersion]:
        with runtime.sessions() as session:
            rows = session.execute(select(datasets).order_by(datasets.c.published_at)).mappings().all()
        return [DatasetVersion(**row) for row in rows]

    @router.get("/extract-requests/{request_id}", response_model=RequestStatus)
    def get_request(request_id: str, principal: Officer) -> RequestStatus:
        with runtime.sessions() as session:
            row = session.execute(select(extract_requests).where(
                extract_requests.c.request_id == request_id)).mappings().first()
        # another party's request is reported as absent, not forbidden (no object enumeration)
        if row is None or (principal.org != row["requester_org"] and principal.org != "kemenkopmk"):
            raise HTTPException(404, f"no extract request {request_id!r}")
        return RequestStatus(**row)

    return [router]
