"""What the witness's routes share: the service context and the reader of its state (JWT bearer token).

The read APIs serve the `compliance-auditor` and `operator` roles of both parties. A refused caller is logged
(the witness has no audit client: it emits no events), and answered 403.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from p3ke_platform.api import service_context
from p3ke_platform.api_errors import LocalizedHTTPException
from p3ke_platform.auth import Principal, PrincipalDep
from p3ke_platform.logging import get_logger
from p3ke_platform.refusal import messages
from p3ke_witness.service_layer.context import WitnessContext

READER_ROLES = ("compliance-auditor", "operator")
M = messages("witness")  # human-facing reasons in the caller's language (PO domain `witness`)

Ctx = Annotated[WitnessContext, Depends(service_context)]
log = get_logger(__name__)


def reader(request: Request, principal: PrincipalDep) -> Principal:
    if principal.has_any_role(*READER_ROLES):
        return principal
    log.warning("caller refused", org=principal.org, roles=sorted(principal.roles), path=request.url.path)
    raise LocalizedHTTPException(403, M("reader.role", roles=", ".join(READER_ROLES)), rule="role")


Reader = Annotated[Principal, Depends(reader)]
