"""Rotation of the subject hash key in delivery (issue #18), on SQLite with real handovers (prepared from synthetic
extracts by the real preparer), real files and the real `p3ke` commands: a person whose trail a handover's
`subject-refs.txt` shows under the old key is found there by the new key after `p3ke delivery rekey-subject-refs`,
even once the old key has left the ring (the subject lookup of UU PDP Art. 32); a pairs file that lacks some of a
file's people refuses that file and leaves it untouched; an interrupted run is finished by running again."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import select, update

from p3ke_delivery.adapters import subjects
from p3ke_delivery.adapters.orm import handovers
from p3ke_delivery.bootstrap import SERVICE
from p3ke_delivery.config import DeliverySettings
from p3ke_delivery.service_layer import subject_records
from p3ke_delivery.service_layer.rekey import rekey_subject_refs
from p3ke_platform.cli import main
from p3ke_platform.service import Runtime
from p3ke_platform.settings import load_settings
from p3ke_platform.subject_keys import parse_key_ring
from tests.integration.delivery.conftest import Harness, make_harness
from tests.integration.helpers.agreement_terms import far_agreement_dir

K1 = "local-development-subject-key"
K2 = "second-subject-key-0123456789"
ROTATED = f"k2:{K2},k1:{K1}"
K2_ONLY = f"k2:{K2}"
RING = parse_key_ring(ROTATED)


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    harness = make_harness(f"sqlite:///{tmp_path / 'delivery.db'}", tmp_path)
    yield harness
    harness.runtime.engine.dispose()


def _env(tmp_path: Path, ring: str) -> dict[str, str]:
    return {"P3KE_ENV": "test", "P3KE_DATA_DIR": str(tmp_path / "data"),
            "P3KE_DATABASE_URL": f"sqlite:///{tmp_path / 'delivery.db'}", "P3KE_AGREEMENT_INCLUDE_EXAMPLES": "true",
            "P3KE_AGREEMENT_DIR": str(far_agreement_dir(tmp_path)),  # as the harness: in force to 2099
            "P3KE_SUBJECT_HASH_KEYS": ring}


def _restarted(tmp_path: Path, ring: str) -> Runtime:
    """The same delivery service (database, storage) restarted with another key ring."""
    settings = load_settings(DeliverySettings, service="delivery", database_url=f"sqlite:///{tmp_path / 'delivery.db'}",
                             data_dir=tmp_path / "data", env="test", relay_in_api=False,
                             delivery_prepare_in_api=False, agreement_include_examples=True,
                             agreement_dir=far_agreement_dir(tmp_path), kafka_bootstrap="127.0.0.1:1",
                             subject_hash_keys=ring)
    return Runtime(SERVICE, settings)


def _niks(h: Harness, handover_id: str) -> list[str]:
    return [str(n) for n in pq.read_table(h.extracts[handover_id][0], columns=["nik"]).column(0).to_pylist() if n]


def _pairs(tmp_path: Path, niks: list[str], name: str) -> Path:
    nik_file, out = tmp_path / f"{name}.niks", tmp_path / name
    nik_file.write_text("".join(n + "\n" for n in niks), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in _env(tmp_path, ROTATED).items():
            mp.setenv(key, value)
        assert main(["subject-keys", "pairs", "--from", "k1", "--niks", str(nik_file), "--out", str(out)]) == 0
    return out


def _key_id(runtime: Runtime, handover_id: str) -> str | None:
    with runtime.engine.connect() as conn:
        return conn.scalar(select(handovers.c.subject_key_id).where(handovers.c.handover_id == handover_id))


def _found(runtime: Runtime, nik: str) -> set[str]:
    """The handovers the subject lookup names for this person."""
    return {r.resource_id for r in subject_records.lookup(runtime.context, nik)}


def test_a_persons_trail_in_a_handover_is_found_by_the_new_key_after_rekeying(
        h: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = h.open_handover(rows=40), h.open_handover(rows=25)
    person = _niks(h, a)[0]
    k1, k2 = RING.get("k1"), RING.get("k2")
    assert k1 is not None and k2 is not None
    refs_file = h.ctx.storage.path(a, subjects.REFS_FILE)
    before = list(subjects.read_refs(refs_file))
    assert k1.ref(person) in before and k2.ref(person) not in before and _key_id(h.runtime, a) == "k1"
    assert a in _found(h.runtime, person)  # the trail before the rotation

    # the old key gone without re-keying, the person would drop out of the trail: what re-keying prevents
    unkeyed = _restarted(tmp_path, K2_ONLY)
    try:
        assert a not in _found(unkeyed, person)
    finally:
        unkeyed.engine.dispose()

    pairs = _pairs(tmp_path, _niks(h, a) + _niks(h, b), "pairs.txt")
    capsys.readouterr()
    for key, value in _env(tmp_path, ROTATED).items():
        monkeypatch.setenv(key, value)
    assert main(["delivery", "rekey-subject-refs", "--pairs", str(pairs), "--dry-run", "--json"]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert {(f["resource_id"], f["outcome"], f["refs"]) for f in dry["files"]} == {(a, "would-rekey", 40),
                                                                                   (b, "would-rekey", 25)}
    assert list(subjects.read_refs(refs_file)) == before and _key_id(h.runtime, a) == "k1"

    assert main(["delivery", "rekey-subject-refs", "--pairs", str(pairs)]) == 0
    text = capsys.readouterr().out
    assert f"{a}: k1 -> k2, 40 referensi" in text and "2 berkas dikunci ulang" in text
    after = list(subjects.read_refs(refs_file))
    assert after == [k2.ref(n) for n in _niks(h, a)]  # every reference, in the file's order, under the new key
    assert k1.ref(person) not in after
    assert stat.S_IMODE(refs_file.stat().st_mode) == 0o600
    assert _key_id(h.runtime, a) == _key_id(h.runtime, b) == "k2"
    assert not list(refs_file.parent.glob(".*.tmp"))

    # k1 leaves the ring: the person's trail still shows the handover, found by the new key
    k2_only = _restarted(tmp_path, K2_ONLY)
    try:
        assert a in _found(k2_only, person)
        assert b in _found(k2_only, _niks(h, b)[3])
    finally:
        k2_only.engine.dispose()


def test_pairs_lacking_a_files_people_refuse_it_and_leave_it_untouched(h: Harness, tmp_path: Path) -> None:
    a, b = h.open_handover(rows=30), h.open_handover(rows=20)
    files = {x: h.ctx.storage.path(x, subjects.REFS_FILE) for x in (a, b)}
    before = {x: p.read_bytes() for x, p in files.items()}
    in_b = set(_niks(h, b))
    left_out = [n for n in _niks(h, a) if n not in in_b][:2]  # two of a's people, in no other handover
    assert len(left_out) == 2
    pairs = _pairs(tmp_path, [n for n in _niks(h, a) + _niks(h, b) if n not in left_out], "partial.txt")
    rotated = _restarted(tmp_path, ROTATED)
    try:
        report = rekey_subject_refs(rotated.context, pairs)
        outcomes = {f.resource_id: (f.outcome, f.refs, f.missing) for f in report.files}
        assert outcomes == {a: ("refused", 30, 2), b: ("rekeyed", 20, 0)} and report.refused == 1
        assert files[a].read_bytes() == before[a] and _key_id(rotated, a) == "k1"
        assert files[b].read_bytes() != before[b] and _key_id(rotated, b) == "k2"

        # as if a run stopped after renaming a's file, before recording the new key: running again records it
        full = _pairs(tmp_path, _niks(h, a), "full.txt")
        assert [f.outcome for f in rekey_subject_refs(rotated.context, full).files] == ["rekeyed"]
        rewritten = files[a].read_bytes()
        with rotated.engine.begin() as conn:
            conn.execute(update(handovers).where(handovers.c.handover_id == a).values(subject_key_id=None))
        [again] = rekey_subject_refs(rotated.context, full).files
        assert (again.resource_id, again.outcome, again.refs, again.missing) == (a, "recorded", 30, 0)
        assert files[a].read_bytes() == rewritten and _key_id(rotated, a) == "k2"
    finally:
        rotated.engine.dispose()
