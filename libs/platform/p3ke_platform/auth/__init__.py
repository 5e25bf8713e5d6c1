"""Authentication (JWT bearer tokens) and role/org authorisation for the services' HTTP APIs."""

from p3ke_platform.auth.deps import (
    PrincipalDep,
    VerifierDep,
    current_principal,
    get_verifier,
    require,
)
from p3ke_platform.auth.tokens import (
    ALLOWED_ALGORITHMS,
    DEV_ISSUER,
    ORGS,
    ROLES,
    AuthError,
    DevIssuer,
    Principal,
    TokenVerifier,
    dev_key_path,
    principal_from_claims,
)

__all__ = [
    "ALLOWED_ALGORITHMS",
    "DEV_ISSUER",
    "ORGS",
    "ROLES",
    "AuthError",
    "DevIssuer",
    "Principal",
    "PrincipalDep",
    "TokenVerifier",
    "VerifierDep",
    "current_principal",
    "dev_key_path",
    "get_verifier",
    "principal_from_claims",
    "require",
]
