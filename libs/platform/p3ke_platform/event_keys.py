"""Whose keys sign the events: the pinned public keys of the services and of the ministry platforms.

Keys are configuration, never self-asserted (an event's `kid` only *names* a key this file already knows):

* a service's public key is pinned in the deployment (`P3KE_EVENT_TRUST_FILE`, a ConfigMap): owner = the
  service's name as the contract's producer lists write it (`targeting`, `delivery`, ...);
* a ministry platform's public keys belong to its party in the agreement's terms (`parties[].platform_keys`):
  owner = `party-1 platform` / `party-2 platform`, again the contract's producer names;
* every key has a validity window; rotation is a new key with a later `not_before` / `valid_from`, then an end
  for the old one.

In `local` and `test` (and never in production) the development keys are trusted as well: one Ed25519 key per
service and per platform, derived from a fixed, published seed, so every process of a development setup knows
them without sharing files. `make run` writes the platforms' ones to files for the walkthrough.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from p3ke_platform.settings import ConfigurationError, Settings
from p3ke_schemas import EventSigner, public_jwk, public_key_from_jwk
from p3ke_schemas.signing import PublicKey, development_signer, load_private_key, thumbprint
from p3ke_schemas.topics import ALL_SERVICES

JAKARTA = timedelta(hours=7)
PLATFORMS = ("party-1 platform", "party-2 platform")


def platform_owner(party: int) -> str:
    return f"party-{party} platform"


def platform_party(owner: str) -> int | None:
    """1 or 2 for a platform key's owner, None for a service."""
    return int(owner[6]) if owner in PLATFORMS else None


@dataclass(frozen=True)
class TrustedKey:
    kid: str
    owner: str  # a producer name of the contract: a service, or "party-N platform"
    public_key: PublicKey
    not_before: datetime | None = None
    not_after: datetime | None = None  # exclusive
    development: bool = False

    def valid_at(self, when: datetime) -> bool:
        starts, ends = self.not_before, self.not_after
        return (starts is None or when >= starts) and (ends is None or when < ends)

    def window(self) -> str:
        start = self.not_before.isoformat() if self.not_before else "always"
        end = self.not_after.isoformat() if self.not_after else "no end"
        return f"{start} to {end}"


def dev_signer(owner: str) -> EventSigner:
    """The development key of a service or platform: derived from a published seed, so never a secret."""
    return development_signer(owner)


def dev_private_key(owner: str) -> ed25519.Ed25519PrivateKey:
    key = dev_signer(owner).private_key
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    return key


def dev_kid(owner: str) -> str:
    return dev_signer(owner).kid


def dev_keys() -> list[TrustedKey]:
    return [TrustedKey(dev_kid(o), o, dev_private_key(o).public_key(), development=True)
            for o in (*ALL_SERVICES, *PLATFORMS)]


def is_development_key(key: PublicKey) -> bool:
    return any(public_jwk(key) == public_jwk(k.public_key) for k in dev_keys())


def key_instant(value: Any, what: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), UTC) - JAKARTA
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigurationError(f"{what}: {value!r} is not an ISO 8601 instant") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def read_trust_file(path: Path, *, owners: tuple[str, ...] = ALL_SERVICES,
                    where: str = "P3KE_EVENT_TRUST_FILE") -> list[TrustedKey]:
    """Pinned public keys: `keys: [{kid, owner, jwk, not_before?, not_after?}]` (YAML or JSON).

    The deployment's trust file holds the services' keys only (`owners`; the platforms' keys belong in the
    agreement); an auditor's keys file (`p3ke audit event-keys`) holds them all."""
    import yaml

    where = f"{where} {path}"
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"{where}: cannot read it ({exc})") from exc
    if not isinstance(doc, Mapping) or not isinstance(doc.get("keys"), list):
        raise ConfigurationError(f"{where}: expected a mapping with a list `keys`")
    keys = []
    for i, item in enumerate(doc["keys"]):
        name = f"{where}: keys[{i}]"
        if not isinstance(item, Mapping) or not {"kid", "owner", "jwk"} <= item.keys():
            raise ConfigurationError(f"{name}: needs kid, owner and jwk")
        if item["owner"] not in owners:
            hint = "; platform keys belong in the agreement's parties[].platform_keys" if owners == ALL_SERVICES else ""
            raise ConfigurationError(f"{name}: owner {item['owner']!r} is not one of {', '.join(owners)}{hint}")
        if not isinstance(item["jwk"], Mapping) or "d" in item["jwk"]:
            raise ConfigurationError(f"{name}: the jwk must be a public JWK (no private member 'd'); pin the public "
                                     "key only")
        try:
            public = public_key_from_jwk(dict(item["jwk"]))
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(f"{name}: {exc}") from exc
        keys.append(TrustedKey(str(item["kid"]), str(item["owner"]), public,
                               key_instant(item.get("not_before"), f"{name}.not_before"),
                               key_instant(item.get("not_after"), f"{name}.not_after")))
    return keys


