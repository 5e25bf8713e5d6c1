"""Checkpoints in the C2SP signed-note format, checked against the Go reference (sumdb/note) example."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from p3ke_platform.tlog.note import (
    Checkpoint,
    CheckpointError,
    key_id,
    open_note,
    parse_verifier_key,
    sign,
    sign_note,
    verifier_key,
    verify_note,
)

# golang.org/x/mod/sumdb/note's documented example key and note (also in its tests).
VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
NOTE = TEXT + ("\n— PeterNeumann "
               "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n")


def _reference_key() -> Ed25519PrivateKey:
    seed = base64.b64decode(SKEY.split("+", 4)[4])
    assert seed[0] == 1
    return Ed25519PrivateKey.from_private_bytes(seed[1:])


def test_signing_and_key_encodings_match_the_go_reference_byte_for_byte() -> None:
    key = _reference_key()
    assert key_id("PeterNeumann", key.public_key()).hex() == "c74f20a3"
    assert verifier_key("PeterNeumann", key.public_key()) == VKEY
    assert sign_note(TEXT, "PeterNeumann", key) == NOTE  # Ed25519 is deterministic
    name, public = parse_verifier_key(VKEY)
    assert verify_note(NOTE, name, public) == TEXT


def test_checkpoint_round_trip_and_format() -> None:
    key = Ed25519PrivateKey.generate()
    root = bytes(range(32))
    note = sign(Checkpoint("example.com/log", 20852163, root), "example.com/log", key)
    text, sig = note.split("\n\n")
    assert text == f"example.com/log\n20852163\n{base64.b64encode(root).decode()}"
    assert sig.startswith("— example.com/log ") and sig.endswith("\n")
    blob = base64.b64decode(sig.split(" ")[2])
    assert len(blob) == 4 + 64 and blob[:4] == key_id("example.com/log", key.public_key())
    cp = open_note(note, "example.com/log", key.public_key())
    assert (cp.origin, cp.size, cp.root) == ("example.com/log", 20852163, root)


def test_unknown_signatures_are_ignored_but_ours_must_verify() -> None:
    ours, witness = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    note = sign(Checkpoint("log.example/a", 5, bytes(32)), "log.example/a", ours)
    cosigned = note + sign_note(Checkpoint("log.example/a", 5, bytes(32)).body(), "witness.example",
                                witness).split("\n\n")[1]
    assert open_note(cosigned, "log.example/a", ours.public_key()).size == 5
    assert open_note(cosigned, "witness.example", witness.public_key()).size == 5
    with pytest.raises(CheckpointError, match="no signature"):
        open_note(note, "log.example/a", witness.public_key())


@pytest.mark.parametrize("mangle", [
    lambda n: n.replace("\n5\n", "\n6\n"),  # another size
    lambda n: n.replace("AAAA", "AAAB", 1),  # another root
    lambda n: n.replace("— ", "-- "),  # not an em dash
    lambda n: n.replace("\n\n", "\n"),  # no blank line
    lambda n: n[:-1],  # no final newline
    lambda n: n.replace("log.example/a\n5", "log.example/b\n5"),  # another origin in the text
    lambda n: n[: n.rindex(" ") + 1] + base64.b64encode(b"\x00" * 68).decode() + "\n",  # zero signature
    lambda n: n.replace("\n5\n", "\n05\n"),  # leading zero
    lambda n: n.replace("log.example/a\n", "log.example/a\r\n", 1),  # control character
])
def test_tampered_notes_are_rejected(mangle) -> None:
    key = Ed25519PrivateKey.generate()
    note = sign(Checkpoint("log.example/a", 5, bytes(32)), "log.example/a", key)
    with pytest.raises(CheckpointError):
        open_note(mangle(note), "log.example/a", key.public_key())


def test_bad_verifier_keys_are_rejected() -> None:
    for bad in [VKEY.replace("c74f20a3", "c74f20a4"), VKEY[:-4], "PeterNeumann+c74f20a3", "a b+00+AA==",
                VKEY.replace("+AR", "+AZ")]:
        with pytest.raises(CheckpointError):
            parse_verifier_key(bad)
