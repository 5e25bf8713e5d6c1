"""What feedback's routes depend on: the process's context (built once by the runtime) and the caller.

Data routes admit any authenticated caller (`Caller`) and let the agreement policy decide, so that a
refusal is explained and audited; the handover list serves the roles that work with handovers (`Reader`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from p3ke_feedback.service_layer.context import Context
from p3ke_platform.api import service_context
from p3ke_platform.auth import Principal, PrincipalDep, require

Ctx = Annotated[Context, Depends(service_context)]
Caller = PrincipalDep
Reader = Annotated[Principal, Depends(require("program-officer", "data-steward", "compliance-auditor", "operator"))]
