"""Signed events: a JWS (RFC 7515) with a detached, unencoded payload (RFC 7797) over the event's JCS form.

What is signed — the *signing payload* — is the RFC 8785 (JCS) canonical JSON of one object holding
every CloudEvents attribute the message carries (each `ce_<name>` header as `<name>`, except
`ce_signature` itself; `content-type` as `datacontenttype`) and the data (the parsed JSON message value)
as `data`. The signature travels in the `ce_signature` header as the JWS compact serialisation with the
payload left out (`<protected>..<signature>`); the protected header is

    {"alg":"EdDSA","b64":false,"crit":["b64"],"kid":"<key id>"}

with `alg` `EdDSA` (Ed25519, RFC 8037) or `ES256` (ECDSA P-256, for keys held in an HSM). The JWS signing
input is `ASCII(BASE64URL(protected)) || "." || payload`, so any JOSE library that implements RFC 7797
verifies it with the payload supplied as detached content.

Who the signer vouches for travels in the CloudEvents *authcontext* extension: `ce_authtype` (`user`,
`service_account` or `system`) and `ce_authid` (the principal's account id, or the service name). Both are
signed. Header values are UTF-8 text; the Kafka key is the aggregate id and is not signed (a consumer
checks it against the data instead).
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from p3ke_schemas.jcs import CanonicalizationError, canonicalize, canonicalize_json
from p3ke_schemas.sodium import ed25519_signer, verify_ed25519

SIGNATURE_HEADER = "ce_signature"
CONTENT_TYPE_HEADER = "content-type"
ALGORITHMS = ("EdDSA", "ES256")

PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey
PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey


class SignatureError(ValueError):
    """The event's signature is missing, malformed or does not verify; the text says which (no payload values)."""


_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not _BASE64URL.fullmatch(text):
        raise SignatureError("ce_signature is not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def algorithm_of(key: PublicKey | PrivateKey) -> str:
    if isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey):
        return "EdDSA"
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1":
        return "ES256"
    raise ValueError("event keys are Ed25519 or ECDSA P-256")


class _Decoded(list[tuple[str, str]]):
    """Headers already decoded to (name, text) pairs: decoded once per message, however many readers."""


def _header_items(headers: Any) -> _Decoded:
    if isinstance(headers, _Decoded):
        return headers
    items = headers.items() if isinstance(headers, Mapping) else (headers or [])
    out = _Decoded()
    for name, raw in items:
        key = name.decode() if isinstance(name, bytes) else str(name)
        try:
            value = raw.decode() if isinstance(raw, bytes | bytearray) else str(raw)
        except UnicodeDecodeError as exc:
            raise SignatureError(f"header {key!r} is not UTF-8") from exc
        out.append((key, value))
    return out


def signing_payload(headers: Any, value: bytes | str | Mapping[str, Any]) -> bytes:
    """The JCS bytes a signature covers: the CloudEvents attributes of `headers` and the data (`value`)."""
    attributes: dict[str, Any] = {}
    for name, text in _header_items(headers):
        if name == SIGNATURE_HEADER:
            continue
        if name.startswith("ce_"):
            attr = name[3:]
        elif name == CONTENT_TYPE_HEADER:
            attr = "datacontenttype"
        else:
            continue  # transport headers (e.g. p3ke_dlq_*) are not CloudEvents attributes
        if attr in attributes or attr == "data":
            raise SignatureError(f"attribute {attr!r} appears twice")
        attributes[attr] = text
    try:
        if isinstance(value, bytes | str):
            return canonicalize_json(value, attributes)
        return canonicalize({**attributes, "data": value})
    except CanonicalizationError as exc:
        raise SignatureError(f"the event has no canonical form: {exc}") from exc
    except ValueError as exc:
        raise SignatureError("the message value is not JSON") from exc


