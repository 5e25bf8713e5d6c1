"""Signed checkpoints: the C2SP `tlog-checkpoint` body in a C2SP `signed-note`, signed with Ed25519.

    p3ke.example/audit          <- origin
    1234                        <- tree size, decimal
    <base64 root hash>          <- RFC 6962 root
                                <- blank line
    — p3ke.example/audit <base64(key id (4 bytes) || Ed25519 signature (64 bytes))>

The signature covers the note text up to and including the newline after the root hash. The key
id is `SHA-256(name || 0x0A || 0x01 || public key)[:4]`; the shareable verifier key is
`<name>+<hex key id>+<base64(0x01 || public key)>` (the form Go's `sumdb/note` reads), so another
party can witness our checkpoints with standard tools (witnesses add their cosignature lines, see
`cosignature`). Pure code: keys come in as objects.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from p3ke_platform.tlog.merkle import HASH_SIZE

ED25519 = 0x01
SIGNATURE_PREFIX = "— "  # U+2014 EM DASH, U+0020
MAX_NOTE_BYTES = 64 * 1024
MAX_SIGNATURES = 100
_NAME = re.compile(r"[^\s+]+")
_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")


class CheckpointError(ValueError):
    """A note is malformed, or not signed by the expected key (message says which)."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        if not _NAME.fullmatch(self.origin):
            raise CheckpointError("the origin must be non-empty, without spaces or '+'")
        if len(self.root) != HASH_SIZE or self.size < 0:
            raise CheckpointError("a checkpoint needs a size >= 0 and a 32-byte root")
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode(), *self.extensions]
        return "".join(line + "\n" for line in lines)


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(name: str, public_key: Ed25519PublicKey, algorithm: int = ED25519) -> bytes:
    """`SHA-256(name || 0x0A || algorithm || public key)[:4]` (signed-note; 0x04 for cosignature/v1)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([algorithm]) + _raw(public_key)).digest()[:4]


def verifier_key(name: str, public_key: Ed25519PublicKey, algorithm: int = ED25519) -> str:
    """The text form another party keeps to verify our notes: `name+hexid+base64(algorithm||key)`."""
    blob = bytes([algorithm]) + _raw(public_key)
    return f"{name}+{key_id(name, public_key, algorithm).hex()}+{base64.b64encode(blob).decode()}"


def parse_verifier_key(text: str, algorithm: int = ED25519, *, key_word: str = "verifier key",
                       wrong_type: str = "only Ed25519 verifier keys (type 0x01) are supported"
                       ) -> tuple[str, Ed25519PublicKey]:
    """Read `name+hexid+base64(algorithm||key)`; the id must match the name and key (errors call it `key_word`)."""
    parts = text.strip().split("+", 2)  # the base64 key may itself hold "+"
    if len(parts) != 3 or not _NAME.fullmatch(parts[0]):
        raise CheckpointError(f"a {key_word} reads name+keyid+key")
    name, hexid, b64 = parts
    try:
        blob = base64.b64decode(b64, validate=True)
        wanted = bytes.fromhex(hexid)
    except (binascii.Error, ValueError):
        raise CheckpointError(f"the {key_word} is not valid hex/base64") from None
    if len(blob) != 33 or blob[0] != algorithm:
        raise CheckpointError(wrong_type)
    key = Ed25519PublicKey.from_public_bytes(blob[1:])
    if key_id(name, key, algorithm) != wanted:
        raise CheckpointError(f"the {key_word}'s id does not match its name and key")
    return name, key


def sign_note(text: str, name: str, private_key: Ed25519PrivateKey) -> str:
    """A signed note of `text` (which must end in a newline) with one Ed25519 signature line."""
    if not _NAME.fullmatch(name):
        raise CheckpointError("a key name must be non-empty, without spaces or '+'")
    if not text.endswith("\n") or any(ord(c) < 0x20 and c != "\n" for c in text):
        raise CheckpointError("a note text ends in a newline and holds no other control characters")
    blob = key_id(name, private_key.public_key()) + private_key.sign(text.encode())
    return f"{text}\n{SIGNATURE_PREFIX}{name} {base64.b64encode(blob).decode()}\n"


def sign(checkpoint: Checkpoint, name: str, private_key: Ed25519PrivateKey) -> str:
    """The signed note of a checkpoint."""
    return sign_note(checkpoint.body(), name, private_key)


def open_note(note: str, name: str, public_key: Ed25519PublicKey) -> Checkpoint:
    """Verify a signed checkpoint with the key `(name, public_key)` and return what it states."""
    return parse_body(verify_note(note, name, public_key))


def signature_lines(note: str) -> tuple[str, list[str]]:
    """Split a signed note into its text and its signature lines (each with its newline), checking the
    framing (size, control characters, the blank line, the line prefix) but no signature."""
    if not isinstance(note, str):
        raise CheckpointError("a note is text")
    raw = note.encode()
    if len(raw) > MAX_NOTE_BYTES:
        raise CheckpointError("the note is too large")
    if any(c < 0x20 and c != 0x0A for c in raw):
        raise CheckpointError("the note holds control characters")
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise CheckpointError("no blank line before the signatures")
    body, sig_block = note[: split + 1], note[split + 2:]
    lines = sig_block[:-1].split("\n")
    if not lines or len(lines) > MAX_SIGNATURES:
        raise CheckpointError("a note needs between 1 and 100 signature lines")
    if any(not line.startswith(SIGNATURE_PREFIX) for line in lines):
        raise CheckpointError("a signature line must start with an em dash and a space")
    return body, [line + "\n" for line in lines]


def add_signatures(note: str, lines: list[str]) -> str:
    """The note with more signature lines (e.g. witnesses' cosignatures) appended, each once."""
    body, present = signature_lines(note)
    extra = [line if line.endswith("\n") else line + "\n" for line in lines]
    merged = present + [line for line in dict.fromkeys(extra) if line not in present]
    return body + "\n" + "".join(merged)


def verify_note(note: str, name: str, public_key: Ed25519PublicKey) -> str:
    """Verify a signed note with the key `(name, public_key)`; return its text.

    Per the signed-note spec: lines of unknown keys are ignored (a witness's cosignature, a rotated key), a
    failing line of our key rejects the note, and at least one line of our key must verify.
    """
    body, lines = signature_lines(note)
    wanted = key_id(name, public_key)
    verified = False
    for line in lines:
        try:
            signer, b64 = line[len(SIGNATURE_PREFIX):-1].split(" ")
            blob = base64.b64decode(b64, validate=True)
        except (ValueError, binascii.Error):
            raise CheckpointError("a signature line is malformed") from None
        if not _NAME.fullmatch(signer) or len(blob) < 5:
            raise CheckpointError("a signature line is malformed")
        if signer != name or blob[:4] != wanted:
            continue  # another key (a witness, a rotated key): not ours to judge
        try:
            public_key.verify(blob[4:], body.encode())
        except InvalidSignature:
            raise CheckpointError(f"the signature of {name} does not verify") from None
        verified = True
    if not verified:
        raise CheckpointError(f"the note carries no signature of {name} (key {wanted.hex()})")
    return body


def parse_body(body: str) -> Checkpoint:
    lines = body[:-1].split("\n") if body.endswith("\n") else []
    if len(lines) < 3 or any(not line for line in lines):
        raise CheckpointError("a checkpoint has an origin, a size and a root, each on a non-empty line")
    origin, size, root_b64, *ext = lines
    if not _SIZE.fullmatch(size):
        raise CheckpointError("the tree size is not a decimal number without leading zeros")
    try:
        root = base64.b64decode(root_b64, validate=True)
    except binascii.Error:
        raise CheckpointError("the root hash is not base64") from None
    if len(root) != HASH_SIZE:
        raise CheckpointError("the root hash is not 32 bytes")
    return Checkpoint(origin, int(size), root, tuple(ext))
