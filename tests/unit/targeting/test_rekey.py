"""Rotation of the subject hash key in targeting (issue #18), on SQLite through the real inbox, real Parquet ledgers
and the real `p3ke` commands: earlier recipients stay excluded when the ring's current key changes (each ledger is
compared under its own key), `p3ke targeting rekey-ledgers` rewrites the ledgers under the new key so a person
found by the old key before is found by the new key after, and exclusion keeps working once the old key has left
the ring; a pairs file that lacks some ledger's people refuses that ledger and leaves it untouched; an interrupted
run is finished by running again; a dry run changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from sqlalchemy import select, update

from p3ke_platform.cli import main
from p3ke_platform.service import Runtime
from p3ke_platform.subject_keys import KeyRingError, parse_key_ring
from p3ke_schemas import ExtractCriteria
from p3ke_targeting.adapters.orm import extracts
from p3ke_targeting.service_layer import planning
from p3ke_targeting.service_layer.rekey import rekey_ledgers
from tests.unit.targeting.helpers import PROGRAM, apply, make_runtime, niks_of, one_prepared, request, sha256_of

K1 = "local-development-subject-key"  # the legacy P3KE_SUBJECT_HASH_KEY of the tests: key k1
K2 = "second-subject-key-0123456789"
ROTATED = f"k2:{K2},k1:{K1}"
K2_ONLY = f"k2:{K2}"
CRITERIA = {"region_codes": ["53"], "deciles": [1]}


def _ledger(runtime: Runtime, request_id: str) -> dict[str, Any]:
    with runtime.engine.connect() as conn:
        return dict(conn.execute(select(extracts).where(extracts.c.request_id == request_id)).mappings().one())


def _refs(path: Path) -> set[str]:
    return set(pq.read_table(path, columns=["subject_ref"]).column(0).to_pylist())


def _select(runtime: Runtime, quota: int = 100) -> set[str]:
    req = request(quota=quota, criteria=CRITERIA)
    assert apply(runtime, req) == []
    event = one_prepared(runtime, req.request_id)
    assert event["status"] == "accepted", event.get("reason")
    return set(niks_of(event))


def _rotated(tmp_path: Path, ring: str) -> Runtime:
    """The same targeting (database, data directory) restarted with another key ring; without k1 in the ring, the
    perturbation secret stays k1's (P3KE_PERTURBATION_KEY), as the README says."""
    extra = {} if "k1:" in ring else {"perturbation_key": K1}
    return make_runtime(tmp_path, subject_hash_keys=ring, **extra)


