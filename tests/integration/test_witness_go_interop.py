"""Interoperability of the witnessed audit log with an independent Go implementation, both ways (issue #16).

The Go side is torchwood v0.6.1's `litewitness` (a C2SP tlog-witness server) and `witnessctl`, and
`p3ke-interop` (x/mod's sumdb/note, transparency-dev/formats' cosignature/v1 verifier, torchwood's
cosignature signer), built from tests/interop/go by tests/integration/helpers/go_interop.py. The log is a
real audit log on PostgreSQL; litewitness is a real process reached over HTTP.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from p3ke_audit.adapters.keys import Signer
from p3ke_audit.adapters.tree_store import StoredCheckpoint, TreeStore
from p3ke_audit.service_layer.proofs import consistency, latest_checkpoint
from p3ke_audit.service_layer.witnessing import current_state
from p3ke_platform.devstack.postgres import PostgresCluster
from p3ke_platform.service import Runtime
from p3ke_platform.tlog.cosignature import Witness, check_quorum, cosign, cosignatures
from p3ke_platform.tlog.merkle import MemoryTree
from p3ke_platform.tlog.note import Checkpoint, CheckpointError, add_signatures, sign, signature_lines
from p3ke_platform.tlog.witness_protocol import (
    PATH,
    SIZE_CONTENT_TYPE,
    AddCheckpoint,
    encode_size,
    parse_cosignatures,
    parse_size,
)
from tests.conftest import new_postgres_database
from tests.integration.audit.helpers import access, audit_runtime, deliver, make_log
from tests.integration.helpers.go_interop import (
    GoTools,
    LiteWitness,
    go_cosign,
    go_tools,
    go_vkey,
    verify_cosigned,
    write_key,
)
from tests.integration.helpers.processes import ApiProcess, migrate

WITNESS_NAME = "kemnaker.example/litewitness"


@pytest.fixture(scope="session")
def tools() -> GoTools:
    return go_tools()


def witnessed_runtime(database_url: str, data_dir: Path, witnesses: list[Witness], urls: list[str]) -> Runtime:
    """An audit log that signs checkpoints only when a test asks, and asks these witnesses (url each)."""
    return audit_runtime(database_url, data_dir, audit_checkpoint_every=100_000, audit_checkpoint_seconds=3600,
                         audit_witnesses=[{"vkey": w.vkey, "url": u} for w, u in zip(witnesses, urls, strict=True)])


@pytest.fixture
def log(postgres_url: str, tmp_path: Path) -> Iterator[Runtime]:
    """A real audit log on PostgreSQL, no witness configured."""
    runtime = witnessed_runtime(postgres_url, tmp_path / "audit", [], [])
    try:
        yield runtime
    finally:
        runtime.engine.dispose()


def signer(runtime: Runtime) -> Signer:
    return runtime.context.signer


def first_checkpoint(runtime: Runtime, n: int) -> StoredCheckpoint:
    """A log of n entries and its checkpoint (the appender signs the very first head by itself)."""
    make_log(runtime, n)
    runtime.context.issue_checkpoint()
    with runtime.context.sessions() as session:
        cp = latest_checkpoint(session)
    assert cp is not None and cp.tree_size == n
    return cp


def grow(runtime: Runtime, start: int, stop: int) -> StoredCheckpoint:
    """Append entries start..stop-1 and sign the checkpoint of the new size."""
    assert deliver(runtime, [access(i) for i in range(start, stop)]) == []
    cp = runtime.context.issue_checkpoint()
    assert cp is not None and cp.tree_size == stop
    return cp


def proof(runtime: Runtime, old: int, new: int) -> list[bytes]:
    with runtime.context.sessions() as session:
        return consistency(session, old, new)


def add_checkpoint(witness: LiteWitness, old: int, hashes: list[bytes], note: str) -> httpx.Response:
    return httpx.post(witness.url + PATH, content=AddCheckpoint(old, hashes, note).encode(), timeout=10)


def cosigned(witness: LiteWitness, old: int, hashes: list[bytes], note: str) -> str:
    """The note with litewitness's cosignature, which must be one framed signature line."""
    answer = add_checkpoint(witness, old, hashes, note)
    assert answer.status_code == 200, (answer.status_code, answer.text)
    lines = parse_cosignatures(answer.content)
    assert len(lines) == 1 and "".join(lines).encode() == answer.content
    assert lines[0].startswith(f"— {WITNESS_NAME} ")
    return add_signatures(note, lines)


