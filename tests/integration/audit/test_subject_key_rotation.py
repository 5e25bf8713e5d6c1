"""Rotation of the subject hash key keeps a person's trail (issue #18), over a real database and the real commands.

Entries recorded under k1 name a person; the key rotates (ring k2,k1) and new entries name them under k2: a lookup
by NIK finds both. The reference pairs are computed from a NIK file by `p3ke subject-keys pairs` (as from the
snapshot) and given to `p3ke audit map-subject-refs`; k1 leaves the ring and the trail still shows the old entries;
a second rotation (k3) chains through the map. The log verifies throughout and its entries are untouched.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from p3ke_audit.adapters.orm import entries, subject_ref_map, subject_refs
from p3ke_audit.bootstrap import SERVICE
from p3ke_audit.config import AuditSettings
from p3ke_platform.api import create_app
from p3ke_platform.auth import DevIssuer
from p3ke_platform.cli import main as p3ke
from p3ke_platform.service import Runtime
from p3ke_platform.settings import load_settings
from p3ke_platform.subject_keys import subject_ref
from p3ke_schemas import CloudEvent
from tests.integration.audit.helpers import SUBJECT_KEY, access, audit_runtime, deliver, nik, verify

K2 = "second-subject-hash-key-abcdefghij"
K3 = "third-subject-hash-key-0987654321zz"
PERSON, OTHER, NEVER_LOGGED = nik(1), nik(2), nik(3)


def ring_runtime(database_url: str, data_dir: Path, ring: str) -> Runtime:
    """The audit service as deployed with P3KE_SUBJECT_HASH_KEYS=`ring` (same database, same signing key)."""
    settings = load_settings(AuditSettings, service="audit", database_url=database_url, data_dir=data_dir,
                             env="test", subject_hash_keys=ring, relay_in_api=False, agreement_include_examples=True)
    return Runtime(SERVICE, settings)


def trail(runtime: Runtime, who: str) -> set[str]:
    """The event ids of `who`'s trail, through the API as an auditor asks for it."""
    client = TestClient(create_app(runtime))
    token = DevIssuer(runtime.settings).mint("dpo-1", "kemnaker", ["compliance-auditor"])
    answer = client.post("/v1/subjects/trail", json={"nik": who}, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    return {e["event_id"] for e in answer.json()}


def under(key: str, key_id: str, i: int, who: str) -> CloudEvent:
    return access(i, niks=[who], subject_hash_key=key, subject_key_id=key_id)


def legacy(i: int, who: str) -> CloudEvent:
    """An event as services emitted it before key ids existed: no `subject_key_id`."""
    event = access(i, niks=[who])
    data = event.data.model_copy(update={"subject_key_id": None})
    assert "subject_key_id" not in data.model_dump(exclude_none=True)
    return CloudEvent.of(data, source=event.source, time=event.time)


def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], env: dict[str, str],
            *argv: str) -> tuple[int, dict[str, Any]]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    code = p3ke([*argv, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_a_trail_found_before_rotation_is_found_after_it(database_url: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("P3KE_SUBJECT_HASH_KEY", "P3KE_SUBJECT_HASH_KEYS", "P3KE_SUBJECT_HASH_KEYS_FILE"):
        monkeypatch.delenv(name, raising=False)
    # before rotation: the single legacy key is k1
    before = audit_runtime(database_url, tmp_path)
    old_events = [legacy(0, PERSON), under(SUBJECT_KEY, "k1", 1, PERSON), under(SUBJECT_KEY, "k1", 2, OTHER)]
    assert deliver(before, old_events) == []
    found_before = trail(before, PERSON)
    assert found_before == {old_events[0].id, old_events[1].id}
    with before.engine.connect() as conn:
        assert set(conn.execute(select(subject_refs.c.key_id).distinct()).scalars()) == {"k1"}
        entries_before = [tuple(r) for r in conn.execute(select(entries).order_by(entries.c.leaf_index))]

    # rotate: k2 is current, k1 still in the ring; new entries name the person under k2
    rotated = ring_runtime(database_url, tmp_path, f"k2:{K2},k1:{SUBJECT_KEY}")
    new_event = under(K2, "k2", 3, PERSON)
    assert new_event.data.subject_key_id == "k2"
    assert deliver(rotated, [new_event]) == []
    assert trail(rotated, PERSON) == found_before | {new_event.id}  # one lookup spans both key versions
    with rotated.engine.connect() as conn:
        assert conn.execute(select(subject_refs.c.key_id).where(subject_refs.c.subject_ref == subject_ref(
            K2, PERSON))).scalar_one() == "k2"

    # the pairs, from NIKs (as from the snapshot) where they are held; only references reach the audit service
    niks = tmp_path / "snapshot-niks.txt"
    niks.write_text(f"{PERSON}\n{NEVER_LOGGED}\n")
    pairs = tmp_path / "pairs.txt"
    env = {"P3KE_SUBJECT_HASH_KEYS": f"k2:{K2},k1:{SUBJECT_KEY}", "P3KE_ENV": "test"}
    code, made = run_cli(monkeypatch, capsys, env, "subject-keys", "pairs", "--from", "k1", "--niks", str(niks),
                         "--out", str(pairs))
    assert (code, made["pairs"], made["to"]) == (0, 2, "k2")
    assert PERSON not in pairs.read_text() and NEVER_LOGGED not in pairs.read_text()
    audit_env = {**env, "P3KE_DATABASE_URL": database_url, "P3KE_DATA_DIR": str(tmp_path),
                 "P3KE_AGREEMENT_INCLUDE_EXAMPLES": "true"}
    code, mapped = run_cli(monkeypatch, capsys, audit_env, "audit", "map-subject-refs", str(pairs))
    # the person never logged is not kept
    assert (code, mapped["pairs_read"], mapped["mapped"], mapped["already"]) == (0, 2, 1, 0)
    k1 = next(k for k in mapped["keys"] if k["key_id"] == "k1")
    assert (k1["refs"], k1["unmapped"]) == (2, 1)  # OTHER was not in the snapshot: only k1 finds them
    code, again = run_cli(monkeypatch, capsys, audit_env, "audit", "map-subject-refs", str(pairs))
    assert (code, again["mapped"], again["already"]) == (0, 0, 1)  # idempotent

    # k1 retired: the old entries are still found through the map
    retired = ring_runtime(database_url, tmp_path, f"k2:{K2}")
    assert trail(retired, PERSON) == found_before | {new_event.id}
    assert trail(retired, OTHER) == set()  # documented: keep k1 until its unmapped references are past retention

    # a second rotation chains: k2 -> k3 maps the k1 reference to k3 too, so k2 may go as well
    niks.write_text(f"{PERSON}\n")
    code, _ = run_cli(monkeypatch, capsys, {**env, "P3KE_SUBJECT_HASH_KEYS": f"k3:{K3},k2:{K2}"}, "subject-keys",
                      "pairs", "--from", "k2", "--niks", str(niks), "--out", str(pairs))
    assert code == 0
    code, mapped = run_cli(monkeypatch, capsys, {**audit_env, "P3KE_SUBJECT_HASH_KEYS": f"k3:{K3},k2:{K2}"},
                           "audit", "map-subject-refs", str(pairs))
    assert (code, mapped["mapped"]) == (0, 2)  # k2 -> k3, and the chained k1 -> k3
    assert trail(ring_runtime(database_url, tmp_path, f"k3:{K3}"), PERSON) == found_before | {new_event.id}

    # the log itself is untouched and verifies; the map is append-only
    with retired.engine.connect() as conn:
        assert [tuple(r) for r in conn.execute(select(entries).order_by(entries.c.leaf_index))][:3] == entries_before
    assert verify(retired).ok
    with pytest.raises(DBAPIError), retired.engine.begin() as conn:
        conn.execute(text(f"DELETE FROM {subject_ref_map.name}"))


def test_a_pairs_file_for_a_key_outside_the_ring_is_refused(database_url: str, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    audit_runtime(database_url, tmp_path)  # migrated
    pairs = tmp_path / "pairs.txt"
    pairs.write_text(f"p3ke-subject-ref-pairs v1 k1 k9\n{'a' * 64} {'b' * 64}\n")
    env = {"P3KE_SUBJECT_HASH_KEYS": f"k2:{K2},k1:{SUBJECT_KEY}", "P3KE_ENV": "test",
           "P3KE_DATABASE_URL": database_url, "P3KE_DATA_DIR": str(tmp_path), "P3KE_AGREEMENT_INCLUDE_EXAMPLES": "1"}
    code, out = run_cli(monkeypatch, capsys, env, "audit", "map-subject-refs", str(pairs))
    assert code == 2 and "k9" in out["error"]["message"] and " / " in out["error"]["message"]
    pairs.write_text("p3ke-subject-ref-pairs v1 k1 k2\n3201000000000001 xyz\n")  # a NIK where a reference belongs
    code, out = run_cli(monkeypatch, capsys, env, "audit", "map-subject-refs", str(pairs))
    assert code == 2 and "line 2" in out["error"]["message"] and "3201000000000001" not in out["error"]["message"]