def trust_file_text(keys: Iterable[tuple[str, str, PublicKey]]) -> str:
    """A trust file for (kid, owner, public key) triples (what `p3ke keys` writes for operators)."""
    return json.dumps({"keys": [{"kid": kid, "owner": owner, "jwk": public_jwk(key)} for kid, owner, key in keys]},
                      indent=2) + "\n"


class KeyRing:
    """Every key this deployment trusts, by key id."""

    def __init__(self, keys: Iterable[TrustedKey]) -> None:
        self.keys: dict[str, TrustedKey] = {}
        for key in keys:
            if key.kid in self.keys:
                raise ConfigurationError(f"event key id {key.kid!r} is configured twice; key ids must be unique")
            self.keys[key.kid] = key

    def get(self, kid: str) -> TrustedKey | None:
        return self.keys.get(kid)

    def public_key(self, kid: str) -> PublicKey | None:
        key = self.keys.get(kid)
        return key.public_key if key else None

    def public_keys(self) -> dict[str, PublicKey]:
        """Every trusted public key by key id (what a signature check needs; validity windows are checked after)."""
        return {kid: key.public_key for kid, key in self.keys.items()}

    @classmethod
    def configured(cls, settings: Settings, parties: Iterable[Any]) -> KeyRing:
        """The deployment's ring: the trust file, the agreement's platform keys, and (not in production) the
        development keys."""
        keys: list[TrustedKey] = []
        if settings.event_trust_file:
            keys += read_trust_file(settings.event_trust_file)
        for party in parties:
            for pk in party.platform_keys:
                until = pk.valid_until + timedelta(days=1) if pk.valid_until else None
                keys.append(TrustedKey(pk.kid, platform_owner(party.party), public_key_from_jwk(pk.jwk),
                                       key_instant(pk.valid_from, "valid_from"), key_instant(until, "valid_until")))
        if settings.event_dev_keys:
            if settings.env == "production":
                raise ConfigurationError("P3KE_EVENT_DEV_KEYS: development event keys are not trusted in production")
            keys += dev_keys()
        elif settings.env == "production":
            dev = [k.kid for k in keys if is_development_key(k.public_key)]
            if dev:
                raise ConfigurationError(f"event key(s) {', '.join(dev)} are development keys (their private key is "
                                         "public); production needs keys of its own")
        return cls(keys)


def service_signer(settings: Settings, service: str, ring: KeyRing) -> EventSigner:
    """The key this service signs its events with, checked against the ring (it must be pinned for it)."""
    if settings.event_signing_key_file:
        path = settings.event_signing_key_file
        try:
            private = load_private_key(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"P3KE_EVENT_SIGNING_KEY_FILE {path}: {exc}") from exc
        kid = settings.event_signing_key_id or thumbprint(private.public_key())
        signer = EventSigner(kid, private)
    elif settings.event_dev_keys and settings.env != "production":
        signer = dev_signer(service)
    else:
        raise ConfigurationError("P3KE_EVENT_SIGNING_KEY_FILE: no private key to sign this service's events with")
    pinned = ring.get(signer.kid)
    if pinned is None or pinned.owner != service or public_jwk(pinned.public_key) != public_jwk(signer.public_key()):
        raise ConfigurationError(
            f"P3KE_EVENT_SIGNING_KEY_FILE: the key {signer.kid!r} is not pinned for {service} in P3KE_EVENT_TRUST_FILE "
            "(add its public JWK with owner " + service + ")")
    if settings.env == "production" and is_development_key(signer.public_key()):
        raise ConfigurationError("P3KE_EVENT_SIGNING_KEY_FILE: this is a development key; production needs its own")
    return signer


def write_dev_platform_keys(directory: Path) -> dict[str, Path]:
    """The development platforms' private keys as PKCS#8 PEM files (for the walkthrough); their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    out = {}
    for owner in PLATFORMS:
        path = directory / f"{dev_kid(owner)}.pem"
        pem = dev_private_key(owner).private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption())
        path.write_bytes(pem)
        path.chmod(0o600)
        out[owner] = path
    return out
