"""The checkpoint signing key: a configured Ed25519 PEM file, or a development key in the data dir."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from p3ke_audit.config import AuditSettings
from p3ke_platform.auth.tokens import load_or_create_dev_key
from p3ke_platform.settings import ConfigurationError
from p3ke_platform.tlog.note import key_id, verifier_key

_cache: dict[tuple[Path, str], Signer] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Signer:
    name: str  # the key name in signature lines: the log's origin
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def key_id_hex(self) -> str:
        return key_id(self.name, self.public_key).hex()

    @property
    def verifier_key(self) -> str:
        return verifier_key(self.name, self.public_key)

    def public_pem(self) -> str:
        return self.public_key.public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def signer(settings: AuditSettings) -> Signer:
    """The log's signer; a development key is created on first use outside production."""
    path = settings.checkpoint_key_path
    with _lock:
        cached = _cache.get((path, settings.audit_origin))
        if cached is None:
            cached = Signer(settings.audit_origin, _load(path, create=settings.audit_checkpoint_key_file is None
                                                        and settings.env != "production"))
            _cache[(path, settings.audit_origin)] = cached
    return cached


def _load(path: Path, *, create: bool) -> Ed25519PrivateKey:
    if create:
        return load_or_create_dev_key(path)  # atomic, 0600; an Ed25519 key like the dev token issuer's
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except OSError as exc:
        raise ConfigurationError(f"P3KE_AUDIT_CHECKPOINT_KEY_FILE: cannot read {path}: {exc.strerror}") from None
    except (ValueError, TypeError):
        raise ConfigurationError(f"P3KE_AUDIT_CHECKPOINT_KEY_FILE: {path} is not an unencrypted PEM key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(f"P3KE_AUDIT_CHECKPOINT_KEY_FILE: {path} is not an Ed25519 private key")
    return key


def load_public_key(text: str, name: str | None = None) -> tuple[str, Ed25519PublicKey]:
    """A verifier key (`name+id+key`) or a PEM public key with its `name` (the log's origin)."""
    from p3ke_platform.tlog.note import parse_verifier_key

    if "-----BEGIN" not in text:
        return parse_verifier_key(text)
    if not name:
        raise ConfigurationError("a PEM public key needs the log's origin (--origin)")
    key = serialization.load_pem_public_key(text.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigurationError("the public key is not Ed25519")
    return name, key
