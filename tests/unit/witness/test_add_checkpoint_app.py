"""The witness's `POST /add-checkpoint` through its real app (SQLite, TestClient): every answer of the C2SP
tlog-witness spec, the cosignatures verified with p3ke_platform.tlog.cosignature, alarms with their evidence."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client import REGISTRY
from sqlalchemy import text

from p3ke_platform.tlog.cosignature import check_quorum, cosignatures
from p3ke_platform.tlog.note import add_signatures, open_note
from p3ke_platform.tlog.witness_protocol import MAX_BODY_BYTES, SIZE_CONTENT_TYPE, AddCheckpoint, parse_cosignatures
from tests.unit.witness.support import ORIGIN, WITNESS, SigningLog, WitnessApp, witness_app


@pytest.fixture
def log() -> SigningLog:
    return SigningLog().grow(10)


@pytest.fixture
def app(tmp_path: Path, log: SigningLog) -> WitnessApp:
    return witness_app(tmp_path, [log])


def cosigned(app: WitnessApp, log: SigningLog, old: int) -> str:
    answer = app.add(log.request(old))
    assert answer.status_code == 200, answer.text
    return add_signatures(log.note(), parse_cosignatures(answer.content))


def alarms(app: WitnessApp) -> list[dict]:
    answer = app.client.get("/v1/alarms", headers=app.auth())
    assert answer.status_code == 200, answer.text
    return answer.json()["alarms"]


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_first_checkpoint_then_growth_are_cosigned_and_verify(app: WitnessApp, log: SigningLog) -> None:
    before = metric("p3ke_witness_cosigned_total", origin=ORIGIN)
    note = cosigned(app, log, 0)
    [cosig] = check_quorum(note, [WITNESS], 1)
    assert cosig.line.startswith(f"— {WITNESS.name} ")
    assert open_note(note, ORIGIN, log.key.public_key()).size == 10  # the log's signature is untouched
    log.grow(25)
    note = cosigned(app, log, 10)
    assert len(cosignatures(note, [WITNESS])) == 1
    assert metric("p3ke_witness_cosigned_total", origin=ORIGIN) == before + 2
    assert metric("p3ke_witness_cosigned_size", origin=ORIGIN) == 25
    state = app.client.get("/v1/logs", headers=app.auth()).json()
    assert state["witness"] == WITNESS.vkey
    [entry] = state["logs"]
    assert (entry["origin"], entry["cosigned_size"], entry["cosigned_count"], entry["alarms"]) == (ORIGIN, 25, 2, 0)
    assert entry["note"] == log.note() and entry["keys"] == [log.vkey]


def test_a_wrong_old_size_is_409_with_the_known_size(app: WitnessApp, log: SigningLog) -> None:
    cosigned(app, log, 0)
    log.grow(20)
    answer = app.add(log.request(0))
    assert answer.status_code == 409
    assert answer.headers["content-type"] == SIZE_CONTENT_TYPE  # exactly, no charset
    assert answer.content == b"10\n"
    assert alarms(app) == []


def test_an_unknown_origin_is_404(app: WitnessApp) -> None:
    stranger = SigningLog(origin="p3ke.test/other").grow(3)
    answer = app.add(stranger.request(0))
    assert answer.status_code == 404
    assert "tidak dikenal" in answer.text and "unknown log origin" in answer.text


def test_a_checkpoint_not_signed_by_the_logs_key_is_403(app: WitnessApp, log: SigningLog) -> None:
    impostor = SigningLog(key=Ed25519PrivateKey.generate()).grow(10)  # same origin, another key
    answer = app.add(impostor.request(0))
    assert answer.status_code == 403 and "no valid signature" in answer.text
    # a bad signature line of the log's own key is refused as well
    note = log.note()
    head, b64 = note.rstrip("\n").rsplit(" ", 1)
    blob = bytearray(base64.b64decode(b64))
    blob[10] ^= 1
    answer = app.add(AddCheckpoint(0, [], f"{head} {base64.b64encode(bytes(blob)).decode()}\n").encode())
    assert answer.status_code == 403 and "does not verify" in answer.text


@pytest.mark.parametrize("body", [
    b"", b"old 0\n", b"old x\n\n", b"new 0\n\nnote", b"old 01\n\n", b"\xff\xfe", b"old 0\n\nnot a note\n",
    b"old 0\nAAAA\n\n", b"old 18446744073709551615\n\n",
])
def test_malformed_requests_are_400(app: WitnessApp, body: bytes) -> None:
    answer = app.add(body)
    assert answer.status_code == 400, (body, answer.status_code, answer.text)
    assert "tidak sesuai protokol" in answer.text or "ukuran" in answer.text


def test_sizes_beyond_the_database_are_400(app: WitnessApp, log: SigningLog) -> None:
    note = log.note()
    answer = app.add(f"old {2**63}\n\n".encode() + note.encode())
    assert answer.status_code == 400 and "a size above" in answer.text


def test_old_size_above_the_checkpoint_size_is_400(app: WitnessApp, log: SigningLog) -> None:
    cosigned(app, log, 0)
    answer = app.add(log.request(10, size=5, proof=[]))  # 5 was never cosigned: a rollback as well
    assert answer.status_code == 400
    assert "(rollback)" in answer.text


def test_a_body_over_16_kib_is_413(app: WitnessApp) -> None:
    answer = app.add(b"old 0\n\n" + b"x" * MAX_BODY_BYTES)
    assert answer.status_code == 413 and "16384" in answer.text


def test_a_bad_proof_is_422_and_a_fork_alarm_keeping_both_notes(app: WitnessApp, log: SigningLog) -> None:
    log.grow(640)
    cosigned_note = cosigned(app, log, 0)
    before = metric("p3ke_witness_alarms_total", origin=ORIGIN, kind="fork")
    log.grow(700)
    forked = log.rewritten(700)  # same key, another history
    body = AddCheckpoint(640, log.proof(640, 700), forked.note(700)).encode()
    answer = app.add(body)
    assert answer.status_code == 422
    assert "checkpoint 700 tidak konsisten dengan checkpoint 640 yang sudah dikosign" in answer.text
    assert "is not consistent with the cosigned 640" in answer.text
    [alarm] = alarms(app)
    assert (alarm["kind"], alarm["origin"], alarm["cosigned_size"], alarm["offered_size"]) == ("fork", ORIGIN, 640, 700)
    assert alarm["cosigned_note"] == cosigned_note  # with this witness's own cosignature: it vouched for it
    assert alarm["offered_note"] == forked.note(700)
    assert alarm["proof"] == [base64.b64encode(h).decode() for h in log.proof(640, 700)]
    assert len(check_quorum(alarm["cosigned_note"], [WITNESS], 1)) == 1
    assert open_note(alarm["offered_note"], ORIGIN, log.key.public_key()).size == 700  # validly signed evidence
    assert metric("p3ke_witness_alarms_total", origin=ORIGIN, kind="fork") == before + 1
    # the same attempt again: answered the same, counted, but the evidence is kept once
    assert app.add(body).status_code == 422
    assert len(alarms(app)) == 1
    assert metric("p3ke_witness_alarms_total", origin=ORIGIN, kind="fork") == before + 2
    # and the honest checkpoint is still cosigned
    assert cosigned(app, log, 640)


def test_the_same_size_with_another_root_is_409_and_a_fork_alarm(app: WitnessApp, log: SigningLog) -> None:
    cosigned(app, log, 0)
    forked = log.rewritten(10)
    answer = app.add(forked.request(10))
    assert (answer.status_code, answer.content) == (409, b"10\n")
    [alarm] = alarms(app)
    assert (alarm["kind"], alarm["cosigned_size"], alarm["offered_size"]) == ("fork", 10, 10)
    assert alarm["cosigned_root"] != alarm["offered_root"]


def test_a_smaller_unseen_checkpoint_is_a_rollback_alarm(app: WitnessApp, log: SigningLog) -> None:
    log.grow(640)
    cosigned(app, log, 0)
    truncated = log.rewritten(500)
    answer = app.add(truncated.request(0))
    assert (answer.status_code, answer.content) == (409, b"640\n")
    [alarm] = alarms(app)
    assert (alarm["kind"], alarm["cosigned_size"], alarm["offered_size"]) == ("rollback", 640, 500)
    assert "checkpoint 500 is smaller than the cosigned 640" in alarm["detail"]
    listed = app.client.get("/v1/alarms", params={"kind": "fork"}, headers=app.auth()).json()
    assert listed["alarms"] == []


def test_a_stale_resubmission_of_a_cosigned_checkpoint_is_no_alarm(app: WitnessApp, log: SigningLog) -> None:
    first = log.request(0)
    cosigned(app, log, 0)
    log.grow(30)
    cosigned(app, log, 10)
    answer = app.add(first)  # the log retries its old checkpoint 10
    assert (answer.status_code, answer.content) == (409, b"30\n")
    assert alarms(app) == []
    # the current checkpoint again is cosigned again (the log lost the answer)
    assert app.add(log.request(30)).status_code == 200


def test_the_read_apis_need_a_token_and_a_role(app: WitnessApp) -> None:
    for path in ("/v1/logs", "/v1/alarms"):
        assert app.client.get(path).status_code == 401
        refused = app.client.get(path, headers=app.auth("data-steward", "kemenkopmk"))
        assert refused.status_code == 403 and refused.json() == {
            "detail": "Status witness hanya dapat dibaca oleh salah satu peran berikut: compliance-auditor, operator; "
                      "minta administrator menambahkan peran itu ke akun Anda.",
            "code": "reader.role", "rule": "role"}
        english = app.client.get(path, headers={**app.auth("data-steward", "kemenkopmk"), "Accept-Language": "en"})
        assert english.status_code == 403 and english.json()["detail"] == (
            "the witness's state is read by one of these roles only: compliance-auditor, operator; ask an "
            "administrator to add that role to your account")
        assert app.client.get(path, headers=app.auth("operator")).status_code == 200
        assert app.client.get(path, headers=app.auth("compliance-auditor", "kemenkopmk")).status_code == 200
    # the protocol itself needs no token: the log's signature authenticates it
    assert app.client.post("/add-checkpoint", content=b"old 0\n").status_code == 400


def test_alarms_are_paged(app: WitnessApp, log: SigningLog) -> None:
    log.grow(64)
    cosigned(app, log, 0)
    for size in (10, 20, 30):
        assert app.add(log.rewritten(size).request(0)).status_code == 409
    page = app.client.get("/v1/alarms", params={"limit": 2}, headers=app.auth()).json()
    assert [a["offered_size"] for a in page["alarms"]] == [10, 20] and page["next_after"]
    rest = app.client.get("/v1/alarms", params={"after": page["next_after"]}, headers=app.auth()).json()
    assert [a["offered_size"] for a in rest["alarms"]] == [30] and rest["next_after"] is None


def test_the_evidence_tables_refuse_update_and_delete(app: WitnessApp, log: SigningLog) -> None:
    cosigned(app, log, 0)
    assert app.add(log.rewritten(10).request(10)).status_code == 409
    for statement in ("UPDATE witness_cosigned SET tree_size = 1", "DELETE FROM witness_cosigned",
                      "UPDATE witness_alarms SET kind = 'none'", "DELETE FROM witness_alarms"):
        with pytest.raises(Exception, match="append-only"), app.runtime.engine.begin() as conn:
            conn.execute(text(statement))


def test_readiness_does_not_ask_kafka(app: WitnessApp) -> None:
    answer = app.client.get("/readyz")
    assert answer.status_code == 200 and answer.json()["problems"] == []
