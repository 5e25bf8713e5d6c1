"""Signed events interoperate with independent implementations: JCS (RFC 8785) against the `rfc8785` package,
and the JWS with a detached, unencoded payload (RFC 7515/7797) against `jwcrypto`, in both directions and for
both algorithms (EdDSA/Ed25519 and ES256)."""

from __future__ import annotations

import json
import random
import struct
from datetime import UTC, datetime

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from jwcrypto import jwk, jws

from p3ke_platform.event_keys import KeyRing, dev_signer
from p3ke_platform.settings import Settings
from p3ke_schemas import (
    Actor,
    CloudEvent,
    DataAccess,
    EventSigner,
    SignatureError,
    canonicalize,
    public_jwk,
    sign_event,
    signing_payload,
    verify_event,
)
from p3ke_schemas.jcs import CanonicalizationError

OFFICER = Actor(org="kemnaker", subject="officer-7", roles=["program-officer"])


def _event() -> CloudEvent:
    data = DataAccess(access_id="a-1", service="feedback", actor=OFFICER, action="match",
                      resource_type="feedback-batch", resource_id="fb-1", outcome="allowed", record_count=3,
                      occurred_at=datetime(2026, 12, 1, tzinfo=UTC),
                      reason="Pencocokan data balikan — ✓ \u2028 \"kutip\"")
    return CloudEvent.of(data, source="urn:p3ke:service:feedback", subject="fb-1")


def _random_json(rng: random.Random, depth: int = 0) -> object:
    kind = rng.randrange(8 if depth < 4 else 5)
    if kind == 0:
        return rng.randint(-(2**53) + 1, 2**53 - 1)
    if kind == 1:
        # any finite double, including subnormals and huge exponents
        while True:
            value = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
            if value == value and abs(value) != float("inf"):
                return value
    if kind == 2:
        return "".join(chr(rng.choice([rng.randrange(0x20), rng.randrange(0x20, 0x7F), rng.randrange(0xA0, 0xD7FF),
                                       rng.randrange(0xE000, 0x10FFFF)])) for _ in range(rng.randrange(6)))
    if kind == 3:
        return rng.choice([True, False, None])
    if kind == 4:
        return rng.choice([0.1, 1e21, 1e-7, 123456789012345680000.0, 5e-324, -0.0, 0.000001, 1e300])
    if kind in (5, 6):
        names = ["a", "é", "\U0001f600", "\ufb33", ""]
        return {str(_random_json(rng, 5)) + rng.choice(names): _random_json(rng, depth + 1)
                for _ in range(rng.randrange(5))}
    return [_random_json(rng, depth + 1) for _ in range(rng.randrange(5))]


def test_jcs_equals_the_rfc8785_package_on_generated_values() -> None:
    rng = random.Random(8785)
    for _ in range(3000):
        value = _random_json(rng)
        assert canonicalize(value) == rfc8785.dumps(value), value


def test_jcs_refuses_what_has_no_canonical_form() -> None:
    for bad in (2**53, float("nan"), float("inf"), {1: "x"}, b"bytes", "\ud800"):
        with pytest.raises(CanonicalizationError):
            canonicalize(bad)


def _ring() -> KeyRing:
    return KeyRing.configured(Settings(), [])


@pytest.mark.parametrize("curve", ["Ed25519", "P-256"])
def test_jwcrypto_verifies_what_the_project_signs(curve: str) -> None:
    private = ed25519.Ed25519PrivateKey.generate() if curve == "Ed25519" else ec.generate_private_key(ec.SECP256R1())
    signer = EventSigner("k-1", private)
    _, value, headers = sign_event(_event(), signer, "feedback")
    compact = dict(headers)["ce_signature"].decode()
    payload = signing_payload(headers, value)
    assert json.loads(payload)["data"] == json.loads(value)  # the data exactly as sent, attributes beside it

    token = jws.JWS()
    token.deserialize(compact)
    token.verify(jwk.JWK(**public_jwk(private.public_key())), detached_payload=payload)
    assert json.loads(token.objects["protected"]) == {"alg": signer.alg, "b64": False, "crit": ["b64"], "kid": "k-1"}
    with pytest.raises(jws.InvalidJWSSignature):
        token.verify(jwk.JWK(**public_jwk(private.public_key())), detached_payload=payload.replace(b"officer-7", b"x"))


