"""What targeting's routes depend on: the process's context (built once by the runtime) and who may call."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from p3ke_platform.api import service_context
from p3ke_platform.auth import Principal, require
from p3ke_targeting.service_layer.context import Context

Ctx = Annotated[Context, Depends(service_context)]

Officer = Annotated[Principal, Depends(require("program-officer", "data-steward", "operator"))]
Requester = Annotated[Principal, Depends(require("program-officer", "service-account", org="kemnaker"))]
Planner = Annotated[Principal, Depends(require("program-officer", "data-steward"))]
