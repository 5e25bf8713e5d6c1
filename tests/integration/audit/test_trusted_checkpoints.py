"""Verification against what others saw (issue 16), on SQLite and PostgreSQL: an attacker with the database (the
append-only triggers out of the way) but without the signing key rewrites the log's history and re-appends it
through the real appender, so the tree is consistent and the log signs new checkpoints over it. Plain `p3ke audit
verify` and `verify-bundle` then say ok; given a checkpoint note saved before the attack (`--trusted-checkpoint`),
both fail naming the sizes. A truncated log "shrank"; a trusted note with a bad signature, or without the witness
quorum asked for, is refused; a bundle's checkpoint must carry the witnesses' cosignatures when keys are given.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import insert, select

from p3ke_audit.adapters.orm import cosignatures, entries
from p3ke_audit.adapters.tree_store import TreeStore
from p3ke_audit.service_layer.appender import appender_for
from p3ke_audit.service_layer.export import build_bundle
from p3ke_audit.service_layer.queries import Filters
from p3ke_platform.cli import main as p3ke
from p3ke_platform.service import Runtime
from p3ke_platform.tlog.cosignature import Witness, cosign
from p3ke_platform.tlog.merkle import stored_count
from p3ke_platform.tlog.note import signature_lines
from tests.integration.audit.helpers import as_superuser, audit_runtime, cli_environment, make_log, verify

WITNESS_KEY = Ed25519PrivateKey.generate()
WITNESS = Witness("party-2.example/witness", WITNESS_KEY.public_key())
PERIOD = Filters(since=datetime(2026, 1, 1, tzinfo=UTC), until=datetime(2027, 1, 1, tzinfo=UTC))


def _latest_note(runtime: Runtime) -> str:
    with runtime.engine.connect() as conn:
        last = TreeStore(conn).last_checkpoint()
    assert last is not None
    return last.note


def _cosign_latest(runtime: Runtime) -> str:
    """The witness cosigns the log's latest checkpoint (stored as the witnessing job stores it); the cosigned
    note, as `/v1/checkpoints/latest?format=note` serves it."""
    with runtime.engine.begin() as conn:
        store = TreeStore(conn)
        last = store.last_checkpoint()
        assert last is not None
        body, _ = signature_lines(last.note)
        line = cosign(body, WITNESS.name, WITNESS_KEY)
        now = datetime.now(UTC)
        conn.execute(insert(cosignatures).values(tree_size=last.tree_size, key_id=WITNESS.key_id.hex(),
                                                 witness=WITNESS.name, line=line, signed_at=now, received_at=now))
        return store.cosigned_note(last)


def _rewrite_from(runtime: Runtime, leaf: int) -> None:
    """The attack: every entry from `leaf` on is deleted with its nodes, subject references, checkpoints and
    cosignatures; then the same entries but the one at `leaf` (an access hidden) are appended again through the
    real appender, which rebuilds a consistent tree and signs checkpoints over it with the log's own key."""
    with runtime.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(entries).where(entries.c.leaf_index > leaf)
                                              .order_by(entries.c.leaf_index)).mappings()]
    _truncate(runtime, leaf)
    with runtime.sessions() as session, session.begin():
        appender = appender_for(session, runtime.settings, lambda: runtime.context.signer)
        for row in rows:
            appender.add({k: v for k, v in row.items() if k not in ("seq", "leaf_index", "leaf_hash")})
    runtime.context.issue_checkpoint(force=True)


def _truncate(runtime: Runtime, size: int) -> None:
    """Delete the entries from leaf `size` on, the nodes they complete, and the checkpoints covering them."""
    as_superuser(runtime, "DELETE FROM audit_entries WHERE leaf_index >= :n",
                 "DELETE FROM audit_subject_refs WHERE leaf_index >= :n",
                 "DELETE FROM audit_tree_nodes WHERE id >= :nodes",
                 "DELETE FROM audit_checkpoints WHERE tree_size > :n",
                 "DELETE FROM audit_cosignatures WHERE tree_size > :n", params={"n": size, "nodes": stored_count(size)})


def _verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    capsys.readouterr()
    code = p3ke(["audit", "verify", "--json", "--no-record", *args])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def _verify_bundle(capsys: pytest.CaptureFixture[str], bundle: dict[str, Any], tmp_path: Path, vkey: str,
                   *args: str) -> tuple[int, dict[str, Any], str]:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    capsys.readouterr()
    code = p3ke(["audit", "verify-bundle", str(path), "--key", vkey, "--json", *args])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def _bundle(runtime: Runtime, consistency_from: tuple[int, ...] = ()) -> dict[str, Any]:
    with runtime.sessions() as session:
        return build_bundle(session, PERIOD, limit=1000, origin=runtime.settings.audit_origin,
                            consistency_from=consistency_from)


