"""The tlog-witness rules as a pure function: the spec's answer for every case, and which cases are alarms."""

from __future__ import annotations

import pytest

from p3ke_platform.tlog.witness_protocol import AddCheckpoint
from p3ke_witness.domain.rules import EMPTY_ROOT, Known, judge
from tests.unit.witness.support import SigningLog


def known(log: SigningLog, size: int) -> Known:
    return Known(size, log.tree.root(size), log.note(size))


def req(log: SigningLog, old: int, size: int, proof: list[bytes] | None = None) -> AddCheckpoint:
    return AddCheckpoint(old, log.proof(old, size) if proof is None else proof, log.note(size))


def never_cosigned(_size: int) -> bytes | None:
    return None


def test_the_first_checkpoint_is_cosigned_with_old_size_zero_and_nothing_else() -> None:
    log = SigningLog().grow(10)
    verdict = judge(req(log, 0, 10), log.checkpoint(10), None, never_cosigned)
    assert (verdict.status, verdict.alarm, verdict.known_size) == (200, None, 0)
    wrong = judge(req(log, 5, 10, proof=[]), log.checkpoint(10), None, never_cosigned)
    assert (wrong.status, wrong.known_size, wrong.alarm) == (409, 0, None)
    assert "bukan 5" in wrong.message and "not 5" in wrong.message


def test_an_empty_tree_needs_the_empty_root() -> None:
    log = SigningLog()
    assert judge(req(log, 0, 0), log.checkpoint(0), None, never_cosigned).status == 200
    assert log.checkpoint(0).root == EMPTY_ROOT
    other = SigningLog().grow(1).checkpoint(1)
    bad = type(other)(log.origin, 0, other.root)
    assert judge(AddCheckpoint(0, [], ""), bad, None, never_cosigned).status == 400


def test_growth_with_a_valid_proof_is_cosigned() -> None:
    log = SigningLog().grow(100)
    for old, new in ((10, 25), (16, 100), (1, 2), (64, 100)):
        verdict = judge(req(log, old, new), log.checkpoint(new), known(log, old), never_cosigned)
        assert (verdict.status, verdict.alarm) == (200, None), (old, new, verdict.message)


def test_another_old_size_is_409_with_the_known_size_and_no_alarm() -> None:
    log = SigningLog().grow(40)
    verdict = judge(req(log, 20, 40), log.checkpoint(40), known(log, 25), never_cosigned)
    assert (verdict.status, verdict.known_size, verdict.alarm) == (409, 25, None)


def test_old_size_above_the_checkpoint_size_is_400() -> None:
    log = SigningLog().grow(40)
    verdict = judge(AddCheckpoint(40, [], log.note(30)), log.checkpoint(30), known(log, 40),
                    lambda size: log.tree.root(size))  # 30 was cosigned: stale, no alarm
    assert (verdict.status, verdict.alarm) == (400, None)
    assert "40" in verdict.message and "30" in verdict.message


def test_a_proof_that_does_not_verify_is_422_and_a_fork_alarm() -> None:
    log = SigningLog().grow(700)
    good = log.proof(640, 700)
    bad = [good[0][:-1] + bytes([good[0][-1] ^ 1]), *good[1:]]
    verdict = judge(req(log, 640, 700, bad), log.checkpoint(700), known(log, 640), never_cosigned)
    assert (verdict.status, verdict.alarm) == (422, "fork")
    assert "checkpoint 700 tidak konsisten dengan checkpoint 640 yang sudah dikosign" in verdict.message
    assert "checkpoint 700 is not consistent with the cosigned 640" in verdict.message
    # the rewritten history with the real proof: a fork too
    forked = log.rewritten(700)
    verdict = judge(AddCheckpoint(640, good, forked.note(700)), forked.checkpoint(700), known(log, 640),
                    never_cosigned)
    assert (verdict.status, verdict.alarm) == (422, "fork")


def test_the_same_size_with_another_root_is_409_and_a_fork_alarm() -> None:
    log = SigningLog().grow(50)
    forked = log.rewritten(50)
    verdict = judge(AddCheckpoint(50, [], forked.note(50)), forked.checkpoint(50), known(log, 50), never_cosigned)
    assert (verdict.status, verdict.known_size, verdict.alarm) == (409, 50, "fork")


def test_the_same_checkpoint_again_is_cosigned_again_and_needs_an_empty_proof() -> None:
    log = SigningLog().grow(50)
    assert judge(req(log, 50, 50), log.checkpoint(50), known(log, 50), never_cosigned).status == 200
    some = log.proof(10, 50)[:1]
    assert judge(req(log, 50, 50, some), log.checkpoint(50), known(log, 50), never_cosigned).status == 400


@pytest.mark.parametrize("old", [0, 500, 640])
def test_a_smaller_checkpoint_never_cosigned_is_a_rollback_alarm(old: int) -> None:
    log = SigningLog().grow(640)
    truncated = log.rewritten(500)  # the log shrank and was rebuilt
    verdict = judge(AddCheckpoint(old, [], truncated.note(500)), truncated.checkpoint(500), known(log, 640),
                    lambda size: log.tree.root(size) if size in (100, 640) else None)
    assert verdict.alarm == "rollback"
    assert verdict.status == (400 if old > 500 else 409) and verdict.known_size == 640
    assert "checkpoint 500 lebih kecil dari checkpoint 640" in verdict.message
    # the honest log's own checkpoint 500, never cosigned (the witness skipped it): still not one it vouched for
    assert judge(AddCheckpoint(0, [], log.note(500)), log.checkpoint(500), known(log, 640),
                 lambda size: None).alarm == "rollback"


def test_a_request_that_lost_a_race_is_409_and_no_alarm() -> None:
    log = SigningLog().grow(60)
    cosigned = {10: log.tree.root(10), 60: log.tree.root(60)}  # 10 -> 60 won; 10 -> 40 arrives after it
    verdict = judge(req(log, 10, 40), log.checkpoint(40), known(log, 60), cosigned.get)
    assert (verdict.status, verdict.known_size, verdict.alarm) == (409, 60, None)
    # but not when its proof does not lead from the cosigned 10, or when 10 was never cosigned
    forked = log.rewritten(40)
    assert judge(AddCheckpoint(10, log.proof(10, 40), forked.note(40)), forked.checkpoint(40), known(log, 60),
                 cosigned.get).alarm == "rollback"
    assert judge(req(log, 20, 40), log.checkpoint(40), known(log, 60), cosigned.get).alarm == "rollback"


def test_a_stale_resubmission_of_a_cosigned_checkpoint_is_no_alarm() -> None:
    log = SigningLog().grow(640)
    cosigned = {100: log.tree.root(100), 640: log.tree.root(640)}
    verdict = judge(AddCheckpoint(0, [], log.note(100)), log.checkpoint(100), known(log, 640), cosigned.get)
    assert (verdict.status, verdict.alarm, verdict.known_size) == (409, None, 640)
