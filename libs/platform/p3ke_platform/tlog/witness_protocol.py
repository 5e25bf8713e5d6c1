"""The C2SP `tlog-witness` protocol's messages: the `add-checkpoint` request body and the answers.

    POST <submission prefix>/add-checkpoint

    old <size the witness last cosigned, 0 at first>
    <base64 consistency proof hash, one per line, at most 63; none when old is 0>
                                        <- empty line
    <the checkpoint: a signed note>

Answers: 200 with one or more cosignature lines; 409 `text/x.tlog.size` with the size the witness knows
(the old size did not match it, or the same size came with another root); 404 an unknown origin; 403 no
signature of a trusted log key; 400 a malformed request or an old size above the checkpoint's; 422 a
consistency proof that does not verify. Both the log's client and the witness use these functions.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from p3ke_platform.tlog.merkle import HASH_SIZE

PATH = "/add-checkpoint"
SIZE_CONTENT_TYPE = "text/x.tlog.size"
MAX_PROOF_LINES = 63
MAX_BODY_BYTES = 16 * 1024
_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")


class ProtocolError(ValueError):
    """A request or an answer that does not follow the protocol (message says what)."""


@dataclass(frozen=True)
class AddCheckpoint:
    old_size: int
    proof: list[bytes]
    note: str

    def encode(self) -> bytes:
        if self.old_size == 0 and self.proof:
            raise ProtocolError("the proof must be empty when the old size is zero")
        lines = [f"old {self.old_size}", *(base64.b64encode(h).decode() for h in self.proof)]
        return ("".join(line + "\n" for line in lines) + "\n" + self.note).encode()


def parse_request(body: bytes) -> AddCheckpoint:
    if len(body) > MAX_BODY_BYTES:
        raise ProtocolError(f"the request is over {MAX_BODY_BYTES} bytes")
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise ProtocolError("the request is not UTF-8") from None
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise ProtocolError("no empty line between the old size and proof lines and the checkpoint")
    lines = head.split("\n")
    if not lines[0].startswith("old ") or not _SIZE.fullmatch(lines[0][4:]):
        raise ProtocolError("the first line must be 'old <decimal size>'")
    old = int(lines[0][4:])
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise ProtocolError(f"more than {MAX_PROOF_LINES} consistency proof lines")
    proof = []
    for line in lines[1:]:
        try:
            digest = base64.b64decode(line, validate=True)
        except binascii.Error:
            raise ProtocolError("a consistency proof line is not base64") from None
        if len(digest) != HASH_SIZE:
            raise ProtocolError("a consistency proof line is not a 32-byte hash")
        proof.append(digest)
    if old == 0 and proof:
        raise ProtocolError("the proof must be empty when the old size is zero")
    return AddCheckpoint(old, proof, note)


def encode_size(size: int) -> bytes:
    return f"{size}\n".encode()


def parse_size(body: bytes) -> int:
    text = body.decode(errors="replace")
    if not text.endswith("\n") or not _SIZE.fullmatch(text[:-1]):
        raise ProtocolError("a 409 answer's body must be a decimal size and a newline")
    return int(text[:-1])


def parse_cosignatures(body: bytes) -> list[str]:
    """The signature lines of a 200 answer (each with its newline)."""
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise ProtocolError("the answer is not UTF-8") from None
    if not text.endswith("\n") or len(body) > MAX_BODY_BYTES:
        raise ProtocolError("the answer must be signature lines, each ending in a newline")
    lines = [line + "\n" for line in text[:-1].split("\n")]
    if any(not line.startswith("— ") for line in lines):
        raise ProtocolError("every line of the answer must be a signature line")
    return lines
