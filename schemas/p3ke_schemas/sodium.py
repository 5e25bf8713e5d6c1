"""Ed25519 through libsodium (PyNaCl), for the event plane's hot path.

The same RFC 8032 signatures as OpenSSL's (`cryptography`), in about half the time: on the 2-core machine of
`docs/benchmarks.md`, verifying an event's signing input (300-3,000 bytes) takes 46-58 µs against OpenSSL 4.0's
96-98 µs, and signing 19-30 µs against 30-37 µs. This measures both on the machine at hand: `python -c "from
p3ke_schemas.sodium import measure; measure()"`. A worker verifies every event it receives, and `p3ke audit verify`
verifies every entry's origin again: it is the largest single cost of either per event. Keys stay `cryptography`
objects everywhere else (JWK, PEM, thumbprints); this module only borrows their raw bytes.

Ed25519 is deterministic: both libraries make the same signature, byte for byte. libsodium's verification is the
stricter one. Both refuse a non-canonical S; libsodium also refuses public keys and R values of small order, which
no RFC 8032 signer produces. So an honest signature verifies under both (`tests/unit/test_sodium.py` checks both
directions; the Go interop tests check whole signed events).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

_VERIFY_KEYS: dict[bytes, VerifyKey] = {}  # raw public key -> its libsodium form (a deployment trusts a few keys)
_MAX_KEYS = 1024


def verify_ed25519(key: ed25519.Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    """Whether `signature` is `key`'s Ed25519 signature of `message`."""
    raw = key.public_bytes_raw()
    verifier = _VERIFY_KEYS.get(raw)
    if verifier is None:
        if len(_VERIFY_KEYS) >= _MAX_KEYS:
            _VERIFY_KEYS.clear()
        verifier = _VERIFY_KEYS[raw] = VerifyKey(raw)
    if len(signature) != 64:
        return False
    try:
        verifier.verify(message, signature)
    except BadSignatureError:
        return False
    return True


LARGE_SIGNING_INPUT = 16 * 1024
"""From this many bytes up, signing goes through OpenSSL: Ed25519 hashes the message twice with SHA-512, and OpenSSL's
SHA-512 is the faster one. Measured on this machine (median of 50): 700 bytes 21.6 µs (libsodium) against 32.7 µs
(OpenSSL), 4 KiB 34 against 40, 64 KiB 253 against 180, 335 kB (a data-access event naming 5,000 subjects) 1,665
against 791. The signature is the same either way (deterministic); verification stays with libsodium at every size
(its stricter checks), where OpenSSL only draws level at 64 KiB."""


def sodium_signer(key: ed25519.Ed25519PrivateKey) -> Callable[[bytes], bytes]:
    """A function returning `key`'s Ed25519 signature of a message (64 bytes), made by libsodium."""
    seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())
    signing_key = SigningKey(seed)
    return lambda message: signing_key.sign(message).signature


def ed25519_signer(key: ed25519.Ed25519PrivateKey) -> Callable[[bytes], bytes]:
    """A function returning `key`'s Ed25519 signature of a message (64 bytes): libsodium's for a message under
    LARGE_SIGNING_INPUT bytes, OpenSSL's from there (the same bytes, made faster)."""
    small = sodium_signer(key)
    return lambda message: small(message) if len(message) < LARGE_SIGNING_INPUT else key.sign(message)


def measure(size: int = 800, n: int = 3000) -> None:
    """Per-operation times of both libraries on this machine (µs), printed."""
    private = ed25519.Ed25519PrivateKey.generate()
    public, message = private.public_key(), b"x" * size
    signature, sign = private.sign(message), sodium_signer(private)
    runs = {"verify openssl": lambda: public.verify(signature, message),
            "verify libsodium": lambda: verify_ed25519(public, signature, message),
            "sign openssl": lambda: private.sign(message), "sign libsodium": lambda: sign(message)}
    for name, run in runs.items():
        started = time.perf_counter()
        for _ in range(n):
            run()
        print(f"{name:18} {(time.perf_counter() - started) / n * 1e6:6.1f} µs  ({size} bytes)")
