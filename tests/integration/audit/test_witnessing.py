"""The log asks a real witness (`python -m p3ke_witness api`, its own database) for cosignatures over real HTTP,
stores and serves them, shows when it is not witnessed, and refuses to sign against what a witness cosigned.

The log runs on SQLite and PostgreSQL (the `database_url` fixture); the witness on its own SQLite file.
"""

from __future__ import annotations

import html
import re
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from p3ke_audit.adapters.tree_store import TreeStore
from p3ke_audit.service_layer import proofs
from p3ke_audit.service_layer.checkpoints import InconsistentTree, sign_head
from p3ke_audit.service_layer.witnessing import current_state
from p3ke_platform.api import create_app
from p3ke_platform.auth import DevIssuer
from p3ke_platform.service import Runtime
from p3ke_platform.tlog.cosignature import Witness, check_quorum
from p3ke_platform.tlog.merkle import Frontier, MemoryTree
from p3ke_platform.tlog.note import open_note, parse_verifier_key
from tests.integration.audit.helpers import access, as_superuser, audit_runtime, deliver, make_log
from tests.integration.helpers.processes import wait_for
from tests.integration.helpers.witness_process import WitnessProcess

NAME = "kemnaker.test/witness"  # the WitnessProcess default


@pytest.fixture
def witness(tmp_path: Path) -> WitnessProcess:
    return WitnessProcess(tmp_path)


@pytest.fixture
def log(database_url: str, tmp_path: Path, witness: WitnessProcess) -> Iterator[Runtime]:
    """A log that asks `witness` (its checkpoints signed only when a test asks, after the first)."""
    runtime = audit_runtime(database_url, tmp_path / "audit", audit_checkpoint_every=100_000,
                            audit_checkpoint_seconds=3600, audit_witnesses=[witness.endpoint()],
                            audit_witness_timeout_s=5, audit_witness_retry_s=0.3)
    witness.trust(runtime.context.signer.verifier_key)
    try:
        yield runtime
    finally:
        runtime.engine.dispose()


def grow(runtime: Runtime, start: int, end: int) -> int:
    """Entries start..end-1 appended and a checkpoint of `end` signed."""
    assert deliver(runtime, [access(i) for i in range(start, end)]) == []
    cp = runtime.context.issue_checkpoint()
    assert cp is not None and cp.tree_size == end
    return end


def auditor(runtime: Runtime) -> tuple[TestClient, dict[str, str]]:
    token = DevIssuer(runtime.settings).mint("dpo-1", "kemnaker", ["compliance-auditor"])
    client = TestClient(create_app(runtime))
    client.cookies.set("p3ke_audit_token", token, path="/ui")
    return client, {"Authorization": f"Bearer {token}"}


def page_text(client: TestClient, **params: str) -> str:
    """The compliance page as a person reads it (tags and entities gone)."""
    page = client.get("/ui", params=params)
    assert page.status_code == 200, page.text
    return html.unescape(re.sub(r"<[^>]+>", "", page.text))


