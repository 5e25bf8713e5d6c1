"""The logs this witness witnesses: their checkpoint verifier keys, from configuration, by origin.

A log's origin is its key's name (`origin+hexid+base64(0x01||key)`); an origin may have several keys (a
rotation). A checkpoint is the log's when at least one of its origin's keys signed it (C2SP signed-note: lines
of other keys are ignored, a failing line of a trusted key rejects the note).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from p3ke_platform.tlog.note import CheckpointError, parse_verifier_key, verify_note


@dataclass(frozen=True)
class LogKey:
    vkey: str
    origin: str
    public_key: Ed25519PublicKey


def trusted_logs(vkeys: Iterable[str]) -> dict[str, list[LogKey]]:
    logs: dict[str, list[LogKey]] = {}
    for vkey in vkeys:
        origin, public_key = parse_verifier_key(vkey)
        logs.setdefault(origin, []).append(LogKey(vkey.strip(), origin, public_key))
    return logs


def verifying_key(note: str, keys: Iterable[LogKey]) -> LogKey:
    """The first trusted key whose signature in `note` verifies; `CheckpointError` if none does."""
    reasons = []
    for key in keys:
        try:
            verify_note(note, key.origin, key.public_key)
            return key
        except CheckpointError as exc:
            reasons.append(str(exc))
    raise CheckpointError("; ".join(reasons) or "no trusted key")


def origins(logs: Mapping[str, list[LogKey]]) -> list[str]:
    return sorted(logs)