def flip(line: str, byte: int) -> str:
    """`line` with one bit changed in byte `byte` of its base64 blob (0-3 key id, 4-11 time, 12- signature)."""
    head, b64 = line.rstrip("\n").rsplit(" ", 1)
    blob = bytearray(base64.b64decode(b64))
    blob[byte] ^= 0x01
    return f"{head} {base64.b64encode(bytes(blob)).decode()}\n"


def forged(runtime: Runtime, size: int) -> str:
    """A checkpoint of `size` signed with the log's own key over another history (a fork)."""
    other = MemoryTree()
    for i in range(size):
        other.append(f"rewritten entry {i}".encode())
    s = signer(runtime)
    return sign(Checkpoint(s.name, size, other.root()), s.name, s.private_key)


# 1. litewitness cosigns the project's checkpoints; the project's verifier accepts them


def test_litewitness_cosigns_the_growing_audit_log_and_our_verifier_accepts_it(
        log: Runtime, tools: GoTools, tmp_path: Path) -> None:
    cp1 = first_checkpoint(log, 10)
    s = signer(log)
    with LiteWitness(tools, tmp_path / "lw", WITNESS_NAME, [(s.name, s.verifier_key)]) as lw:
        # the same verifier key, computed by litewitness, torchwood's library and p3ke_platform
        assert lw.logged_vkey() == go_vkey(tools, lw.key_file, WITNESS_NAME) == lw.witness.vkey
        trusted = [Witness.parse(lw.logged_vkey())]

        before = int(time.time())
        note1 = cosigned(lw, 0, [], cp1.note)
        [cosig] = check_quorum(note1, trusted, 1)
        assert before <= cosig.timestamp <= int(time.time())

        cp2 = grow(log, 10, 25)
        note2 = cosigned(lw, 10, proof(log, 10, 25), cp2.note)
        assert [c.witness for c in check_quorum(note2, trusted, 1)] == trusted

        cp3 = grow(log, 25, 64)  # a proof of several hashes, a perfect subtree at the end
        note3 = cosigned(lw, 25, proof(log, 25, 64), cp3.note)
        assert len(check_quorum(note3, trusted, 1)) == 1

    # and Go's own verifier agrees (log signature with x/mod, cosignature with formats)
    done = verify_cosigned(tools, note3, s.verifier_key, [lw.witness.vkey])
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:2] == [f"origin {s.name}", "size 64"]
    assert done.stdout.splitlines()[2].startswith(f"cosigned {WITNESS_NAME} ")


def test_a_changed_bit_in_litewitness_cosignature_or_the_checkpoint_is_refused(
        log: Runtime, tools: GoTools, tmp_path: Path) -> None:
    cp = first_checkpoint(log, 12)
    s = signer(log)
    with LiteWitness(tools, tmp_path / "lw", WITNESS_NAME, [(s.name, s.verifier_key)]) as lw:
        note = cosigned(lw, 0, [], cp.note)
    trusted = [lw.witness]
    body, (log_line, line) = signature_lines(note)
    assert len(check_quorum(note, trusted, 1)) == 1

    for byte, what in ((20, "signature"), (11, "timestamp"), (75, "last signature byte")):
        tampered = body + "\n" + log_line + flip(line, byte)
        with pytest.raises(CheckpointError, match="does not verify"):
            cosignatures(tampered, trusted)
        done = verify_cosigned(tools, tampered, s.verifier_key, [lw.witness.vkey])
        assert done.returncode == 1 and "invalid signature" in done.stderr, (what, done.stderr)

    # a changed key id makes it another key's line: not counted, so no quorum
    other_key = body + "\n" + log_line + flip(line, 0)
    assert cosignatures(other_key, trusted) == []
    with pytest.raises(CheckpointError, match="cosigned by 0 of the 1"):
        check_quorum(other_key, trusted, 1)

    # the same lines under a checkpoint with one bit changed (size 12 -> 13): the cosignature no longer covers it
    changed = body.replace("\n12\n", "\n13\n", 1) + "\n" + log_line + line
    with pytest.raises(CheckpointError, match="does not verify"):
        cosignatures(changed, trusted)
    assert verify_cosigned(tools, changed, s.verifier_key, [lw.witness.vkey]).returncode == 1


