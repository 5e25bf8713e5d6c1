"""C2SP tlog-cosignature v1 lines and the tlog-witness add-checkpoint messages: round trips, and the bytes checked
against the specs' definitions computed here independently (key id, signed message, line layout)."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from p3ke_platform.tlog.cosignature import Witness, check_quorum, cosign, cosignatures, verify_line
from p3ke_platform.tlog.merkle import MemoryTree, leaf_hash
from p3ke_platform.tlog.note import Checkpoint, CheckpointError, add_signatures, sign, verifier_key
from p3ke_platform.tlog.witness_protocol import (
    MAX_PROOF_LINES,
    AddCheckpoint,
    ProtocolError,
    encode_size,
    parse_cosignatures,
    parse_request,
    parse_size,
)

ORIGIN = "example.com/log"
NAME = "example.com/witness"


def raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@pytest.fixture
def log_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


@pytest.fixture
def witness_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))


def note_of(log_key: Ed25519PrivateKey, size: int = 5) -> str:
    tree = MemoryTree(leaf_hash(bytes([i])) for i in range(size))
    return sign(Checkpoint(ORIGIN, size, tree.root()), ORIGIN, log_key)


def test_a_cosignature_line_is_the_specs_bytes(log_key: Ed25519PrivateKey, witness_key: Ed25519PrivateKey) -> None:
    note = note_of(log_key)
    body = note[: note.index("\n\n") + 1]
    line = cosign(body, NAME, witness_key, timestamp=1_700_000_000)
    assert line.startswith(f"— {NAME} ") and line.endswith("\n")
    blob = base64.b64decode(line.rstrip("\n").split(" ")[2])
    assert len(blob) == 4 + 8 + 64
    assert blob[:4] == hashlib.sha256(NAME.encode() + b"\n\x04" + raw(witness_key)).digest()[:4]
    assert int.from_bytes(blob[4:12], "big") == 1_700_000_000
    witness_key.public_key().verify(blob[12:], b"cosignature/v1\ntime 1700000000\n" + body.encode())  # no raise
    witness = Witness(NAME, witness_key.public_key())
    key_b64 = base64.b64encode(bytes([4]) + raw(witness_key)).decode()
    assert witness.vkey == f"{NAME}+{blob[:4].hex()}+{key_b64}"
    assert Witness.parse(witness.vkey) == witness
    cosig = verify_line(body, line, witness)
    assert cosig is not None and cosig.timestamp == 1_700_000_000 and cosig.line == line


def test_cosignatures_in_a_note_and_the_quorum(log_key: Ed25519PrivateKey, witness_key: Ed25519PrivateKey) -> None:
    note = note_of(log_key)
    body = note[: note.index("\n\n") + 1]
    a = Witness(NAME, witness_key.public_key())
    b = Witness("other.example/w", Ed25519PrivateKey.generate().public_key())
    cosigned = add_signatures(note, [cosign(body, NAME, witness_key)])
    assert [c.witness for c in cosignatures(cosigned, [a, b])] == [a]
    assert len(check_quorum(cosigned, [a, b], 1)) == 1
    with pytest.raises(CheckpointError, match="cosigned by 1 of the 2 trusted witnesses"):
        check_quorum(cosigned, [a, b], 2)
    # another checkpoint under the same line: the cosignature does not cover it
    other = note_of(log_key, 6)
    moved = other + cosigned[len(note):]
    with pytest.raises(CheckpointError, match="does not verify"):
        cosignatures(moved, [a])
    # the log's own line is not a cosignature, even with the witness's name (another key type)
    assert cosignatures(note, [Witness(ORIGIN, log_key.public_key())]) == []


@pytest.mark.parametrize("vkey", [
    "nokey", "a+b+c", NAME + "+00000000+" + base64.b64encode(bytes([4]) + bytes(32)).decode(),
    verifier_key(NAME, Ed25519PrivateKey.generate().public_key()),  # a 0x01 (note) key, not 0x04
])
def test_bad_witness_keys_are_refused(vkey: str) -> None:
    with pytest.raises(CheckpointError):
        Witness.parse(vkey)


def test_cosign_refuses_what_is_not_a_checkpoint(witness_key: Ed25519PrivateKey) -> None:
    with pytest.raises(CheckpointError):
        cosign("just text\n", NAME, witness_key)
    with pytest.raises(CheckpointError):
        cosign(f"{ORIGIN}\n1\n{base64.b64encode(bytes(32)).decode()}\n", "bad name", witness_key)


def test_add_checkpoint_round_trips(log_key: Ed25519PrivateKey) -> None:
    tree = MemoryTree(leaf_hash(bytes([i])) for i in range(100))
    note = sign(Checkpoint(ORIGIN, 100, tree.root()), ORIGIN, log_key)
    for old in (0, 1, 37, 64, 100):
        proof = [] if old in (0, 100) else tree.consistency_proof(old, 100)
        request = AddCheckpoint(old, proof, note)
        body = request.encode()
        assert body.startswith(f"old {old}\n".encode())
        assert parse_request(body) == request
    assert AddCheckpoint(0, [], note).encode() == b"old 0\n\n" + note.encode()


@pytest.mark.parametrize(("body", "says"), [
    (b"old 0\n", "no empty line"),
    (b"old -1\n\nx", "old <decimal size>"),
    (b"old 007\n\nx", "old <decimal size>"),
    (b"old 0\n" + base64.b64encode(bytes(32)) + b"\n\nx", "proof must be empty"),
    (b"old 3\nnot base64!\n\nx", "not base64"),
    (b"old 3\n" + base64.b64encode(bytes(31)) + b"\n\nx", "32-byte hash"),
    (b"old 3\n" + (base64.b64encode(bytes(32)) + b"\n") * (MAX_PROOF_LINES + 1) + b"\nx", "more than 63"),
    (b"\xc3\x28", "not UTF-8"),
    (b"old 0\n\n" + b"x" * 16 * 1024, "over 16384 bytes"),
])
def test_malformed_requests_say_what_is_wrong(body: bytes, says: str) -> None:
    with pytest.raises(ProtocolError, match=says):
        parse_request(body)


def test_the_answers_round_trip() -> None:
    assert parse_size(encode_size(640)) == 640 and encode_size(0) == b"0\n"
    for bad in (b"640", b"0640\n", b"-1\n", b"six\n"):
        with pytest.raises(ProtocolError):
            parse_size(bad)
    lines = ["— a.example/w AAAA\n", "— b.example/w BBBB\n"]
    assert parse_cosignatures("".join(lines).encode()) == lines
    for bad in (b"", "— a.example/w AAAA".encode(), b"- a.example/w AAAA\n", b"\xff\n"):
        with pytest.raises(ProtocolError):
            parse_cosignatures(bad)
    with pytest.raises(ProtocolError, match="proof must be empty"):
        AddCheckpoint(0, [bytes(32)], "x").encode()
