"""Ingest API: dataset versions (party 1's data steward; operators read)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import select

from p3ke_ingest.adapters.orm import dataset_versions
from p3ke_platform.auth import Principal, require
from p3ke_platform.service import Runtime

Steward = Annotated[Principal, Depends(require("data-steward", "operator", org="kemenkopmk"))]


class DatasetVersion(BaseModel):
    dataset_version_id: str
    status: str
    snapshot_sha256: str | None
    individuals: int
    families: int
    rows_rejected: int
    submitted_at: datetime
    published_at: datetime | None


def routers(runtime: Runtime) -> list[APIRouter]:
    router = APIRouter(prefix="/v1", tags=["ingest"])

    @router.get("/dataset-versions", response_model=list[DatasetVersion])
    def list_versions(_: Steward) -> list[DatasetVersion]:
        with runtime.sessions() as session:
            rows = session.execute(select(dataset_versions).order_by(
                dataset_versions.c.submitted_at)).mappings().all()
        return [DatasetVersion(**row) for row in rows]

    return [router]
