"""FastAPI dependencies: authenticate the bearer token, then authorise by role and org.

Deny by default: an endpoint without `require(...)` (or `PrincipalDep`) is public, so every
data endpoint names the roles it serves, and `require()` refuses to be built without any.

    Steward = Annotated[Principal, Depends(require("data-steward", org="kemenkopmk"))]

    @router.post("/datasets")
    def upload(principal: Steward) -> ...
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from p3ke_platform.api_errors import LocalizedHTTPException  # reasons in the caller's language
from p3ke_platform.auth.tokens import ORGS, ROLES, AuthError, Principal, TokenVerifier
from p3ke_platform.refusal import Message, messages
from p3ke_platform.settings import load_settings

_bearer = HTTPBearer(
    auto_error=False,  # we answer 401 ourselves, with a reason and WWW-Authenticate
    description="A JWT of the ministries' identity provider (or `p3ke dev-token` locally).",
)


def get_verifier(request: Request) -> TokenVerifier:
    """The app's verifier: `app.state.token_verifier`, else one built from `app.state.settings`
    (or the environment) and kept there. Tests may override this dependency."""
    state = request.app.state
    verifier = getattr(state, "token_verifier", None)
    if verifier is None:
        settings = getattr(state, "settings", None) or load_settings()
        verifier = TokenVerifier(settings)
        state.token_verifier = verifier
    return verifier


VerifierDep = Annotated[TokenVerifier, Depends(get_verifier)]


_M = messages("api")


def _unauthorized(detail: Message, *, invalid: bool) -> HTTPException:
    challenge = 'Bearer realm="p3ke", error="invalid_token"' if invalid else 'Bearer realm="p3ke"'
    return LocalizedHTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": challenge})


def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    verifier: VerifierDep,
) -> Principal:
    """The authenticated caller, or 401. A plain `def`: fetching a JWKS may block, so FastAPI runs
    this in its thread pool. The principal is also kept on `request.state.principal`."""
    if credentials is None:
        raise _unauthorized(_M("auth.token_required"), invalid=False)
    try:
        principal = verifier.verify(credentials.credentials)
    except AuthError as exc:
        if exc.status == status.HTTP_401_UNAUTHORIZED:
            raise _unauthorized(_M("auth.token_rejected", reason=exc.detail), invalid=True) from None
        raise HTTPException(exc.status, exc.detail) from None
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require(*roles: str, org: str | None = None) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting a principal with at least one of `roles` (and of `org`, if given).

    Unknown role or org names fail here, at import time, instead of silently denying everyone.
    """
    if not roles:
        raise ValueError("require() needs at least one role: endpoints are denied by default")
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise ValueError(f"unknown role(s) {', '.join(unknown)}; known: {', '.join(ROLES)}")
    if org is not None and org not in ORGS:
        raise ValueError(f"unknown org {org!r}; known: {', '.join(ORGS)}")
    wanted = frozenset(roles)

    async def dependency(request: Request, principal: PrincipalDep) -> Principal:
        reason = None
        if org is not None and principal.org != org:
            reason = _M("auth.wrong_org", org=org)
        elif principal.roles.isdisjoint(wanted):
            reason = _M("auth.wrong_role", roles=", ".join(sorted(wanted)))
        if reason is None:
            return principal
        hook = getattr(request.app.state, "on_refusal", None)
        if hook is not None:  # the app records the refusal (data-access, outcome denied), in both languages
            await asyncio.to_thread(hook, principal, request, reason.both())
        raise LocalizedHTTPException(status.HTTP_403_FORBIDDEN, reason)

    dependency.__name__ = "require_" + "_".join(sorted(r.replace("-", "_") for r in wanted))
    return dependency
