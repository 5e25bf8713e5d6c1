"""Bearer tokens: who is calling, proven by a signature of a trusted issuer.

Tokens are JWTs (OIDC-compatible access tokens) carrying `sub`, `org` and `roles`. Only asymmetric
algorithms are accepted (EdDSA, RS256, ES256): with a shared secret any service holding it could
mint tokens, and `none` or HS256-with-the-public-key are the classic forgeries.

Trusted keys come from, in this order: the identity provider's JWKS (`P3KE_AUTH_JWKS_URL`), a PEM
public key or certificate (`P3KE_AUTH_PUBLIC_KEY_FILE`), and, when `P3KE_AUTH_DEV_ISSUER` is on, the
local development issuer, an Ed25519 key kept at `<data_dir>/keys/dev-issuer.pem`. Tokens signed by
a configured key must name `P3KE_AUTH_ISSUER` as issuer; tokens signed by the dev key must name
`DEV_ISSUER`, so that a dev token is never mistaken for one of the identity provider.

Error details are safe to return to the caller: they say what is wrong, never echo the token.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from hashlib import sha256
from pathlib import Path
from typing import Any, Literal, get_args

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from pydantic import BaseModel, ConfigDict

from p3ke_platform.settings import ConfigurationError, Settings
from p3ke_schemas import Actor

Org = Literal["kemenkopmk", "kemnaker"]
Role = Literal["data-steward", "program-officer", "signatory", "compliance-auditor", "operator",
               "service-account"]
ORGS: tuple[str, ...] = get_args(Org)
ROLES: tuple[str, ...] = get_args(Role)
ALLOWED_ALGORITHMS: tuple[str, ...] = ("EdDSA", "RS256", "ES256")
DEV_ISSUER = "p3ke-dev-issuer"
LEEWAY_SECONDS = 30  # clock skew between the identity provider and our hosts
MAX_TOKEN_LENGTH = 8192  # anything larger is not a token we issue; refuse before parsing
MAX_DEV_TTL_SECONDS = 7 * 24 * 3600
_REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]

PublicKey = ed25519.Ed25519PublicKey | ed448.Ed448PublicKey | rsa.RSAPublicKey | ec.EllipticCurvePublicKey


class AuthError(Exception):
    """Authentication failed; `status` is the HTTP status, `detail` a message safe to return."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class Principal(BaseModel):
    """The authenticated caller, as the token's issuer vouches for it."""

    model_config = ConfigDict(frozen=True)

    subject: str
    org: Org
    roles: frozenset[str]
    service_account: bool = False
    token_id: str | None = None

    def has_any_role(self, *roles: str) -> bool:
        return not self.roles.isdisjoint(roles)

    def actor(self) -> Actor:
        """The caller as the audit log and the events name it (the one place this mapping lives)."""
        return Actor(org=self.org, subject=self.subject, roles=sorted(self.roles),  # type: ignore[arg-type]
                     service_account=self.service_account)


# ---------------------------------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------------------------------

def dev_key_path(settings: Settings) -> Path:
    return Path(settings.data_dir) / "keys" / "dev-issuer.pem"


def load_or_create_dev_key(path: Path) -> ed25519.Ed25519PrivateKey:
    """The dev issuer's private key, created on first use (mode 0600).

    Creation is atomic and race-free: the key is written to a temporary file and hard-linked into
    place, so two processes starting together end up sharing whichever key landed first.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".dev-issuer-", suffix=".tmp")  # 0600
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
                fh.flush()
                os.fsync(fh.fileno())
            with contextlib.suppress(FileExistsError):  # another process won the race: use its key
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ConfigurationError(f"{path}: the development issuer key must be an Ed25519 private key")
    return key


def key_id(public_key: PublicKey) -> str:
    """A stable `kid` for a public key: a hash of its DER form."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return sha256(der).hexdigest()[:16]


