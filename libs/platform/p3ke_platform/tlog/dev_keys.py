"""The development witness's key: derived from a published seed, so every process of a development setup (the
launcher, the log, the tests) knows its verifier key in advance without sharing a file. Never for production:
the witness refuses to start with it there (`is_development_witness_key`)."""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from p3ke_platform.tlog.cosignature import Witness

DEV_WITNESS_SEED = b"p3ke development witness key, never for production: "
DEV_WITNESS_NAME = "p3ke.local/witness-party-2"
"""Party 2's witness in a development setup (`make run`); production names it, e.g. kemnaker.go.id/p3ke/witness."""


def development_witness_key(name: str = DEV_WITNESS_NAME) -> Ed25519PrivateKey:
    """The development private key of the witness `name`: Ed25519 with private bytes SHA-256(seed || name)."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(DEV_WITNESS_SEED + name.encode()).digest())


def development_witness(name: str = DEV_WITNESS_NAME) -> Witness:
    return Witness(name, development_witness_key(name).public_key())


def development_witness_vkey(name: str = DEV_WITNESS_NAME) -> str:
    """The cosignature/v1 verifier key (`name+hexid+base64(0x04||key)`) of the development witness `name`."""
    return development_witness(name).vkey


def is_development_witness_key(public_key: Ed25519PublicKey, *names: str) -> bool:
    """Whether `public_key` is the development key of the default witness name or of one of `names`."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return any(raw == development_witness_key(n).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw) for n in {DEV_WITNESS_NAME, *names})
