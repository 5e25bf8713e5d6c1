"""Ed25519 through libsodium (p3ke_schemas.sodium) against OpenSSL (`cryptography`), an independent implementation:
the same signatures byte for byte, each library verifies the other's, and both refuse what is not a signature."""

from __future__ import annotations

import os

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from p3ke_schemas.sodium import LARGE_SIGNING_INPUT, ed25519_signer, sodium_signer, verify_ed25519

L = 2**252 + 27742317777372353535851937790883648493  # the group order (RFC 8032, 5.1)
MESSAGES = [b"", b"x", os.urandom(300), os.urandom(3000), "{\"data\":\"ü\"}".encode(),
            os.urandom(LARGE_SIGNING_INPUT - 1), os.urandom(LARGE_SIGNING_INPUT), os.urandom(400_000)]


@pytest.mark.parametrize("message", MESSAGES, ids=["empty", "one", "300", "3000", "utf8", "under-large", "large",
                                                   "400k"])
def test_libsodium_and_openssl_make_the_same_signature_and_verify_each_others(message: bytes) -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    public = private.public_key()
    ours = sodium_signer(private)(message)
    theirs = private.sign(message)
    assert ours == theirs  # deterministic signatures (RFC 8032): byte for byte
    public.verify(ours, message)  # OpenSSL accepts libsodium's
    assert verify_ed25519(public, theirs, message)  # libsodium accepts OpenSSL's
    assert ed25519_signer(private)(message) == theirs  # whichever library signs a message of this size


def test_the_signer_uses_libsodium_under_the_large_size_and_openssl_from_it() -> None:
    """Which library signs is seen by making OpenSSL's path fail: a key whose `sign` raises."""

    class NoOpenSSL:
        def __init__(self, key: ed25519.Ed25519PrivateKey) -> None:
            self.key = key

        def private_bytes(self, *args: object) -> bytes:
            return self.key.private_bytes(*args)  # type: ignore[arg-type]

        def sign(self, message: bytes) -> bytes:
            raise AssertionError("OpenSSL signed")

    key = ed25519.Ed25519PrivateKey.generate()
    sign = ed25519_signer(NoOpenSSL(key))  # type: ignore[arg-type]
    small = os.urandom(LARGE_SIGNING_INPUT - 1)
    assert sign(small) == key.sign(small)
    with pytest.raises(AssertionError, match="OpenSSL signed"):
        sign(os.urandom(LARGE_SIGNING_INPUT))


def test_both_refuse_a_changed_message_a_changed_signature_and_another_key() -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    public, other = private.public_key(), ed25519.Ed25519PrivateKey.generate().public_key()
    message = os.urandom(500)
    signature = private.sign(message)
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    cases = [(public, signature, message + b"!"), (public, flipped, message), (other, signature, message)]
    for key, sig, msg in cases:
        assert not verify_ed25519(key, sig, msg)
        with pytest.raises(InvalidSignature):
            key.verify(sig, msg)
    assert verify_ed25519(public, signature, message)  # the untouched one still verifies


def test_both_refuse_a_non_canonical_s_and_a_signature_of_the_wrong_length() -> None:
    """S + L is the same point arithmetic but not the encoding RFC 8032 allows (S < L): a malleated signature."""
    private = ed25519.Ed25519PrivateKey.generate()
    message = b"an event"
    signature = private.sign(message)
    s = int.from_bytes(signature[32:], "little") + L
    assert s < 2**256
    malleated = signature[:32] + s.to_bytes(32, "little")
    assert not verify_ed25519(private.public_key(), malleated, message)
    with pytest.raises(InvalidSignature):
        private.public_key().verify(malleated, message)
    assert not verify_ed25519(private.public_key(), signature[:63], message)
    assert not verify_ed25519(private.public_key(), signature + b"\0", message)
