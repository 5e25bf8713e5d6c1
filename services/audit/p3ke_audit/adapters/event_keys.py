"""The event keys file of an outside auditor: every public key that signs events, with its owner.

The format is the deployment's trust file (`P3KE_EVENT_TRUST_FILE`, YAML or JSON)

    keys: [{kid, owner, jwk, not_before?, not_after?}, ...]

but where the trust file holds the services' keys only (the platforms' keys belong in the agreement), this one
holds them all: an owner is a service (`targeting`, `delivery`, ...) or a ministry platform (`party-1
platform`, `party-2 platform`), the producer names of the contract. `p3ke audit event-keys` writes it from the
running configuration (the ring `p3ke audit verify` checks against), `p3ke audit verify-bundle --event-keys`
reads it, so a bundle's origins verify offline exactly as the log verifies them. Public keys only: a `jwk` with
a private member (`d`) is refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from p3ke_platform.event_keys import PLATFORMS, KeyRing, TrustedKey, read_trust_file
from p3ke_schemas import public_jwk
from p3ke_schemas.topics import ALL_SERVICES

OWNERS = (*ALL_SERVICES, *PLATFORMS)


def read_keys_file(path: Path) -> list[TrustedKey]:
    """The keys of one file (services' and platforms'); ConfigurationError naming the file and the key."""
    return read_trust_file(path, owners=OWNERS, where="--event-keys")


def _identity(key: TrustedKey) -> tuple[Any, ...]:
    return key.kid, key.owner, json.dumps(public_jwk(key.public_key), sort_keys=True), key.not_before, key.not_after


def ring_of(paths: Iterable[Path]) -> KeyRing:
    """The keys of every file (a key listed the same in two files counts once; a key id given two different
    keys is refused)."""
    seen: dict[tuple[Any, ...], TrustedKey] = {}
    for path in paths:
        for key in read_keys_file(path):
            seen.setdefault(_identity(key), key)
    return KeyRing(seen.values())


def keys_file_text(ring: KeyRing) -> str:
    """The keys file of a ring (public JWKs, owners and validity windows), by owner then key id."""
    out = []
    for key in sorted(ring.keys.values(), key=lambda k: (k.owner, k.kid)):
        item: dict[str, Any] = {"kid": key.kid, "owner": key.owner, "jwk": public_jwk(key.public_key)}
        if key.not_before is not None:
            item["not_before"] = key.not_before.isoformat()
        if key.not_after is not None:
            item["not_after"] = key.not_after.isoformat()
        out.append(item)
    return json.dumps({"keys": out}, indent=2) + "\n"
