"""What the witness's routes share: the service context and the reader of its state (JWT bearer token).

The read APIs serve the `compliance-auditor` and `operator` roles of both parties. A refused caller is logged
(the witness has no audit client: it emits no events), and answered 403.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from p3ke_platform.api import service_context
from p3ke_platform.auth import Principal, PrincipalDep
from p3ke_platform.logging import get_logger
from p3ke_witness.service_layer.context import WitnessContext

READER_ROLES = ("compliance-auditor", "operator")

Ctx = Annotated[WitnessContext, Depends(service_context)]
log = get_logger(__name__)


def reader(request: Request, principal: PrincipalDep) -> Principal:
    if principal.has_any_role(*READER_ROLES):
        return principal
    log.warning("caller refused", org=principal.org, roles=sorted(principal.roles), path=request.url.path)
    raise HTTPException(403, f"peran yang diperlukan / requires one of the roles: {', '.join(READER_ROLES)}")


Reader = Annotated[Principal, Depends(reader)]