def test_litewitness_refuses_our_wrong_requests_as_the_protocol_says(
        log: Runtime, tools: GoTools, tmp_path: Path) -> None:
    cp1 = first_checkpoint(log, 10)
    s = signer(log)
    with LiteWitness(tools, tmp_path / "lw", WITNESS_NAME, [(s.name, s.verifier_key)]) as lw:
        cosigned(lw, 0, [], cp1.note)
        cp2 = grow(log, 10, 25)
        good = proof(log, 10, 25)

        # a wrong old size: 409, text/x.tlog.size, the witness's size in our byte format
        answer = add_checkpoint(lw, 0, [], cp2.note)
        assert answer.status_code == 409
        assert answer.headers["content-type"] == SIZE_CONTENT_TYPE
        assert answer.content == encode_size(10) and parse_size(answer.content) == 10

        # a consistency proof with one bit changed: 422
        bad = [good[0][:-1] + bytes([good[0][-1] ^ 1]), *good[1:]]
        assert add_checkpoint(lw, 10, bad, cp2.note).status_code == 422
        # our own key signing another history of 25 entries (the rewrite attack): 422 with the real proof
        assert add_checkpoint(lw, 10, good, forged(log, 25)).status_code == 422
        # same size, another root: litewitness v0.6.1 answers 422 (its empty proof does not verify)
        assert add_checkpoint(lw, 10, [], forged(log, 10)).status_code == 422
        # an old size above the checkpoint's: 400
        assert add_checkpoint(lw, 30, good, cp2.note).status_code == 400
        # the log's origin signed with another key: 403
        stranger = sign(Checkpoint(s.name, 25, cp2.root_hash), s.name, Ed25519PrivateKey.generate())
        assert add_checkpoint(lw, 10, good, stranger).status_code == 403
        # a log litewitness does not know: 403 in litewitness v0.6.1 (the C2SP text says 404)
        unknown = sign(Checkpoint("other.example/log", 25, cp2.root_hash), "other.example/log",
                       Ed25519PrivateKey.generate())
        assert add_checkpoint(lw, 10, good, unknown).status_code == 403

        # none of the refusals moved the witness: the right request is still cosigned
        assert len(check_quorum(cosigned(lw, 10, good, cp2.note), [lw.witness], 1)) == 1


# 2. the project's cosignatures verify with Go; torchwood's cosignatures verify with ours


def test_our_cosignatures_verify_with_go_and_a_changed_bit_fails_there(
        log: Runtime, tools: GoTools, tmp_path: Path) -> None:
    cp = first_checkpoint(log, 9)
    s = signer(log)
    body, _ = signature_lines(cp.note)
    keys = {name: write_key(tmp_path / f"{i}.pem") for i, name in enumerate(("kemnaker.example/witness",
                                                                            "inspektorat.example/witness"))}
    witnesses = [Witness(name, key.public_key()) for name, key in keys.items()]
    for i, w in enumerate(witnesses):  # our verifier key is the one torchwood derives
        assert go_vkey(tools, tmp_path / f"{i}.pem", w.name) == w.vkey
    lines = [cosign(body, name, key, timestamp=1767225600 + i) for i, (name, key) in enumerate(keys.items())]
    note = add_signatures(cp.note, lines)

    done = verify_cosigned(tools, note, s.verifier_key, [w.vkey for w in witnesses])
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"origin {s.name}", "size 9", "cosigned kemnaker.example/witness 1767225600",
                                        "cosigned inspektorat.example/witness 1767225601"]

    tampered = add_signatures(cp.note, [lines[0], flip(lines[1], 40)])
    done = verify_cosigned(tools, tampered, s.verifier_key, [w.vkey for w in witnesses])
    assert done.returncode == 1 and "invalid signature" in done.stderr
    # a witness whose line is missing is named
    done = verify_cosigned(tools, add_signatures(cp.note, lines[:1]), s.verifier_key, [w.vkey for w in witnesses])
    assert done.returncode == 1 and "no verified cosignature of inspektorat.example/witness" in done.stderr
    # our cosignature of another checkpoint (a fork of 9 entries) does not verify on this one
    fork_body, _ = signature_lines(forged(log, 9))
    misplaced = add_signatures(cp.note, [cosign(fork_body, witnesses[0].name, keys[witnesses[0].name])])
    done = verify_cosigned(tools, misplaced, s.verifier_key, [witnesses[0].vkey])
    assert done.returncode == 1 and "invalid signature" in done.stderr


