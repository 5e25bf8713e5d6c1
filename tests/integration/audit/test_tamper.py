"""Tampering as the database superuser (triggers disabled or dropped), each at random positions:
`p3ke audit verify` detects every scenario and names where the log stops matching.

The positions come from a seed printed on failure; set P3KE_TEST_SEED to replay one.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from p3ke_audit.adapters.orm import checkpoints, entries, verifications
from p3ke_audit.domain.entry import entry_leaf_hash
from p3ke_platform.cli import main as p3ke
from p3ke_platform.service import Runtime
from p3ke_platform.tlog.note import Checkpoint, sign
from tests.integration.audit.helpers import as_superuser, audit_runtime, cli_environment, make_log

SIZE = 40
SEED = int(os.environ.get("P3KE_TEST_SEED") or random.SystemRandom().randrange(1 << 30))


def _verify(runtime: Runtime, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
            *extra: str) -> tuple[int, dict[str, object]]:
    cli_environment(runtime, monkeypatch)
    capsys.readouterr()
    code = p3ke(["audit", "verify", "--json", *extra])
    return code, json.loads(capsys.readouterr().out)


def _row(runtime: Runtime, leaf: int) -> dict[str, object]:
    with runtime.engine.connect() as conn:
        return dict(conn.execute(select(entries).where(entries.c.leaf_index == leaf)).mappings().one())


Tampered = tuple[int, int, bool] | None  # the leaves changed (lo, hi), and whether verify must be exact


def edit_payload(runtime: Runtime, rng: random.Random) -> Tampered:
    k = rng.randrange(SIZE)
    as_superuser(runtime, "UPDATE audit_entries SET payload = replace(payload, '\"allowed\"', '\"denied\"') "
                 "WHERE leaf_index = :k", params={"k": k})
    return k, k, True


def edit_and_rewrite_leaf_hash(runtime: Runtime, rng: random.Random) -> Tampered:
    """A stronger attacker edits a row and recomputes its leaf hash: the stored subtree hashes and
    the signed roots still give it away (located to the smallest subtree holding it)."""
    k = rng.randrange(SIZE)
    row = _row(runtime, k)
    row["actor_subject"] = "someone-else"
    as_superuser(runtime, "UPDATE audit_entries SET actor_subject = 'someone-else', leaf_hash = :h "
                 "WHERE leaf_index = :k", params={"k": k, "h": entry_leaf_hash(row)})
    return k, k, False


def delete_row(runtime: Runtime, rng: random.Random) -> Tampered:
    k = rng.randrange(SIZE - 1)
    as_superuser(runtime, "DELETE FROM audit_entries WHERE leaf_index = :k", params={"k": k})
    return k, k, True


def insert_in_the_middle(runtime: Runtime, rng: random.Random) -> Tampered:
    """Shift the later rows up by one and slip a well-formed row (own leaf hash) in at k."""
    k = rng.randrange(1, SIZE - 1)
    forged = _row(runtime, k)
    forged.update(seq=None, event_id="forged-event", actor_subject="ghost", leaf_index=k)
    forged["leaf_hash"] = entry_leaf_hash(forged)
    columns = [c for c in forged if c != "seq"]
    as_superuser(
        runtime,
        "UPDATE audit_entries SET leaf_index = -leaf_index - 1 WHERE leaf_index >= :k",
        "UPDATE audit_entries SET leaf_index = -leaf_index WHERE leaf_index < 0",
        f"INSERT INTO audit_entries ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})",
        params={"k": k, **{c: forged[c] for c in columns}})
    return k, SIZE, False


def swap_rows(runtime: Runtime, rng: random.Random) -> Tampered:
    j, k = sorted(rng.sample(range(SIZE), 2))
    as_superuser(runtime, "UPDATE audit_entries SET leaf_index = -1 WHERE leaf_index = :j",
                 "UPDATE audit_entries SET leaf_index = :j WHERE leaf_index = :k",
                 "UPDATE audit_entries SET leaf_index = :k WHERE leaf_index = -1", params={"j": j, "k": k})
    return j, j, True


def truncate_tail(runtime: Runtime, rng: random.Random) -> Tampered:
    with runtime.engine.connect() as conn:
        latest = conn.execute(select(checkpoints.c.tree_size).order_by(checkpoints.c.tree_size.desc())).scalar()
    k = rng.randrange(1, latest)
    as_superuser(runtime, "DELETE FROM audit_entries WHERE leaf_index >= :k", params={"k": k})
    return k, k, False


def forge_checkpoint(runtime: Runtime, rng: random.Random) -> Tampered:
    """Replace a signed checkpoint by one over another root, signed by another key."""
    with runtime.engine.connect() as conn:
        sizes = conn.execute(select(checkpoints.c.tree_size)).scalars().all()
    size = rng.choice(sizes)
    root = rng.randbytes(32)
    note = sign(Checkpoint(runtime.settings.audit_origin, size, root), runtime.settings.audit_origin,
                Ed25519PrivateKey.generate())
    as_superuser(runtime, "UPDATE audit_checkpoints SET note = :n, root_hash = :r WHERE tree_size = :s",
                 params={"n": note, "r": root, "s": size})
    return None


SCENARIOS: dict[str, Callable[[Runtime, random.Random], Tampered]] = {
    f.__name__: f for f in (edit_payload, edit_and_rewrite_leaf_hash, delete_row, insert_in_the_middle, swap_rows,
                            truncate_tail, forge_checkpoint)
}


def test_an_untouched_log_verifies_and_the_result_is_kept(database_url: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    runtime = audit_runtime(database_url, tmp_path, audit_checkpoint_every=8)
    make_log(runtime, SIZE, batch=5)
    code, report = _verify(runtime, monkeypatch, capsys)
    assert code == 0 and report["ok"] and report["entries_checked"] == SIZE, report
    assert report["checkpoints_checked"] >= 4
    with runtime.engine.connect() as conn:
        kept = conn.execute(select(verifications)).mappings().one()
    assert kept["ok"] and kept["tree_size"] == SIZE


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_tampering_is_detected_and_located(scenario: str, database_url: str, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    runtime = audit_runtime(database_url, tmp_path, audit_checkpoint_every=8)
    make_log(runtime, SIZE, batch=5)
    rng = random.Random(f"{SEED}-{scenario}")
    tampered = SCENARIOS[scenario](runtime, rng)
    code, report = _verify(runtime, monkeypatch, capsys, "--no-record")
    context = f"seed {SEED} ({scenario}, {tampered}): {report}"
    assert code == 1 and not report["ok"], context
    if tampered is None:
        assert report["first_bad_leaf"] is None and "not one the log signed" in str(report["problems"]), context
        return
    lo, hi, exact = tampered
    first, last = report["first_bad_leaf"], report["last_bad_leaf"]
    assert isinstance(first, int) and isinstance(last, int), context
    if exact:  # the entry itself is named
        assert first == last == lo, context
    else:  # the smallest range the hashes can tell holds a changed entry
        assert first <= hi and last >= lo, context
