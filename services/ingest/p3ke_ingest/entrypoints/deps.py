"""What ingest's routes depend on: the process's context (built once by the runtime) and the caller.

Uploads, submissions and findings admit any authenticated caller (`Caller`) and let the agreement policy
decide (`publish-dataset`: party 1's data steward), so that a refusal is explained and audited; status
and versions serve party 1's data steward and operator (`Reader`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from p3ke_ingest.service_layer.context import IngestContext
from p3ke_platform.api import service_context
from p3ke_platform.auth import Principal, PrincipalDep, require

Ctx = Annotated[IngestContext, Depends(service_context)]
Caller = PrincipalDep
Reader = Annotated[Principal, Depends(require("data-steward", "operator", org="kemenkopmk"))]
