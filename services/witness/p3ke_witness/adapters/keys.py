"""The witness's signing key: a configured Ed25519 PEM file, or (outside production) the development key derived
from a published seed (`p3ke_platform.tlog.dev_keys`), so the log and the tests know its verifier key."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from p3ke_platform.settings import ConfigurationError
from p3ke_platform.tlog.dev_keys import development_witness_key, is_development_witness_key
from p3ke_witness.config import WitnessSettings


def witness_key(settings: WitnessSettings) -> Ed25519PrivateKey:
    path = settings.witness_key_file
    if path is None:
        if settings.env == "production":
            raise ConfigurationError("P3KE_WITNESS_KEY_FILE: production needs the witness's own signing key")
        return development_witness_key(settings.witness_name)
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except OSError as exc:
        raise ConfigurationError(f"P3KE_WITNESS_KEY_FILE: cannot read {path}: {exc.strerror or exc}") from None
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"P3KE_WITNESS_KEY_FILE: {path} is not an unencrypted PEM private key "
                                 f"({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(f"P3KE_WITNESS_KEY_FILE: {path} is not an Ed25519 key (cosignature/v1 is Ed25519)")
    if settings.env == "production" and is_development_witness_key(key.public_key(), settings.witness_name):
        raise ConfigurationError("P3KE_WITNESS_KEY_FILE: this is a development key (its private half is published); "
                                 "production needs a key of its own")
    return key