@pytest.mark.parametrize("kty", ["OKP", "EC"])
def test_the_project_accepts_what_jwcrypto_signs(kty: str) -> None:
    key = jwk.JWK.generate(kty="OKP", crv="Ed25519") if kty == "OKP" else jwk.JWK.generate(kty="EC", crv="P-256")
    alg = "EdDSA" if kty == "OKP" else "ES256"
    event = _event()
    headers = [(k, v) for k, v in sign_event(event, dev_signer("feedback"), "feedback")[2] if k != "ce_signature"]
    value = event.data.model_dump_json().encode()
    token = jws.JWS(signing_payload(headers, value).decode())
    token.add_signature(key, alg=alg, protected={"alg": alg, "kid": "independent", "b64": False, "crit": ["b64"]})
    flat = json.loads(token.serialize())  # the flattened JSON serialisation (RFC 7515 7.2.2)
    headers.append(("ce_signature", f"{flat['protected']}..{flat['signature']}".encode()))

    public = json.loads(key.export_public())
    from p3ke_schemas import public_key_from_jwk

    verified = verify_event(event.key.encode(), value, headers,
                            lambda kid: public_key_from_jwk(public) if kid == "independent" else None)
    assert verified.signature is not None and verified.signature.kid == "independent"
    assert verified.data == event.data and verified.authid == "officer-7"
    tampered = value.replace(b'"record_count":3', b'"record_count":4')
    with pytest.raises(SignatureError, match="does not match the event"):
        verify_event(event.key.encode(), tampered, headers, lambda kid: public_key_from_jwk(public))


def test_every_attribute_is_covered_and_nothing_may_be_added() -> None:
    _, value, headers = sign_event(_event(), dev_signer("feedback"), "feedback")
    ring = _ring()
    assert verify_event(None, value, headers, ring.public_key).signature is not None
    for name in ("ce_id", "ce_time", "ce_source", "ce_subject", "ce_authid", "content-type"):
        changed = [(k, (v + b"x") if k == name else v) for k, v in headers]
        with pytest.raises((SignatureError, ValueError)):
            verify_event(None, value, changed, ring.public_key)
    with pytest.raises(SignatureError, match="does not match"):
        verify_event(None, value, [*headers, ("ce_extra", b"1")], ring.public_key)
    # re-serialising the data differently (spaces, member order) keeps the signature: it covers the JCS form
    reordered = json.dumps(dict(reversed(list(json.loads(value).items()))), indent=2).encode()
    assert verify_event(None, reordered, headers, ring.public_key).signature is not None


@pytest.mark.parametrize(("signature", "reason"), [
    (None, "not signed"),
    (b"abc", "not a detached JWS"),
    (b"e30..AAAA", "alg"),
    (b"eyJhbGciOiJFZERTQSIsImtpZCI6ImRldi1mZWVkYmFjayJ9..AAAA", "unencoded payload"),
    (b"eyJhbGciOiJFZERTQSIsImI2NCI6ZmFsc2UsImNyaXQiOlsiYjY0Il0sImtpZCI6Im5vYm9keSJ9..AAAA", "not a key this deploy"),
])
def test_malformed_signatures_are_named(signature: bytes | None, reason: str) -> None:
    _, value, headers = sign_event(_event(), dev_signer("feedback"), "feedback")
    headers = [(k, v) for k, v in headers if k != "ce_signature"] + ([("ce_signature", signature)] if signature else [])
    with pytest.raises(SignatureError, match=reason):
        verify_event(None, value, headers, _ring().public_key)


def test_the_fast_path_writes_the_same_bytes_as_rfc8785() -> None:
    from p3ke_schemas.jcs import canonicalize_json

    rng = random.Random(7797)
    for _ in range(3000):
        value = _random_json(rng)
        text = json.dumps(value, ensure_ascii=rng.random() < 0.5)
        members = {"id": "x", "zz\u00e9": "y"} if rng.random() < 0.5 else None
        expected = rfc8785.dumps(value if members is None else {**members, "data": value})
        assert canonicalize_json(text, members) == expected, text