@dataclass(frozen=True)
class EventSigner:
    """A producer's private key and its key id (the `kid` verifiers look the public key up by)."""

    kid: str
    private_key: PrivateKey

    @property
    def alg(self) -> str:
        return algorithm_of(self.private_key)

    def public_key(self) -> PublicKey:
        return self.private_key.public_key()

    @functools.cached_property
    def _ed25519_sign(self) -> Callable[[bytes], bytes]:
        assert isinstance(self.private_key, ed25519.Ed25519PrivateKey)
        return ed25519_signer(self.private_key)

    def sign(self, payload: bytes) -> str:
        """A detached JWS (RFC 7797, unencoded payload) over `payload`: `<protected>..<signature>`."""
        protected = _b64(canonicalize({"alg": self.alg, "b64": False, "crit": ["b64"], "kid": self.kid}))
        signing_input = protected.encode() + b"." + payload
        if isinstance(self.private_key, ed25519.Ed25519PrivateKey):
            signature = self._ed25519_sign(signing_input)
        else:
            r, s = decode_dss_signature(self.private_key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
            signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return f"{protected}..{_b64(signature)}"


def sign_headers(signer: EventSigner, headers: Iterable[tuple[str, bytes]], value: bytes,
                 *, authtype: str | None = None, authid: str | None = None) -> list[tuple[str, bytes]]:
    """`headers` plus the authcontext (if given) and `ce_signature`, for a Kafka message with `value`."""
    out = [(k, v) for k, v in headers if k not in (SIGNATURE_HEADER, "ce_authtype", "ce_authid")]
    if authtype:
        out.append(("ce_authtype", authtype.encode()))
    if authid:
        out.append(("ce_authid", authid.encode()))
    out.append((SIGNATURE_HEADER, signer.sign(signing_payload(out, value)).encode()))
    return out


@dataclass(frozen=True)
class Signature:
    """A verified signature: the key id, the algorithm, the `ce_signature` text and the signing payload (the
    JCS bytes it covers), kept as evidence: anyone holding the key can verify `jws` over `payload` again."""

    kid: str
    alg: str
    jws: str
    payload: bytes = field(repr=False, default=b"")

    def verify_again(self, public_key: PublicKey) -> None:
        """Re-verify the stored evidence (e.g. from the audit log) against a public key; SignatureError if not."""
        _check(public_key, self.kid, self.alg, self.jws.split(".")[0].encode() + b"." + self.payload,
               read_signature({SIGNATURE_HEADER: self.jws})[2])


def read_signature(headers: Any) -> tuple[str, dict[str, Any], bytes]:
    """The `ce_signature` text, its protected header and the signature bytes; SignatureError if malformed."""
    jws = next((v for k, v in _header_items(headers) if k == SIGNATURE_HEADER), None)
    if not jws:
        raise SignatureError("the event is not signed (no ce_signature header)")
    parts = jws.split(".")
    if len(parts) != 3 or parts[1] != "":
        raise SignatureError("ce_signature is not a detached JWS (<protected>..<signature>)")
    return jws, dict(_protected_header(parts[0])), _unb64(parts[2])


@functools.lru_cache(maxsize=256)
def _protected_header(text: str) -> dict[str, Any]:
    """The checked protected header of a JWS (the same few per producer key, so parsed once each)."""
    try:
        protected = json.loads(_unb64(text))
    except ValueError as exc:
        raise SignatureError("the JWS protected header is not JSON") from exc
    if not isinstance(protected, dict):
        raise SignatureError("the JWS protected header is not a JSON object")
    if protected.get("alg") not in ALGORITHMS:
        raise SignatureError(f"JWS alg {str(protected.get('alg'))[:20]!r} is not one of {', '.join(ALGORITHMS)}")
    if protected.get("b64") is not False or "b64" not in (protected.get("crit") or []):
        raise SignatureError('the JWS must have an unencoded payload: "b64": false with "crit": ["b64"]')
    unknown = set(protected.get("crit") or []) - {"b64"}
    if unknown:
        raise SignatureError(f"JWS critical header(s) not understood: {', '.join(sorted(map(str, unknown)))[:80]}")
    kid = protected.get("kid")
    if not isinstance(kid, str) or not kid:
        raise SignatureError("the JWS protected header names no key (kid)")
    return protected


def verify_headers(headers: Any, value: bytes | str | Mapping[str, Any],
                   public_key_for: Callable[[str], PublicKey | None]) -> Signature:
    """Verify an event's `ce_signature` over its attributes and data; return the verified Signature.

    `public_key_for(kid)` returns the pinned public key of that key id, or None for an unknown key.
    """
    headers = _header_items(headers)  # decoded once: read_signature and signing_payload reuse it
    jws, protected, signature = read_signature(headers)
    kid, alg = protected["kid"], protected["alg"]
    key = public_key_for(kid)
    if key is None:
        raise SignatureError(f"key {kid[:80]!r} is not a key this deployment trusts")
    payload = signing_payload(headers, value)
    _check(key, kid, alg, jws.split(".")[0].encode() + b"." + payload, signature)
    return Signature(kid=kid, alg=alg, jws=jws, payload=payload)


def _check(key: PublicKey, kid: str, alg: str, signing_input: bytes, signature: bytes) -> None:
    if algorithm_of(key) != alg:
        raise SignatureError(f"key {kid[:80]!r} is an {algorithm_of(key)} key, the signature says {alg}")
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            if not verify_ed25519(key, signature, signing_input):
                raise InvalidSignature
        else:
            if len(signature) != 64:
                raise InvalidSignature
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
            key.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise SignatureError(f"the signature by key {kid[:80]!r} does not match the event "
                             "(it was changed after signing, or signed by another key)") from exc


# Keys as JWK (RFC 7517 / RFC 8037): how keys are written in the agreement and deployment configuration.

def public_jwk(key: PublicKey) -> dict[str, str]:
    if isinstance(key, ed25519.Ed25519PublicKey):
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": _b64(raw)}
    numbers = key.public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": _b64(numbers.x.to_bytes(32, "big")),
            "y": _b64(numbers.y.to_bytes(32, "big"))}