def metric(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_checkpoints_get_cosigned_stored_and_served(log: Runtime, witness: WitnessProcess) -> None:
    client, auth = auditor(log)
    with witness:
        make_log(log, 10, batch=10)  # the appender signs the very first head itself
        [first] = log.context.witness_now()
        assert (first.status, first.tree_size, first.cosigned_size, first.stored, first.contacted) == \
            ("ok", 10, 10, 1, True), first
        [again] = log.context.witness_now()  # nothing new: no request at all
        assert (again.status, again.contacted, again.stored) == ("ok", False, 0)
        grow(log, 10, 25)  # sent with old 10 and the consistency proof 10 -> 25
        [second] = log.context.witness_now()
        assert (second.status, second.cosigned_size, second.stored) == ("ok", 25, 1), second

    # the note carries the cosignature line, which verifies with the witness's key (and the log's signature too)
    note = client.get("/v1/checkpoints/latest", params={"format": "note"}, headers=auth).text
    name, public = parse_verifier_key(client.get("/v1/public-key", headers=auth).json()["verifier_key"])
    assert open_note(note, name, public).size == 25
    [cosig] = check_quorum(note, [witness.witness], 1)
    assert cosig.witness.name == NAME and abs(cosig.timestamp - time.time()) < 120
    assert note.count("\n— ") == 2

    latest = client.get("/v1/checkpoints/latest", headers=auth).json()
    assert latest["witnessed"] is True and latest["tree_size"] == 25
    assert [(c["witness"], c["key_id"]) for c in latest["cosignatures"]] == [(NAME, witness.witness.key_id.hex())]
    listed = client.get("/v1/checkpoints", headers=auth).json()
    assert [(c["tree_size"], c["witnessed"]) for c in listed] == [(10, True), (25, True)]
    assert client.get("/v1/checkpoints/latest", params={"format": "xml"}, headers=auth).status_code == 422

    status = client.get("/v1/witnesses", headers=auth).json()
    assert {k: status[k] for k in ("quorum", "tree_size", "latest_checkpoint_size", "latest_witnessed_size",
                                   "unwitnessed_entries", "latest_witnessed_by")} == {
        "quorum": 1, "tree_size": 25, "latest_checkpoint_size": 25, "latest_witnessed_size": 25,
        "unwitnessed_entries": 0, "latest_witnessed_by": [NAME]}
    [w] = status["witnesses"]
    assert (w["name"], w["vkey"], w["url"], w["status"], w["cosigned_size"], w["witness_size"], w["last_error"]) == \
        (NAME, witness.witness.vkey, witness.url, "ok", 25, 25, None)
    assert w["last_success_at"] == w["last_attempt_at"] is not None
    integrity = client.get("/v1/integrity", headers=auth).json()
    assert (integrity["witnessed"], integrity["latest_witnessed_size"], integrity["unwitnessed_entries"]) == \
        (True, 25, 0)

    page = page_text(client)
    assert "Kesaksian (witness)" in page and "Terakhir disaksikan: checkpoint 25 · " in page
    assert f"· oleh {NAME}" in page and "Semua entri telah disaksikan." in page and "Kuorum: 1 dari 1 saksi" in page
    assert "aktif; terakhir menandatangani checkpoint 25" in page
    assert "Every entry is witnessed." in page_text(client, lang="en")


def test_a_witness_down_shows_and_the_job_catches_up_when_it_returns(log: Runtime, witness: WitnessProcess) -> None:
    client, auth = auditor(log)
    with witness:
        make_log(log, 10, batch=10)
        assert [r.status for r in log.context.witness_now()] == ["ok"]
    assert metric("p3ke_audit_witness_up", witness=NAME) == 1

    grow(log, 10, 20)  # the witness is down
    [down] = log.context.witness_now()
    assert (down.status, down.cosigned_size, down.stored) == ("unreachable", 10, 0)
    assert "tidak dapat dihubungi" in (down.error or "")
    assert metric("p3ke_audit_witness_up", witness=NAME) == 0
    assert metric("p3ke_audit_unwitnessed_entries") == 10
    grow(log, 20, 26)
    log.context.witness_now()
    assert metric("p3ke_audit_unwitnessed_entries") == 16

    status = client.get("/v1/witnesses", headers=auth).json()
    assert (status["latest_witnessed_size"], status["unwitnessed_entries"]) == (10, 16)
    [w] = status["witnesses"]
    assert (w["status"], w["cosigned_size"]) == ("unreachable", 10) and w["last_success_at"] < w["last_attempt_at"]
    latest = client.get("/v1/checkpoints/latest", headers=auth).json()
    assert (latest["witnessed"], latest["cosignatures"]) == (False, [])
    assert client.get("/v1/integrity", headers=auth).json()["witnessed"] is False
    page = page_text(client)
    assert "16 entri terbaru belum disaksikan." in page and "Terakhir disaksikan: checkpoint 10" in page
    assert re.search(r"tidak dapat dihubungi sejak \d{1,2} \w{3} 20\d\d \d\d:\d\d WIB", page)  # its last success
    assert "The newest 16 entries are not yet witnessed." in page_text(client, lang="en")

    # it comes back: the API process's audit-witness job (jobs run in the API process) gets the cosignature
    with witness, TestClient(create_app(log)):
        def cosigned(size: int) -> bool:
            with log.sessions() as session:
                [state] = current_state(session)
            return state["status"] == "ok" and state["cosigned_size"] == size

        wait_for(lambda: cosigned(26), 30, "the audit-witness job to get checkpoint 26 cosigned")
        grow(log, 26, 30)  # signed in this process: the job is woken at once
        wait_for(lambda: cosigned(30), 30, "checkpoint 30 cosigned")
    assert metric("p3ke_audit_witness_up", witness=NAME) == 1
    assert metric("p3ke_audit_unwitnessed_entries") == 0
    assert client.get("/v1/witnesses", headers=auth).json()["unwitnessed_entries"] == 0


def test_refusals_are_recorded_precisely(database_url: str, tmp_path: Path) -> None:
    """A witness that does not know the log (404), one whose answer carries another key's line, and a log that
    shrank below what the witness cosigned: each named, counted and shown."""
    stranger = WitnessProcess(tmp_path, "inspektorat.test/witness")
    impostor = WitnessProcess(tmp_path, "kemnaker.test/impostor")  # answers with its own key, not the configured one
    configured = Witness(impostor.witness.name, Ed25519PrivateKey.generate().public_key())
    runtime = audit_runtime(database_url, tmp_path / "audit", audit_checkpoint_every=100_000,
                            audit_checkpoint_seconds=3600, audit_witness_quorum=1, audit_witnesses=[
                                stranger.endpoint(), {"vkey": configured.vkey, "url": impostor.url}])
    other_log = Ed25519PrivateKey.generate().public_key()
    from p3ke_platform.tlog.note import verifier_key

    stranger.trust(verifier_key("another.test/log", other_log))
    impostor.trust(runtime.context.signer.verifier_key)
    before = metric("p3ke_audit_witness_refusals_total", witness=stranger.witness.name, reason="unknown-origin") or 0
    try:
        with stranger, impostor:
            make_log(runtime, 8, batch=8)
            unknown, wrong_key = runtime.context.witness_now()
        assert (unknown.status, unknown.cosigned_size) == ("refused", 0)
        assert "saksi tidak mengenal log ini" in (unknown.error or "") and "HTTP 404" in (unknown.error or "")
        assert metric("p3ke_audit_witness_refusals_total", witness=stranger.witness.name,
                      reason="unknown-origin") == before + 1
        assert (wrong_key.status, wrong_key.stored) == ("refused", 0)
        assert "tidak memuat cosignature dengan kunci yang dikonfigurasi" in (wrong_key.error or "")
        with runtime.sessions() as session:
            assert TreeStore(session).cosignature_lines(8) == []
            states = {s["name"]: s for s in current_state(session)}
        assert states[stranger.witness.name]["status"] == "refused" and states[configured.name]["last_success_at"] \
            is None
        page = page_text(auditor(runtime)[0])
        assert "Belum pernah disaksikan oleh kuorum saksi." in page and "menolak: saksi tidak mengenal log ini" in page
    finally:
        runtime.engine.dispose()


def test_a_log_that_shrank_and_a_witness_that_went_back(log: Runtime, witness: WitnessProcess) -> None:
    with witness:
        make_log(log, 10, batch=10)
        assert [r.status for r in log.context.witness_now()] == ["ok"]
    saved = witness.db.with_suffix(".at10")
    shutil.copy(witness.db, saved)  # a backup of the witness's database, taken while it had cosigned 10
    with witness:
        grow(log, 10, 20)
        assert [r.cosigned_size for r in log.context.witness_now()] == [20]

    # the witness is restored from its backup: it knows 10, though it cosigned 20 for us. The log says so,
    # counts it, and brings it forward again (the checkpoint still extends 20, which it had cosigned)
    shutil.copy(saved, witness.db)
    with witness:
        grow(log, 20, 30)
        [behind] = log.context.witness_now()
    assert (behind.status, behind.witness_size, behind.cosigned_size, behind.stored) == ("behind", 10, 30, 1), behind
    assert "saksi hanya mengenal ukuran 10, padahal telah menandatangani checkpoint 20" in (behind.error or "")
    assert (metric("p3ke_audit_witness_refusals_total", witness=NAME, reason="witness-rollback") or 0) >= 1

    # the log shrinks: checkpoint 30 (cosigned) disappears. The witness is shown the smaller checkpoint anyway
    as_superuser(log, "DELETE FROM audit_checkpoints WHERE tree_size = 30")
    with witness:
        [shrunk] = log.context.witness_now()
    assert (shrunk.status, shrunk.tree_size, shrunk.cosigned_size) == ("refused", 20, 30), shrunk
    assert "saksi telah melihat checkpoint 30, tetapi checkpoint terbaru log ini 20" in (shrunk.error or "")
    with log.sessions() as session:
        [state] = current_state(session)
    assert (state["status"], state["cosigned_size"]) == ("refused", 30)


def _head(runtime: Runtime) -> tuple[Any, TreeStore, Frontier]:
    session = runtime.sessions()
    store = TreeStore(session)
    store.lock()
    return session, store, Frontier.load(store.size(), store.lookup)


def test_the_log_does_not_sign_against_a_cosigned_checkpoint(log: Runtime, witness: WitnessProcess) -> None:
    with witness:
        make_log(log, 10, batch=10)
        grow(log, 10, 20)
        assert [r.cosigned_size for r in log.context.witness_now()] == [20]
    assert deliver(log, [access(i) for i in range(20, 25)]) == []
    signer, witnesses = log.context.signer, [witness.witness]

    # entry 3 rewritten and the tree rebuilt over it: whatever the latest own checkpoint (none, here), the head
    # must extend checkpoint 20, which the witness cosigned
    with log.sessions() as session:
        leaves = [h for _, h in sorted(TreeStore(session).lookup([(0, i) for i in range(25)]).items())]
    leaves[3] = bytes(32)
    tree = MemoryTree(leaves)
    nodes = tree.lookup([(level, 3 >> level) for level in range(1, 5)])
    as_superuser(log, "UPDATE audit_entries SET leaf_hash = :leaf WHERE leaf_index = 3",
                 *(f"UPDATE audit_tree_nodes SET hash = :h{level} WHERE level = {level} AND idx = {idx}"
                   for level, idx in nodes),
                 params={"leaf": leaves[3], **{f"h{level}": h for (level, _), h in nodes.items()}})
    session, store, frontier = _head(log)
    with session, pytest.raises(InconsistentTree, match="checkpoint 25 tidak konsisten dengan checkpoint 20 yang "
                                                        f"disaksikan {NAME}"):
        assert frontier.root() == tree.root()
        sign_head(session, store, signer, frontier, None, datetime.now(UTC), witnesses)

    # the attacker deletes the checkpoints (not the cosignatures): the log refuses to sign anything, since it
    # can no longer show that its head extends the cosigned checkpoint 20
    refused = metric("p3ke_audit_checkpoint_refusals_total") or 0
    as_superuser(log, "DELETE FROM audit_checkpoints")
    assert log.context.issue_checkpoint() is None
    assert metric("p3ke_audit_checkpoint_refusals_total") == refused + 1
    session, store, frontier = _head(log)
    with session, pytest.raises(InconsistentTree, match=r"checkpoint 20 telah disaksikan \(cosigned\) tetapi hilang"):
        sign_head(session, store, signer, frontier, None, datetime.now(UTC), witnesses)
    with log.sessions() as session:
        assert proofs.latest_checkpoint(session) is None
    # (deleting the cosignatures too defeats this guard; the witness then refuses the rewritten checkpoint)


def test_concurrent_rounds_are_harmless(postgres_url: str, tmp_path: Path) -> None:
    """Several audit processes (the API, the jobs, a CLI) may ask at once: every one ends cosigned, each
    cosignature is stored once; no caller without the auditor role sees the witnesses."""
    witness = WitnessProcess(tmp_path)
    runtime = audit_runtime(postgres_url, tmp_path / "audit", audit_checkpoint_every=100_000,
                            audit_checkpoint_seconds=3600, audit_witnesses=[witness.endpoint()])
    witness.trust(runtime.context.signer.verifier_key)
    try:
        with witness:
            make_log(runtime, 10, batch=10)
            grow(runtime, 10, 40)
            with ThreadPoolExecutor(4) as pool:
                rounds = list(pool.map(lambda _: runtime.context.witness_now(), range(4)))
        assert [[r.status for r in one] for one in rounds] == [["ok"]] * 4, rounds
        assert sum(r.stored for one in rounds for r in one) == 1
        with runtime.sessions() as session:
            assert len(TreeStore(session).cosignature_lines(40)) == 1
        client, auth = auditor(runtime)
        assert client.get("/v1/witnesses").status_code == 401
        steward = DevIssuer(runtime.settings).mint("steward", "kemenkopmk", ["data-steward"])
        assert client.get("/v1/witnesses", headers={"Authorization": f"Bearer {steward}"}).status_code == 403
        assert client.get("/v1/witnesses", headers=auth).json()["latest_witnessed_size"] == 40
    finally:
        runtime.engine.dispose()