def test_a_rewritten_history_fails_against_a_checkpoint_saved_before(
        database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    runtime = audit_runtime(database_url, tmp_path, audit_checkpoint_every=4)
    make_log(runtime, 8, batch=4)
    saved = tmp_path / "saved-8.note"
    saved.write_text(_latest_note(runtime))  # an auditor keeps the checkpoint of 8 entries
    make_log(runtime, 4, batch=4, seed=2)  # the log grows to 12
    cli_environment(runtime, monkeypatch)
    vkey = runtime.context.signer.verifier_key
    honest = _bundle(runtime, consistency_from=(8,))

    code, out, _ = _verify(capsys, "--trusted-checkpoint", str(saved))
    assert code == 0 and out["ok"] and out["tree_size"] == 12
    assert out["trusted_checkpoints"] == [{"tree_size": 8, "ok": True, "problem": None}]
    code, out, _ = _verify_bundle(capsys, honest, tmp_path, vkey, "--trusted-checkpoint", str(saved))
    assert code == 0 and out["ok"] and out["trusted_checked"] == [8], out
    capsys.readouterr()
    assert p3ke(["audit", "verify", "--no-record", "--trusted-checkpoint", str(saved)]) == 0
    assert "consistent with the trusted checkpoint(s): 8" in capsys.readouterr().out

    _rewrite_from(runtime, 3)  # leaf 3 hidden: 11 entries, checkpoints re-signed at 4, 8 and 11
    with runtime.engine.connect() as conn:
        assert TreeStore(conn).last_checkpoint().tree_size == 11  # type: ignore[union-attr]
    report = verify(runtime)
    assert report.ok, report.summary()  # the log alone looks intact, origins and all
    assert _verify(capsys)[0] == 0

    code, out, _ = _verify(capsys, "--trusted-checkpoint", str(saved))
    assert code == 1 and not out["ok"]
    problem = ("the log of size 11 is not consistent with the trusted checkpoint 8 (the root of its first 8 entries "
               "differs): its history was rewritten")
    assert out["trusted_checkpoints"][0]["tree_size"] == 8 and problem in out["trusted_checkpoints"][0]["problem"]
    assert any(problem in p for p in out["problems"])
    assert out["trusted_checkpoints"][0]["problem"].startswith("log berukuran 11 tidak konsisten dengan checkpoint "
                                                               "tepercaya 8")
    capsys.readouterr()
    assert p3ke(["audit", "verify", "--no-record", "--trusted-checkpoint", str(saved)]) == 1
    assert problem in capsys.readouterr().err

    # the bundles of the rewritten log: plain, it verifies; against the saved checkpoint, it does not, whether
    # the bundle carries the re-signed checkpoint of 8 or a consistency proof from 8
    rewritten = _bundle(runtime, consistency_from=(8,))
    assert _verify_bundle(capsys, rewritten, tmp_path, vkey)[0] == 0
    code, out, _ = _verify_bundle(capsys, rewritten, tmp_path, vkey, "--trusted-checkpoint", str(saved))
    assert code == 1 and any("the log of size 11 is not consistent with the trusted checkpoint 8" in p
                             for p in out["trusted_failures"]), out
    del rewritten["consistency"]
    rewritten["checkpoints"] = [c for c in rewritten["checkpoints"] if "\n8\n" not in c["note"]]
    code, out, _ = _verify_bundle(capsys, rewritten, tmp_path, vkey, "--trusted-checkpoint", str(saved))
    assert code == 0 and out["ok"] and out["trusted_checked"] == []  # nothing in it to judge 8 by: a warning
    assert any("the trusted checkpoint 8 cannot be checked from this bundle" in w for w in out["warnings"])


def test_a_truncated_log_shrank(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    runtime = audit_runtime(database_url, tmp_path, audit_checkpoint_every=4)
    make_log(runtime, 8, batch=4)
    saved = tmp_path / "saved-8.note"
    saved.write_text(_latest_note(runtime))
    cli_environment(runtime, monkeypatch)
    _truncate(runtime, 6)  # entries 6 and 7 and the checkpoint of 8 gone: what is left verifies on its own
    assert verify(runtime).ok
    code, out, _ = _verify(capsys, "--trusted-checkpoint", str(saved))
    assert code == 1 and out["tree_size"] == 6
    assert "the log shrank from 8 to 6 entries (the trusted checkpoint 8 covers 8)" in \
        out["trusted_checkpoints"][0]["problem"]
    assert out["trusted_checkpoints"][0]["problem"].startswith("log menyusut dari 8 menjadi 6 entri")
    code, out, _ = _verify_bundle(capsys, _bundle(runtime, (8,)), tmp_path, runtime.context.signer.verifier_key,
                                  "--trusted-checkpoint", str(saved))
    assert code == 1 and out["tree_size"] == 4
    assert out["trusted_failures"] == [
        "log menyusut dari 8 menjadi 4 entri (checkpoint tepercaya 8 mencakup 8) / the log shrank from 8 to 4 "
        "entries (the trusted checkpoint 8 covers 8)"]


def test_trusted_checkpoints_must_be_signed_by_the_log_and_witnessed_when_asked(
        database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    runtime = audit_runtime(database_url, tmp_path, audit_checkpoint_every=4)
    make_log(runtime, 8, batch=4)
    cli_environment(runtime, monkeypatch)
    vkey = runtime.context.signer.verifier_key
    plain = tmp_path / "plain.note"
    plain.write_text(_latest_note(runtime))
    forged = tmp_path / "forged.note"
    forged.write_text(plain.read_text().replace("\n8\n", "\n9\n"))

    code, out, err = _verify(capsys, "--trusted-checkpoint", str(forged))
    assert code == 2 and f"--trusted-checkpoint {forged}: checkpoint tepercaya tidak sah" in err
    assert "trusted checkpoint is not trusted: the log's signature does not verify" in out["error"]["message"]

    # with the witness's key: the note must carry its cosignature
    code, out, err = _verify(capsys, "--trusted-checkpoint", str(plain), "--witness-key", WITNESS.vkey)
    assert code == 2 and "(size 8) is not witnessed: the checkpoint is cosigned by 0 of the 1 trusted witnesses" \
        in out["error"]["message"]
    cosigned = tmp_path / "cosigned.note"
    cosigned.write_text(_cosign_latest(runtime))
    key_file = tmp_path / "witness.vkey"
    key_file.write_text(WITNESS.vkey + "\n")
    code, out, _ = _verify(capsys, "--trusted-checkpoint", str(cosigned), "--witness-key", str(key_file))
    assert code == 0 and out["trusted_checkpoints"] == [{"tree_size": 8, "ok": True, "problem": None}]
    assert out["latest_witnessed"] == {"tree_size": 8, "witnessed": True, "witnesses": [WITNESS.name]}
    other = Witness("inspectorate.example/witness", Ed25519PrivateKey.generate().public_key())
    code, out, _ = _verify(capsys, "--trusted-checkpoint", str(cosigned), "--witness-key", WITNESS.vkey,
                           "--witness-key", other.vkey, "--quorum", "1")
    assert code == 0 and out["ok"]
    assert _verify(capsys, "--witness-key", WITNESS.vkey, "--quorum", "2")[0] == 2
    assert _verify(capsys, "--witness-key", "not-a-key")[0] == 2
    assert _verify(capsys, "--quorum", "1")[0] == 2

    # bundles: its own checkpoint must be witnessed when witness keys are given
    bundle = _bundle(runtime)
    assert bundle["checkpoint"] == cosigned.read_text()  # the bundle carries the stored cosignatures
    code, out, _ = _verify_bundle(capsys, bundle, tmp_path, vkey, "--witness-key", WITNESS.vkey,
                                  "--trusted-checkpoint", str(cosigned))
    assert code == 0 and out["witnessed_by"] == [WITNESS.name] and out["trusted_checked"] == [8]
    make_log(runtime, 4, batch=4, seed=2)  # the checkpoint of 12: not (yet) cosigned
    code, out, _ = _verify_bundle(capsys, _bundle(runtime), tmp_path, vkey, "--witness-key", WITNESS.vkey)
    assert code == 1 and out["problems"] == [
        "checkpoint 12 bundel belum disaksikan (kuorum 1 tidak terpenuhi) / the bundle's checkpoint 12 is not "
        "witnessed: the checkpoint is cosigned by 0 of the 1 trusted witnesses (none); 1 needed"]
    code, out, _ = _verify_bundle(capsys, _bundle(runtime), tmp_path, vkey, "--trusted-checkpoint", str(forged))
    assert code == 2 and "not trusted" in out["error"]["message"]