def load_public_key_file(path: Path) -> PublicKey:
    """A PEM public key or X.509 certificate (identity providers publish either)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"P3KE_AUTH_PUBLIC_KEY_FILE: cannot read {path}: {exc.strerror}") from None
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            key: Any = x509.load_pem_x509_certificate(data).public_key()
        else:
            key = serialization.load_pem_public_key(data)
    except ValueError:
        raise ConfigurationError(
            f"P3KE_AUTH_PUBLIC_KEY_FILE: {path} is not a PEM public key or certificate"
        ) from None
    if not isinstance(key, PublicKey):
        raise ConfigurationError(f"P3KE_AUTH_PUBLIC_KEY_FILE: {path}: unsupported key type")
    return key


def _jwks_client(url: str) -> jwt.PyJWKClient:
    """The key set is cached for 5 minutes; an unknown `kid` forces at most one refetch per 30 s."""
    try:
        return jwt.PyJWKClient(url, cache_jwk_set=True, lifespan=300, timeout=5, cooldown_duration=30)
    except jwt.PyJWKClientError as exc:
        raise ConfigurationError(f"P3KE_AUTH_JWKS_URL: {exc}") from None


def _fits(key: object, alg: str) -> bool:
    """Whether `key` can verify `alg`: a key is only ever used with its own algorithm family."""
    if alg == "EdDSA":
        return isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey)
    if alg == "RS256":
        return isinstance(key, rsa.RSAPublicKey)
    if alg == "ES256":
        return isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)
    return False


# ---------------------------------------------------------------------------------------------------
# Verification
# ---------------------------------------------------------------------------------------------------

_CLAIM_ERRORS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "token has expired"),
    (jwt.ImmatureSignatureError, "token is not valid yet"),
    (jwt.InvalidAudienceError, "token was issued for another audience"),
    (jwt.InvalidIssuerError, "token issuer is not trusted"),
    (jwt.InvalidIssuedAtError, "token issue time is invalid"),
    (jwt.exceptions.InvalidSubjectError, "token 'sub' claim is invalid"),
    (jwt.exceptions.InvalidJTIError, "token 'jti' claim is invalid"),
    (jwt.DecodeError, "malformed bearer token"),
)


class TokenVerifier:
    """Verifies bearer tokens against the configured issuer keys and returns the `Principal`.

    Built once per process (cheap, no I/O): the JWKS is fetched and cached on first use, and the dev
    key is created on first use.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._jwks = _jwks_client(settings.auth_jwks_url) if settings.auth_jwks_url else None
        self._file_key = (
            load_public_key_file(settings.auth_public_key_file) if settings.auth_public_key_file else None
        )
        self._dev: tuple[str, ed25519.Ed25519PublicKey] | None = None
        self._dev_lock = threading.Lock()

    def _dev_key(self) -> tuple[str, ed25519.Ed25519PublicKey] | None:
        if not self.settings.auth_dev_issuer:
            return None
        with self._dev_lock:
            if self._dev is None:
                public = load_or_create_dev_key(dev_key_path(self.settings)).public_key()
                self._dev = (key_id(public), public)
        return self._dev

    def _candidates(self, kid: str | None, alg: str) -> list[tuple[object, str]]:
        dev = self._dev_key()
        if dev is not None and kid == dev[0]:
            return [(dev[1], DEV_ISSUER)]
        found: list[tuple[object, str]] = []
        if self._jwks is not None:
            found += [(k, self.settings.auth_issuer) for k in self._jwks_keys(kid, alg)]
        if self._file_key is not None:
            found.append((self._file_key, self.settings.auth_issuer))
        if dev is not None and kid is None:
            found.append((dev[1], DEV_ISSUER))
        return [(key, iss) for key, iss in found if _fits(key, alg)]

    def _jwks_keys(self, kid: str | None, alg: str) -> list[object]:
        assert self._jwks is not None
        try:
            if kid is not None:
                jwk = self._jwks.get_signing_key(kid)
                return [] if jwk.algorithm_name and jwk.algorithm_name != alg else [jwk.key]
            return [k.key for k in self._jwks.get_jwk_set().keys if k.public_key_use in ("sig", None)]
        except jwt.PyJWKClientConnectionError:
            raise AuthError(503, "the identity provider's signing keys are unavailable") from None
        except (jwt.PyJWKClientError, jwt.PyJWKSetError, jwt.PyJWKError):
            return []  # unknown kid, or a set without usable keys: other sources may still match

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; `AuthError` (401, or 503 if the keys can't be fetched)."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise AuthError(401, "malformed bearer token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:  # not a JWS, or a header we refuse (non-string kid, crit)
            raise AuthError(401, "malformed bearer token") from None
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise AuthError(401, f"token algorithm not accepted; use one of {', '.join(ALLOWED_ALGORITHMS)}")
        kid = header.get("kid")
        candidates = self._candidates(kid if isinstance(kid, str) else None, alg)
        if not candidates:
            raise AuthError(401, "token is not signed by a trusted issuer key")
        for key, issuer in candidates:
            try:
                claims = jwt.decode(
                    token, key, algorithms=[alg], audience=self.settings.auth_audience, issuer=issuer,  # type: ignore[arg-type]
                    leeway=LEEWAY_SECONDS, options={"require": _REQUIRED_CLAIMS},
                )
            except jwt.InvalidSignatureError:
                continue  # signed by another of the candidate keys, perhaps
            except jwt.MissingRequiredClaimError as exc:
                raise AuthError(401, f"token lacks the required '{exc.claim}' claim") from None
            except jwt.InvalidTokenError as exc:
                raise AuthError(401, _claim_error(exc)) from None
            return principal_from_claims(claims)
        raise AuthError(401, "token signature is not valid")


def _claim_error(exc: Exception) -> str:
    for kind, message in _CLAIM_ERRORS:
        if isinstance(exc, kind):
            return message
    return "invalid bearer token"


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """Check `sub`, `org`, `roles` and build the principal; unknown roles are ignored, not granted."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject.strip() or len(subject) > 200:
        raise AuthError(401, "token 'sub' claim is missing or invalid")
    org = claims.get("org")
    if org not in ORGS:
        raise AuthError(401, f"token 'org' claim must be one of {', '.join(ORGS)}")
    raw = claims.get("roles")
    if isinstance(raw, str):
        raw = raw.split()
    if not isinstance(raw, list | tuple) or not all(isinstance(r, str) for r in raw):
        raise AuthError(401, "token 'roles' claim is missing or not a list of role names")
    roles = frozenset(r for r in raw if r in ROLES)
    token_id = claims.get("jti")
    return Principal(
        subject=subject,
        org=org,
        roles=roles,
        service_account=claims.get("service_account") is True or "service-account" in roles,
        token_id=token_id if isinstance(token_id, str) else None,
    )


# ---------------------------------------------------------------------------------------------------
# The local development issuer
# ---------------------------------------------------------------------------------------------------

class DevIssuer:
    """Mints tokens for local development and tests; refuses to exist in production."""

    def __init__(self, settings: Settings) -> None:
        if settings.env == "production":
            raise ConfigurationError("the development token issuer is not available in production")
        self.settings = settings
        self._key = load_or_create_dev_key(dev_key_path(settings))
        self.key_id = key_id(self._key.public_key())

    def public_key(self) -> ed25519.Ed25519PublicKey:
        return self._key.public_key()

    def mint(
        self,
        subject: str,
        org: str,
        roles: Iterable[str],
        ttl_seconds: int = 3600,
        service_account: bool = False,
    ) -> str:
        roles = sorted(set(roles))
        if not subject or not subject.strip():
            raise ValueError("subject must not be empty")
        if org not in ORGS:
            raise ValueError(f"org must be one of {', '.join(ORGS)}")
        if not roles or any(r not in ROLES for r in roles):
            raise ValueError(f"roles must be one or more of {', '.join(ROLES)}")
        if not 0 < ttl_seconds <= MAX_DEV_TTL_SECONDS:
            raise ValueError(f"ttl_seconds must be between 1 and {MAX_DEV_TTL_SECONDS}")
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": DEV_ISSUER, "aud": self.settings.auth_audience, "sub": subject, "org": org,
            "roles": roles, "iat": now, "nbf": now, "exp": now + ttl_seconds, "jti": uuid.uuid4().hex,
        }
        if service_account:
            claims["service_account"] = True
        return jwt.encode(claims, self._key, algorithm="EdDSA", headers={"kid": self.key_id})