def _pairs(tmp_path: Path, niks: list[str], name: str = "pairs.txt") -> Path:
    """`p3ke subject-keys pairs --from k1` over a text file of NIKs, with the rotated ring in the environment."""
    nik_file, out = tmp_path / f"{name}.niks", tmp_path / name
    nik_file.write_text("".join(n + "\n" for n in niks), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("P3KE_SUBJECT_HASH_KEYS", ROTATED)
        mp.setenv("P3KE_ENV", "test")
        assert main(["subject-keys", "pairs", "--from", "k1", "--niks", str(nik_file), "--out", str(out)]) == 0
    return out


def _snapshot_niks(snapshot: Path) -> list[str]:
    return [str(n) for n in pq.read_table(snapshot, columns=["nik"]).column(0).to_pylist() if n]


def _plan_matched(runtime: Runtime) -> int:
    with runtime.context.sessions() as session:
        return planning.plan(runtime.context, session, program=PROGRAM,
                             criteria=ExtractCriteria.model_validate(CRITERIA), dataset_version_id=None,
                             group_by="province", today=runtime.context.clock().date(), protected=False).matched


def test_earlier_recipients_stay_excluded_when_the_current_key_changes(runtime: Runtime, tmp_path: Path) -> None:
    matched_before = _plan_matched(runtime)
    first = _select(runtime, 80)
    assert _plan_matched(runtime) == matched_before - len(first)
    rotated = _rotated(tmp_path, ROTATED)
    try:
        # the new extract's ledger is keyed with k2, the first one stays under k1: both are read under their key
        second = _select(rotated, 80)
        assert len(first) == len(second) == 80 and not first & second
        third = _select(rotated, 80)
        assert len(third) == 80 and not third & (first | second)
        with rotated.engine.connect() as conn:
            keys = set(conn.execute(select(extracts.c.ledger_key_id)).scalars())
        assert keys == {"k1", "k2"}
        # planning counts leave out the same persons under both keys
        assert _plan_matched(rotated) == matched_before - 240
    finally:
        rotated.engine.dispose()


def test_rekeyed_ledgers_find_the_person_by_the_new_key_and_keep_excluding(runtime: Runtime, tmp_path: Path,
                                                                           snapshot: Path) -> None:
    req = request(quota=100, criteria=CRITERIA)
    assert apply(runtime, req) == []
    first = set(niks_of(one_prepared(runtime, req.request_id)))
    row = _ledger(runtime, req.request_id)
    ledger = Path(row["ledger_uri"])
    k1, k2 = (parse_key_ring(ROTATED).get(k) for k in ("k1", "k2"))
    assert k1 is not None and k2 is not None
    person = sorted(first)[0]
    before = _refs(ledger)
    assert k1.ref(person) in before and k2.ref(person) not in before  # the trail before: found by the old key
    assert row["ledger_key_id"] == "k1"

    rotated = _rotated(tmp_path, ROTATED)
    pairs = _pairs(tmp_path, _snapshot_niks(snapshot))
    try:
        dry = rekey_ledgers(rotated.context, pairs, dry_run=True)
        assert [(f.resource_id, f.outcome, f.refs) for f in dry.files] == [(row["extract_id"], "would-rekey", 100)]
        assert _refs(ledger) == before and _ledger(rotated, req.request_id)["ledger_key_id"] == "k1"

        report = rekey_ledgers(rotated.context, pairs)
        assert [(f.old_key_id, f.new_key_id, f.outcome, f.refs) for f in report.files] == [("k1", "k2", "rekeyed",
                                                                                             100)]
        after = _refs(ledger)
        assert k2.ref(person) in after and k1.ref(person) not in after  # the trail after: found by the new key
        assert after == {k2.ref(n) for n in first}
        stored = _ledger(rotated, req.request_id)
        assert stored["ledger_key_id"] == "k2" and stored["ledger_sha256"] == sha256_of(ledger)
        assert not list(ledger.parent.glob(".*.tmp"))
        again = rekey_ledgers(rotated.context, pairs)
        assert again.files == ()  # nothing is left under k1
    finally:
        rotated.engine.dispose()

    # k1 leaves the ring: the re-keyed ledger still excludes its people
    k2_only = _rotated(tmp_path, K2_ONLY)
    try:
        second = _select(k2_only)
        assert len(second) == 100 and not first & second
    finally:
        k2_only.engine.dispose()


def test_a_ledger_whose_key_left_the_ring_unrekeyed_refuses_selection(runtime: Runtime, tmp_path: Path) -> None:
    _select(runtime)
    k2_only = _rotated(tmp_path, K2_ONLY)
    try:
        req = request(quota=50, criteria=CRITERIA)
        assert apply(k2_only, req) == []
        event = one_prepared(k2_only, req.request_id)
        assert event["status"] == "rejected"
        assert "k1" in event["reason"] and "rekey-ledgers" in event["reason"]
    finally:
        k2_only.engine.dispose()


def test_pairs_missing_a_ledgers_people_refuse_that_ledger_and_leave_it_untouched(
        runtime: Runtime, tmp_path: Path, snapshot: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    req = request(quota=100, criteria=CRITERIA)
    assert apply(runtime, req) == []
    chosen = set(niks_of(one_prepared(runtime, req.request_id)))
    row = _ledger(runtime, req.request_id)
    ledger = Path(row["ledger_uri"])
    before = ledger.read_bytes()
    left_out = sorted(chosen)[:3]
    pairs = _pairs(tmp_path, [n for n in _snapshot_niks(snapshot) if n not in left_out])

    # through the command, as an operator runs it, with the targeting service's settings
    for name, value in {"P3KE_ENV": "test", "P3KE_DATA_DIR": str(tmp_path / "data"),
                        "P3KE_DATABASE_URL": f"sqlite:///{tmp_path / 'targeting.db'}",
                        "P3KE_AGREEMENT_INCLUDE_EXAMPLES": "true", "P3KE_SUBJECT_HASH_KEYS": ROTATED}.items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    assert main(["targeting", "rekey-ledgers", "--pairs", str(pairs), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["from"] == "k1" and out["to"] == "k2" and out["refused"] == 1 and out["rekeyed"] == 0
    [file] = out["files"]
    assert (file["resource_id"], file["outcome"], file["refs"], file["missing"]) == (row["extract_id"], "refused",
                                                                                     100, 3)
    assert ledger.read_bytes() == before
    assert _ledger(runtime, req.request_id)["ledger_key_id"] == "k1"
    for nik in left_out:  # no reference or NIK in what the command prints
        assert nik not in json.dumps(out)

    # the human report names the count and what to do
    assert main(["targeting", "rekey-ledgers", "--pairs", str(pairs)]) == 1
    text = capsys.readouterr().out
    assert "3 referensi tanpa pasangan" in text and "snapshot that holds them" in text

    # a complete pairs file re-keys it
    full = _pairs(tmp_path, _snapshot_niks(snapshot), "full.txt")
    capsys.readouterr()
    assert main(["targeting", "rekey-ledgers", "--pairs", str(full), "--json"]) == 0
    printed = capsys.readouterr().out
    assert json.loads(printed)["files"][0]["outcome"] == "rekeyed", printed
    assert _ledger(runtime, req.request_id)["ledger_key_id"] == "k2"


def test_an_interrupted_run_is_finished_by_running_again(runtime: Runtime, tmp_path: Path, snapshot: Path) -> None:
    req = request(quota=60, criteria=CRITERIA)
    assert apply(runtime, req) == []
    old = _ledger(runtime, req.request_id)
    rotated = _rotated(tmp_path, ROTATED)
    pairs = _pairs(tmp_path, _snapshot_niks(snapshot))
    try:
        assert rekey_ledgers(rotated.context, pairs).files[0].outcome == "rekeyed"
        rewritten = Path(old["ledger_uri"]).read_bytes()
        # as if the run stopped after renaming the file, before recording the new key
        with rotated.engine.begin() as conn:
            conn.execute(update(extracts).where(extracts.c.extract_id == old["extract_id"])
                         .values(ledger_key_id=None, ledger_sha256=old["ledger_sha256"]))
        [file] = rekey_ledgers(rotated.context, pairs).files
        assert (file.outcome, file.refs, file.missing) == ("recorded", 60, 0)
        assert Path(old["ledger_uri"]).read_bytes() == rewritten
        stored = _ledger(rotated, req.request_id)
        assert stored["ledger_key_id"] == "k2" and stored["ledger_sha256"] == sha256_of(Path(old["ledger_uri"]))
    finally:
        rotated.engine.dispose()


def test_malformed_pairs_and_a_new_key_outside_the_ring_are_refused(runtime: Runtime, tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text(f"p3ke-subject-ref-pairs v1 k1 k2\n{'a' * 64} {'b' * 64}\nnot a pair\n", encoding="ascii")
    rotated = _rotated(tmp_path, ROTATED)
    try:
        with pytest.raises(KeyRingError, match="the first line 3"):
            rekey_ledgers(rotated.context, bad)
        foreign = tmp_path / "k3.txt"
        foreign.write_text(f"p3ke-subject-ref-pairs v1 k1 k3\n{'a' * 64} {'b' * 64}\n", encoding="ascii")
        with pytest.raises(KeyRingError, match="k3 is not in P3KE_SUBJECT_HASH_KEYS"):
            rekey_ledgers(rotated.context, foreign)
        twice = tmp_path / "twice.txt"
        twice.write_text(f"p3ke-subject-ref-pairs v1 k1 k2\n{'a' * 64} {'b' * 64}\n{'a' * 64} {'c' * 64}\n",
                         encoding="ascii")
        with pytest.raises(KeyRingError, match="more than one new reference"):
            rekey_ledgers(rotated.context, twice)
    finally:
        rotated.engine.dispose()
