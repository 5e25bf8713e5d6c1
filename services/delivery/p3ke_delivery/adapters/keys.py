"""The service's secret: it signs download links (and opened the package passwords sealed before data keys).

One 32-byte key (a mounted secret in production, a development key in the data directory locally);
HKDF derives an independent key for each use, so a link-signing key never decrypts a password.
A package password is sealed under its handover's data key (p3ke_platform.envelope), so it dies with that
key (crypto-shredding); a handover prepared before data keys existed keeps its password sealed under this key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from p3ke_platform.envelope import DataKey, write_new_secret
from p3ke_platform.settings import ConfigurationError

KEY_BYTES = 32
PASSWORD_PURPOSE = "package-password"  # noqa: S105 (the HKDF purpose, not a password)
_PASSWORD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"  # noqa: S105 (no 0/O, 1/l/I)


def generate_password(groups: int = 5, size: int = 5) -> str:
    """A package password people can type: 25 characters of 56 (about 145 bits), in groups of 5."""
    return "-".join("".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(size)) for _ in range(groups))


def load_or_create_key(path: Path, *, create: bool) -> bytes:
    """The raw key from `path` (hex or raw bytes); created (0600, atomically) when allowed and missing."""
    if not path.exists():
        if not create:
            raise ConfigurationError(f"P3KE_DELIVERY_SERVER_KEY_FILE: {path} does not exist")
        write_new_secret(path, secrets.token_hex(KEY_BYTES) + "\n")
    raw = path.read_bytes()
    try:
        key = bytes.fromhex(raw.decode().strip())
    except (UnicodeDecodeError, ValueError):
        key = raw
    if len(key) < KEY_BYTES:
        raise ConfigurationError(f"P3KE_DELIVERY_SERVER_KEY_FILE: {path} must hold at least {KEY_BYTES} "
                                 f"bytes (64 hex digits)")
    return key


def _derive(master: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=f"p3ke-delivery/{purpose}".encode()).derive(master)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LinkError(ValueError):
    """A download link that is malformed, forged or expired; the message says which."""


@dataclass(frozen=True)
class LinkClaims:
    link_id: str
    handover_id: str
    issued_to: str
    expires_at: datetime


class ServerKeys:
    def __init__(self, master: bytes) -> None:
        self._seal = AESGCM(_derive(master, "package-password"))
        self._links = _derive(master, "download-link")

    # --- package passwords at rest ---------------------------------------------------------------
    def seal(self, handover_id: str, password: str, data_key: DataKey | None = None) -> bytes:
        """Sealed under the handover's data key (it dies with it); under the server key only without one."""
        if data_key is not None:
            return data_key.seal(PASSWORD_PURPOSE, password.encode(), handover_id.encode())
        nonce = secrets.token_bytes(12)
        return nonce + self._seal.encrypt(nonce, password.encode(), handover_id.encode())

    def open(self, handover_id: str, sealed: bytes, data_key: DataKey | None = None) -> str:
        if data_key is not None:
            return data_key.open(PASSWORD_PURPOSE, sealed, handover_id.encode()).decode()
        return self._seal.decrypt(sealed[:12], sealed[12:], handover_id.encode()).decode()

    # --- download links --------------------------------------------------------------------------
    def sign_link(self, claims: LinkClaims) -> str:
        body = _b64(json.dumps({"l": claims.link_id, "h": claims.handover_id, "s": claims.issued_to,
                                "e": int(claims.expires_at.timestamp())}, separators=(",", ":")).encode())
        return f"{body}.{_b64(hmac.new(self._links, body.encode(), hashlib.sha256).digest())}"

    def verify_link(self, token: str, *, now: datetime | None = None) -> LinkClaims:
        if len(token) > 2048 or token.count(".") != 1:
            raise LinkError("the download link is malformed")
        body, mac = token.split(".")
        try:
            given = _unb64(mac)
        except ValueError:
            raise LinkError("the download link is malformed") from None
        if not hmac.compare_digest(given, hmac.new(self._links, body.encode(), hashlib.sha256).digest()):
            raise LinkError("the download link's signature is not valid (altered or not issued here)")
        data = json.loads(_unb64(body))
        claims = LinkClaims(data["l"], data["h"], data["s"], datetime.fromtimestamp(data["e"], UTC))
        if (now or datetime.now(UTC)) >= claims.expires_at:
            raise LinkError(f"the download link expired at {claims.expires_at.isoformat(timespec='seconds')}")
        return claims
