"""C2SP `tlog-cosignature` v1: a witness's timestamped Ed25519 signature of a checkpoint.

A cosignature is a signed-note signature line `— <witness name> <base64(key id || timestamp || signature)>`:

* the key id is `SHA-256(name || 0x0A || 0x04 || public key)[:4]` (0x04: the cosignature/v1 algorithm);
* the timestamp is the UNIX time of signing, 8 bytes big-endian;
* the Ed25519 signature covers `cosignature/v1\\ntime <timestamp>\\n` followed by the checkpoint body
  (origin, size, root and any extension lines: the note text before the blank line).

The witness's verifier key is `<name>+<hex key id>+<base64(0x04 || public key)>`, the form Go's
`transparency-dev/formats/note.NewVerifierForCosignatureV1` reads. A witness vouches with it that it
saw this checkpoint and that it extends every earlier one it cosigned for the same log.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from p3ke_platform.tlog import note
from p3ke_platform.tlog.note import SIGNATURE_PREFIX, CheckpointError, parse_body, signature_lines

COSIGNATURE_V1 = 0x04
_NAME = re.compile(r"[^\s+]+")
_BLOB = 4 + 8 + 64


def key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    return note.key_id(name, public_key, COSIGNATURE_V1)


@dataclass(frozen=True)
class Witness:
    """A witness as a verifier knows it: its name and public key."""

    name: str
    public_key: Ed25519PublicKey

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_key)

    @property
    def vkey(self) -> str:
        """`name+hexid+base64(0x04||key)`: what a log or a verifier is configured with."""
        return note.verifier_key(self.name, self.public_key, COSIGNATURE_V1)

    @classmethod
    def parse(cls, vkey: str) -> Witness:
        """Read a cosignature/v1 verifier key; its id must match its name and key."""
        return cls(*note.parse_verifier_key(vkey, COSIGNATURE_V1, key_word="witness key",
                                            wrong_type="a witness key is a cosignature/v1 Ed25519 key (type 0x04)"))


def signed_message(body: str, timestamp: int) -> bytes:
    """What a cosignature/v1 signs: the header lines and the checkpoint body."""
    parse_body(body)  # a checkpoint, or refuse to sign it
    return f"cosignature/v1\ntime {timestamp}\n{body}".encode()


def cosign(body: str, name: str, private_key: Ed25519PrivateKey, *, timestamp: int | None = None) -> str:
    """The cosignature line (ending in a newline) of a checkpoint body by the witness `name`."""
    if not _NAME.fullmatch(name):
        raise CheckpointError("a witness name must be non-empty, without spaces or '+'")
    when = int(time.time()) if timestamp is None else timestamp
    if not 0 <= when < 2**63:
        raise CheckpointError("a cosignature's time is a UNIX time")
    signature = private_key.sign(signed_message(body, when))
    blob = key_id(name, private_key.public_key()) + when.to_bytes(8, "big") + signature
    return f"{SIGNATURE_PREFIX}{name} {base64.b64encode(blob).decode()}\n"


@dataclass(frozen=True)
class Cosignature:
    witness: Witness
    timestamp: int  # UNIX seconds, when the witness signed
    line: str  # the signature line, with its newline

    @property
    def signed_at(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp, UTC)


def verify_line(body: str, line: str, witness: Witness) -> Cosignature | None:
    """The cosignature of `witness` in `line` over `body`; None if the line is another key's.

    A line of this witness's key that does not verify raises `CheckpointError` (as a signed note would)."""
    text = line.rstrip("\n")
    if not text.startswith(SIGNATURE_PREFIX):
        raise CheckpointError("a signature line must start with an em dash and a space")
    try:
        signer, b64 = text[len(SIGNATURE_PREFIX):].split(" ")
        blob = base64.b64decode(b64, validate=True)
    except (ValueError, binascii.Error):
        raise CheckpointError("a signature line is malformed") from None
    if signer != witness.name or blob[:4] != witness.key_id:
        return None
    if len(blob) != _BLOB:
        raise CheckpointError(f"the cosignature of {witness.name} is not 76 bytes")
    timestamp = int.from_bytes(blob[4:12], "big")
    try:
        witness.public_key.verify(blob[12:], signed_message(body, timestamp))
    except InvalidSignature:
        raise CheckpointError(f"the cosignature of {witness.name} does not verify") from None
    return Cosignature(witness, timestamp, text + "\n")


def cosignatures(note: str, witnesses: list[Witness]) -> list[Cosignature]:
    """Every verifying cosignature of the given witnesses in a signed note (at most one per witness).

    Lines of other keys are ignored; a line of a listed witness that does not verify raises."""
    body, lines = signature_lines(note)
    found: dict[str, Cosignature] = {}
    for line in lines:
        for witness in witnesses:
            cosig = verify_line(body, line, witness)
            if cosig is not None:
                found.setdefault(witness.vkey, cosig)
    return list(found.values())


def check_quorum(note: str, witnesses: list[Witness], quorum: int) -> list[Cosignature]:
    """The cosignatures of `note`, if at least `quorum` of `witnesses` cosigned it; else `CheckpointError`."""
    found = cosignatures(note, witnesses)
    if len(found) < quorum:
        names = ", ".join(sorted(c.witness.name for c in found)) or "none"
        raise CheckpointError(f"the checkpoint is cosigned by {len(found)} of the {len(witnesses)} trusted witnesses "
                              f"({names}); {quorum} needed")
    return found