def test_torchwood_cosignatures_verify_with_ours(log: Runtime, tools: GoTools, tmp_path: Path) -> None:
    cp = first_checkpoint(log, 5)
    key = write_key(tmp_path / "tw.pem")
    ours = Ed25519PrivateKey.generate()
    witness, mine = Witness("torchwood.example/w", key.public_key()), Witness("p3ke.example/w", ours.public_key())

    before = int(time.time())
    line = go_cosign(tools, tmp_path / "tw.pem", witness.name, cp.note)
    body, _ = signature_lines(cp.note)
    note = add_signatures(cp.note, [line, cosign(body, mine.name, ours)])
    found = {c.witness.name: c for c in check_quorum(note, [witness, mine], 2)}
    assert found[witness.name].line == line and before <= found[witness.name].timestamp <= int(time.time())
    with pytest.raises(CheckpointError, match="does not verify"):
        cosignatures(add_signatures(cp.note, [flip(line, 30)]), [witness])


# 3. the project's own parts against the Go ones: the log's witnessing client, the witness service


def test_the_logs_witnessing_client_gets_litewitness_cosignatures(
        postgres_url: str, tools: GoTools, tmp_path: Path) -> None:
    lw = LiteWitness(tools, tmp_path / "lw", WITNESS_NAME, [])
    log = witnessed_runtime(postgres_url, tmp_path / "audit", [lw.witness], [lw.url])
    try:
        s = signer(log)
        lw.logs.append((s.name, s.verifier_key))
        with lw:
            first_checkpoint(log, 10)
            [first] = log.context.witness_now()
            assert (first.status, first.tree_size, first.cosigned_size) == ("ok", 10, 10), first
            with log.context.sessions() as session:
                [line] = TreeStore(session).cosignature_lines(10)
            assert line.startswith(f"— {WITNESS_NAME} ")

            grow(log, 10, 25)  # the client sends old 10 and its consistency proof
            [second] = log.context.witness_now()
            assert (second.status, second.cosigned_size) == ("ok", 25), second

            # litewitness learns size 40 from elsewhere; at 50 the client's old 25 gets a 409 saying 40, and
            # the client retries from 40 with a proof from there
            cp40 = grow(log, 25, 40)
            cosigned(lw, 25, proof(log, 25, 40), cp40.note)
            grow(log, 40, 50)
            [third] = log.context.witness_now()
            assert (third.status, third.witness_size, third.cosigned_size) == ("ok", 40, 50), third

            with log.context.sessions() as session:
                latest = latest_checkpoint(session)
                assert latest is not None
                note = TreeStore(session).cosigned_note(latest)
            assert len(check_quorum(note, [lw.witness], 1)) == 1
            done = verify_cosigned(tools, note, s.verifier_key, [lw.logged_vkey()])
            assert done.returncode == 0 and "size 50" in done.stdout, done.stderr

            # litewitness stops trusting the log's key: 403, said plainly, recorded
            lw.witnessctl("del-key", "-db", str(lw.db), "-origin", s.name, "-key", s.verifier_key)
            grow(log, 50, 51)
            [refused] = log.context.witness_now()
            assert refused.status == "refused" and "HTTP 403" in (refused.error or ""), refused
            with log.context.sessions() as session:
                [state] = current_state(session)
            assert (state["status"], state["cosigned_size"]) == ("refused", 50)
    finally:
        log.engine.dispose()


