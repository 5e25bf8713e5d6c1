"""What delivery's routes depend on: the process's context (built once by the runtime) and the caller.

Endpoints that release data admit any authenticated caller (`Caller`) and let the agreement policy
decide, so that a refusal there is explained and audited; reading handovers serves the roles that
work with them (`Party`); revoking a handover is PIHAK KESATU's data steward's (`Party1Steward`).
`Language` is the language of the release refusals: Indonesian, or English on request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from p3ke_delivery.domain.messages import Lang, language
from p3ke_delivery.service_layer.context import DeliveryContext
from p3ke_platform.api import service_context
from p3ke_platform.auth import Principal, PrincipalDep, require

Ctx = Annotated[DeliveryContext, Depends(service_context)]
Caller = PrincipalDep
Party = Annotated[Principal, Depends(require("program-officer", "signatory", "data-steward", "operator"))]
Party1Steward = Annotated[Principal, Depends(require("data-steward", org="kemenkopmk"))]


def _language(request: Request) -> Lang:
    """Indonesian unless the caller asks for English: `?lang=en` or `Accept-Language: en`."""
    return language(request.headers.get("accept-language"), request.query_params.get("lang"))


Language = Annotated[Lang, Depends(_language)]
