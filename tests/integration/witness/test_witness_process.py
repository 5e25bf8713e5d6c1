"""The witness as users run it: a real `python -m p3ke_witness api` process over real HTTP, on SQLite and on
PostgreSQL. The whole C2SP tlog-witness conversation of an honest log, then a log that forks, truncates and
resubmits, then concurrent requests that race to move the state (none may roll it back)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from p3ke_platform.auth import DevIssuer
from p3ke_platform.settings import load_settings
from p3ke_platform.tlog.cosignature import check_quorum
from p3ke_platform.tlog.note import add_signatures
from p3ke_platform.tlog.witness_protocol import SIZE_CONTENT_TYPE, parse_cosignatures, parse_size
from tests.integration.witness.helpers import WitnessProcess
from tests.unit.witness.support import ORIGIN, WITNESS, SigningLog


@pytest.fixture
def log() -> SigningLog:
    return SigningLog().grow(10)


@pytest.fixture
def witness(tmp_path: Path, database_url: str, log: SigningLog) -> Iterator[WitnessProcess]:
    with WitnessProcess(tmp_path / "witness", database_url, [log.vkey]) as process:
        yield process


def auditor(witness: WitnessProcess) -> dict[str, str]:
    issuer = DevIssuer(load_settings(data_dir=Path(witness.env["P3KE_DATA_DIR"]), env="test"))
    return {"Authorization": f"Bearer {issuer.mint('kemnaker.auditor', 'kemnaker', ['compliance-auditor'])}"}


def alarms(witness: WitnessProcess) -> list[dict]:
    answer = httpx.get(witness.url + "/v1/alarms", headers=auditor(witness), timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["alarms"]


def cosign(witness: WitnessProcess, log: SigningLog, old: int) -> str:
    answer = witness.add(log.request(old))
    assert answer.status_code == 200, answer.text
    note = add_signatures(log.note(), parse_cosignatures(answer.content))
    assert len(check_quorum(note, [WITNESS], 1)) == 1
    return note


def test_the_protocol_end_to_end(witness: WitnessProcess, log: SigningLog) -> None:
    first = log.request(0)
    cosign(witness, log, 0)  # the first checkpoint
    log.grow(640)
    cosigned_640 = cosign(witness, log, 10)  # growth with a valid proof

    answer = witness.add(log.request(10))  # a stale old size
    assert (answer.status_code, answer.headers["content-type"], parse_size(answer.content)) == \
        (409, SIZE_CONTENT_TYPE, 640)
    assert witness.add(SigningLog(origin="p3ke.test/other").grow(2).request(0)).status_code == 404
    assert witness.add(SigningLog().grow(640).request(0)).status_code == 403  # same origin, not the log's key
    assert witness.add(b"old 0\n\nnot a note\n").status_code == 400
    assert witness.add(log.request(640, size=600, proof=[])).status_code == 400  # old > size (600 unseen: alarm)
    assert [a["kind"] for a in alarms(witness)] == ["rollback"]

    answer = witness.add(first)  # a stale resubmission of the cosigned checkpoint 10: no alarm
    assert (answer.status_code, answer.content) == (409, b"640\n")
    assert len(alarms(witness)) == 1

    log.grow(700)
    forked = log.rewritten(700)
    answer = witness.add(forked.request(640, proof=log.proof(640, 700)))  # the rewrite-history attack
    assert answer.status_code == 422
    assert "checkpoint 700 is not consistent with the cosigned 640" in answer.text
    answer = witness.add(log.rewritten(640).request(640))  # same size, another root
    assert (answer.status_code, answer.content) == (409, b"640\n")
    truncated = log.rewritten(500)
    assert witness.add(truncated.request(0)).status_code == 409  # the log shrank: a rollback

    found = {(a["kind"], a["offered_size"]): a for a in alarms(witness)}
    assert set(found) == {("rollback", 600), ("fork", 700), ("fork", 640), ("rollback", 500)}
    fork = found[("fork", 700)]
    assert fork["cosigned_note"] == cosigned_640 and fork["offered_note"] == forked.note(700)
    assert found[("rollback", 500)]["offered_note"] == truncated.note(500)

    cosign(witness, log, 640)  # the honest log carries on
    state = httpx.get(witness.url + "/v1/logs", headers=auditor(witness), timeout=10).json()
    [entry] = state["logs"]
    assert (entry["origin"], entry["cosigned_size"], entry["cosigned_count"], entry["alarms"]) == (ORIGIN, 700, 3, 4)
    metrics = httpx.get(witness.url + "/metrics", timeout=10).text
    assert f'p3ke_witness_alarms_total{{kind="fork",origin="{ORIGIN}"}} 2.0' in metrics
    assert f'p3ke_witness_cosigned_size{{origin="{ORIGIN}"}} 700.0' in metrics
    assert "witness alarm" in witness.log.read_text() and '"level": "critical"' in witness.log.read_text()


def test_concurrent_requests_never_roll_the_state_back(witness: WitnessProcess, log: SigningLog) -> None:
    cosign(witness, log, 0)
    known = 10
    with ThreadPoolExecutor(8) as pool:
        for _round in range(6):
            sizes = [known + 5 * (i + 1) for i in range(8)]
            log.grow(max(sizes))
            bodies = [log.request(known, size=s) for s in sizes]
            answers = list(pool.map(witness.add, bodies))
            won = [s for s, a in zip(sizes, answers, strict=True) if a.status_code == 200]
            assert len(won) >= 1, [a.text for a in answers]
            # every request started from the same old size: after the first one moved the state, the others
            # could only be answered 409 with a size at least the first winner's, never cosigned on top
            assert len(won) == 1, won
            lost = [parse_size(a.content) for a in answers if a.status_code == 409]
            assert len(lost) == 7 and set(lost) == {won[0]}
            known = won[0]
            # and a request built on an older state now is refused, not cosigned over the newer one
            stale = witness.add(log.request(10, size=max(sizes)))
            assert (stale.status_code, parse_size(stale.content)) == (409, known)
    state = httpx.get(witness.url + "/v1/logs", headers=auditor(witness), timeout=10).json()["logs"][0]
    assert state["cosigned_size"] == known and state["alarms"] == 0
    assert json.loads(json.dumps(alarms(witness))) == []