def test_the_witness_services_cosignatures_verify_with_go(
        postgres: PostgresCluster | str, postgres_url: str, tools: GoTools, tmp_path: Path) -> None:
    """The log asks two witnesses, the project's `p3ke witness` and litewitness; Go verifies both cosignatures."""
    ours_key = tmp_path / "witness.pem"
    ours = Witness("kemnaker.example/p3ke-witness", write_key(ours_key).public_key())
    lw = LiteWitness(tools, tmp_path / "lw", WITNESS_NAME, [])
    witness_api = ApiProcess("p3ke_witness", "witness", tmp_path / "witness.log", {})
    log = witnessed_runtime(postgres_url, tmp_path / "audit", [ours, lw.witness], [witness_api.url, lw.url])
    try:
        s = signer(log)
        lw.logs.append((s.name, s.verifier_key))
        witness_api.env.update(P3KE_DATABASE_URL=new_postgres_database(postgres),
                               P3KE_DATA_DIR=str(tmp_path / "witness"), P3KE_WITNESS_NAME=ours.name,
                               P3KE_WITNESS_KEY_FILE=str(ours_key), P3KE_WITNESS_LOGS=json.dumps([s.verifier_key]))
        migrate("p3ke_witness", witness_api.env)
        with lw, witness_api:
            first_checkpoint(log, 10)
            assert [r.status for r in log.context.witness_now()] == ["ok", "ok"]
            grow(log, 10, 33)
            assert [(r.status, r.cosigned_size) for r in log.context.witness_now()] == [("ok", 33), ("ok", 33)]
            with log.context.sessions() as session:
                latest = latest_checkpoint(session)
                assert latest is not None
                note = TreeStore(session).cosigned_note(latest)

            # the same requests to both witnesses: the same answers, byte for byte where the spec fixes them
            stale = [httpx.post(url + PATH, content=AddCheckpoint(10, proof(log, 10, 33), latest.note).encode(),
                                timeout=10) for url in (witness_api.url, lw.url)]
            assert [(a.status_code, a.headers["content-type"], a.content) for a in stale] == \
                [(409, SIZE_CONTENT_TYPE, b"33\n")] * 2
            cp = grow(log, 33, 40)
            fresh = [httpx.post(url + PATH, content=AddCheckpoint(33, proof(log, 33, 40), cp.note).encode(),
                                timeout=10) for url in (witness_api.url, lw.url)]
            assert [a.status_code for a in fresh] == [200, 200]
            for answer, witness in zip(fresh, (ours, lw.witness), strict=True):
                assert answer.headers["content-type"].startswith("text/plain")
                [line] = parse_cosignatures(answer.content)
                assert line.encode() == answer.content and line.startswith(f"— {witness.name} ")
                assert len(base64.b64decode(line.split()[-1])) == 4 + 8 + 64
                assert cosignatures(add_signatures(cp.note, [line]), [witness])
    finally:
        log.engine.dispose()

    assert len(check_quorum(note, [ours, lw.witness], 2)) == 2
    done = verify_cosigned(tools, note, s.verifier_key, [ours.vkey, lw.witness.vkey])
    assert done.returncode == 0, done.stderr
    assert [line.split()[1] for line in done.stdout.splitlines()[2:]] == [ours.name, WITNESS_NAME]
    body, lines = signature_lines(note)
    [our_line] = [line for line in lines if line.startswith(f"— {ours.name} ")]
    tampered = body + "\n" + "".join(flip(line, 50) if line == our_line else line for line in lines)
    done = verify_cosigned(tools, tampered, s.verifier_key, [ours.vkey])
    assert done.returncode == 1 and "invalid signature" in done.stderr