def public_key_from_jwk(jwk: Mapping[str, Any]) -> PublicKey:
    """An Ed25519 (`OKP`/`Ed25519`) or P-256 (`EC`/`P-256`) public JWK; ValueError naming what is wrong."""
    kty, crv = jwk.get("kty"), jwk.get("crv")
    try:
        if kty == "OKP" and crv == "Ed25519":
            return ed25519.Ed25519PublicKey.from_public_bytes(_unb64(str(jwk["x"])))
        if kty == "EC" and crv == "P-256":
            x, y = (int.from_bytes(_unb64(str(jwk[c])), "big") for c in ("x", "y"))
            return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    except (KeyError, ValueError) as exc:
        raise ValueError(f"not a valid {kty}/{crv} public key: {exc}") from exc
    raise ValueError(f"unsupported key type {kty}/{crv}: event keys are OKP/Ed25519 or EC/P-256")


def thumbprint(key: PublicKey) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256, base64url): a key id that names the key itself."""
    jwk = public_jwk(key)
    members = {k: jwk[k] for k in (("crv", "kty", "x") if jwk["kty"] == "OKP" else ("crv", "kty", "x", "y"))}
    digest = hashes.Hash(hashes.SHA256())
    digest.update(json.dumps(members, separators=(",", ":"), sort_keys=True).encode())
    return _b64(digest.finalize())


def load_private_key(pem: bytes) -> PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError("an event signing key is an Ed25519 or ECDSA P-256 private key (PKCS#8 PEM)")
    algorithm_of(key)
    return key


# Development keys: derived from a published seed, so every process of a development setup (and every reader of
# the contract's examples) knows them. Trusted only where P3KE_EVENT_DEV_KEYS=true, never in production.
DEV_KEY_SEED = b"p3ke development event key, never for production: "


def development_signer(owner: str) -> EventSigner:
    """The development key of a producer (`targeting`, ..., `party-2 platform`): Ed25519 with private bytes
    SHA-256(seed || owner), key id `dev-<owner with dashes>`."""
    import hashlib

    private = ed25519.Ed25519PrivateKey.from_private_bytes(hashlib.sha256(DEV_KEY_SEED + owner.encode()).digest())
    return EventSigner("dev-" + owner.replace(" ", "-"), private)
