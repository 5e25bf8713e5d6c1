"""`p3ke audit verify` re-verifies every entry's origin (issue 15): rows INSERTed directly into the log, each
with a correct leaf hash and the tree updated over it as the appender would (and a checkpoint then signed
over them by the log itself), pass every tree check; the command names each one no pinned key signed, and
fails. Entries from before events were signed (format 1) are a warning, unless one follows signed entries.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, text

from p3ke_audit.adapters.orm import entries, verifications
from p3ke_audit.adapters.tree_store import TreeStore
from p3ke_audit.bootstrap import SERVICE
from p3ke_audit.config import AuditSettings
from p3ke_audit.domain.entry import FORMAT_COLUMN, ORDER, ORIGIN_FIELDS, entry_leaf_hash
from p3ke_audit.service_layer.appender import appender_for
from p3ke_audit.service_layer.handlers import entry_row
from p3ke_platform.event_keys import dev_signer
from p3ke_platform.migrations import upgrade
from p3ke_platform.service import Runtime
from p3ke_platform.settings import load_settings
from p3ke_platform.tlog.merkle import Frontier, stored_index
from p3ke_schemas import CloudEvent, EventSigner, canonicalize, sign_event, verify_event
from tests.integration.audit.helpers import (
    SUBJECT_KEY,
    access,
    audit_runtime,
    cli_environment,
    deliver,
    make_log,
    nik,
    signed,
    verify,
)

ROGUE = EventSigner("rogue-1", Ed25519PrivateKey.generate())


def _cli(runtime: Runtime, *args: str) -> subprocess.CompletedProcess[str]:
    """`p3ke audit verify` as an operator runs it: its own process, the settings from the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("P3KE_")}
    env.update(P3KE_ENV="test", P3KE_DATABASE_URL=runtime.settings.database_url,
               P3KE_DATA_DIR=str(runtime.settings.data_dir), P3KE_LOG_LEVEL="WARNING")
    return subprocess.run([sys.executable, "-m", "p3ke_platform.cli", "audit", "verify", *args], env=env,
                          capture_output=True, text=True, timeout=300)


def insert_directly(runtime: Runtime, rows: list[dict[str, Any]], *, before_0003: bool = False) -> list[int]:
    """What the application role's INSERT right allows around the handler: each row at the end of the tree
    with its correct leaf hash, and the subtree hashes it completes, as the appender writes them (with
    `before_0003`, into the table as it was before the evidence columns)."""
    leaves = []
    with runtime.engine.begin() as conn:
        store = TreeStore(conn)
        store.lock()
        frontier = Frontier.load(store.size(), store.lookup)
        for row in rows:
            row = {**{name: None for name in ORDER}, **row, "leaf_index": frontier.size}
            row["leaf_hash"] = entry_leaf_hash(row)
            columns = [c for c in row if not (before_0003 and c in (*ORIGIN_FIELDS, FORMAT_COLUMN))]
            conn.execute(text(f"INSERT INTO audit_entries ({', '.join(columns)}) "
                              f"VALUES ({', '.join(':' + c for c in columns)})"), row)
            for level, idx, h in frontier.append(row["leaf_hash"]):
                conn.execute(text("INSERT INTO audit_tree_nodes (id, level, idx, hash) VALUES (:i, :l, :x, :h)"),
                             {"i": stored_index(level, idx), "l": level, "x": idx, "h": h})
            leaves.append(row["leaf_index"])
    return leaves


def _row(event: CloudEvent) -> dict[str, Any]:
    row, _ = entry_row(event)
    return row


def _forged_by(signer: EventSigner, event: CloudEvent, owner: str) -> CloudEvent:
    """`event` signed by `signer`, with no check of whether the deployment trusts it."""
    return verify_event(*sign_event(event, signer, owner), lambda _: signer.public_key())


def _forgeries() -> list[tuple[str, dict[str, Any], str]]:
    """(what, the row, the reason verify must give)."""
    unknown_key = _row(_forged_by(ROGUE, access(900, service="targeting"), "targeting"))
    unsigned = {**_row(signed(access(901))), "signature": None}
    genuine = _row(signed(access(902, outcome="allowed")))
    other_data = {**genuine, "outcome": "denied",
                  "payload": canonicalize({**json.loads(genuine["payload"]), "outcome": "denied"}).decode()}
    no_evidence = {**_row(signed(access(903))), "envelope": None, "signature": None, "key_id": None,
                   "leaf_format": None}  # as a row written before migration 0005 would be
    wrong_service = _row(_forged_by(dev_signer("targeting"), access(904, service="delivery"), "delivery"))
    return [
        ("a signature by a key no one pinned", unknown_key, "'rogue-1' is not a key this deployment pins"),
        ("no signature", unsigned, "origin evidence is incomplete"),
        ("a genuine signature over other data", other_data, "signature does not verify"),
        ("no evidence at all (format 1) after signed entries", no_evidence,
         "no origin evidence (format 1) but was recorded after signed entries began at leaf 0"),
        ("a data-access of delivery signed by targeting's key", wrong_service,
         "in the name of 'delivery' is signed by targeting's key"),
    ]


@pytest.mark.postgres
def test_verify_names_every_inserted_row_no_pinned_key_signed(postgres_url: str, tmp_path: Path) -> None:
    runtime = audit_runtime(postgres_url, tmp_path, audit_checkpoint_every=8)
    make_log(runtime, 20, batch=5)
    forgeries = _forgeries()
    forged = insert_directly(runtime, [row for _, row, _ in forgeries])
    make_log(runtime, 9, batch=3, seed=2)  # the log goes on over them ...
    runtime.context.issue_checkpoint()  # ... and signs a checkpoint covering them: the tree alone says intact
    assert verify(runtime, keys=None).ok
    assert forged == list(range(20, 25))

    done = _cli(runtime, "--json", "--no-record")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is False and report["origin_checked"] is True
    assert report["first_bad_leaf"] is None and report["entries_checked"] == 34  # every tree check holds
    assert report["origin_failed"] == len(forgeries) and report["signed_entries"] == 34 - len(forgeries)
    with runtime.engine.connect() as conn:
        stored = {r.leaf_index: r
                  for r in conn.execute(select(entries.c.leaf_index, entries.c.seq, entries.c.event_id))}
    named = report["origin_failures"]
    assert [f["leaf_index"] for f in named] == forged
    for failure, (what, row, reason) in zip(named, forgeries, strict=True):
        leaf = failure["leaf_index"]
        assert failure["event_id"] == row["event_id"] == stored[leaf].event_id, what
        assert failure["seq"] == stored[leaf].seq, what
        assert reason in failure["reason"], (what, failure)
        assert any(f"entry at leaf {leaf} (seq {stored[leaf].seq}, event {row['event_id']})" in p
                   for p in report["problems"]), what
    assert report["unsigned_entries"] == 0 and report["warnings"] == []

    # the human report: FAILED on stdout with the leaves, every forged row named on stderr; the result kept
    done = _cli(runtime)
    assert done.returncode == 1 and done.stdout.startswith("FAILED"), done
    assert "5 entries without a valid origin signature (leaf 20, 21, 22, 23, 24)" in done.stdout
    for leaf in forged:
        assert f"entry at leaf {leaf} (seq {stored[leaf].seq}," in done.stderr
    with runtime.engine.connect() as conn:
        kept = conn.execute(select(verifications)).mappings().one()
    assert not kept["ok"] and kept["first_bad_leaf"] == 20 and "without a valid origin signature" in kept["message"]


def _legacy_rows(n: int, first: int) -> list[dict[str, Any]]:
    """Entries as the log wrote them before events were signed (format 1): no evidence, the data as the
    service serialised it."""
    rows = []
    for i in range(first, first + n):
        row = _row(signed(access(i, niks=[nik(i)])))
        data = json.loads(row["payload"])
        row.update(envelope=None, signature=None, key_id=None, leaf_format=None,  # before migration 0005
                   payload=json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
        rows.append(row)
    return rows


def _append(runtime: Runtime, rows: list[dict[str, Any]]) -> None:
    with runtime.sessions() as session, session.begin():
        appender = appender_for(session, runtime.settings, lambda: runtime.context.signer)
        for row in rows:
            appender.add(row)


def test_entries_from_before_signing_are_a_warning_unless_they_follow_signed_ones(
        database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from p3ke_platform.cli import main as p3ke

    runtime = audit_runtime(database_url, tmp_path, audit_checkpoint_every=4)
    _append(runtime, _legacy_rows(6, 500))  # the log before the upgrade (format 1)
    make_log(runtime, 7, batch=3)  # signed events from then on (format 2)
    report = verify(runtime)
    assert report.ok, report.summary()
    assert (report.unsigned_entries, report.unsigned_ranges, report.signed_entries) == (6, [[0, 5]], 7)
    assert report.first_signed_leaf == 6
    assert "warning: 6 entries without origin evidence (format 1, recorded before events were signed): leaves 0..5" \
        in report.summary()

    cli_environment(runtime, monkeypatch)
    capsys.readouterr()
    assert p3ke(["audit", "verify", "--json", "--no-record"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] and out["unsigned_entries"] == 6 and out["unsigned_ranges"] == [[0, 5]]
    assert out["warnings"] and "format 1" in out["warnings"][0]

    # a format 1 row after signing began: written around the check, named, and the verification fails
    _append(runtime, _legacy_rows(1, 700))
    make_log(runtime, 2, batch=2, seed=3)
    assert p3ke(["audit", "verify", "--json", "--no-record"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert [f["leaf_index"] for f in out["origin_failures"]] == [13] and out["first_bad_leaf"] is None
    assert "recorded after signed entries began at leaf 6" in out["origin_failures"][0]["reason"]
    assert out["unsigned_entries"] == 6 and out["signed_entries"] == 9


def test_the_handler_writes_no_unsigned_entry(database_url: str, tmp_path: Path) -> None:
    """A consumer that skipped the origin check: the event is refused (dead-lettered), not written."""
    runtime = audit_runtime(database_url, tmp_path)
    events = [access(i) for i in range(3)]
    rejected = deliver(runtime, events, sign=False)
    assert [reason for _, reason in rejected] == ["the event's signature was not verified: the audit log records "
                                                  "signed events only"] * 3
    assert deliver(runtime, events) == []  # the same events, verified: appended
    report = verify(runtime)
    assert report.ok and report.signed_entries == 3 and report.unsigned_entries == 0



def test_entries_of_a_log_from_before_migration_0003_keep_verifying(database_url: str, tmp_path: Path) -> None:
    """The log as it was (schema 0002, format 1 leaves, a checkpoint over them), then the upgrade: the old
    leaves, nodes and checkpoint verify unchanged, the new entries are signed, and the schema is the model's."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    settings = load_settings(AuditSettings, service="audit", database_url=database_url, data_dir=tmp_path,
                             env="test", subject_hash_key=SUBJECT_KEY, relay_in_api=False,
                             agreement_include_examples=True, audit_checkpoint_every=4)
    upgrade(SERVICE, settings, "0002")
    runtime = Runtime(SERVICE, settings)
    assert insert_directly(runtime, _legacy_rows(6, 300), before_0003=True) == list(range(6))
    assert runtime.context.issue_checkpoint() is not None
    upgrade(SERVICE, settings)  # 0003: the evidence columns
    with runtime.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), runtime.spec.metadata) == []
        assert conn.execute(select(entries.c.envelope).where(entries.c.leaf_index < 6)).scalars().all() == [None] * 6
    make_log(runtime, 5, batch=5)
    report = verify(runtime)
    assert report.ok, report.summary()
    assert (report.unsigned_entries, report.signed_entries, report.checkpoints_checked) == (6, 5, 2)


def test_a_bundle_verifies_its_origins_offline_with_the_exported_event_keys(
        database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`p3ke audit event-keys` writes the deployment's public event keys; with them `verify-bundle` checks every
    entry's origin of an exported bundle as `verify` does, and names the row INSERTed around the handler that
    the log's own tree and checkpoint cover."""
    from p3ke_audit.service_layer.export import build_bundle
    from p3ke_audit.service_layer.queries import Filters
    from p3ke_platform.cli import main as p3ke

    runtime = audit_runtime(database_url, tmp_path, audit_checkpoint_every=4)
    _append(runtime, _legacy_rows(2, 500))  # from before signing (format 1)
    make_log(runtime, 9, batch=3)
    cli_environment(runtime, monkeypatch)
    capsys.readouterr()
    assert p3ke(["audit", "event-keys"]) == 0
    keys = tmp_path / "event-keys.json"
    keys.write_text(capsys.readouterr().out)
    exported = json.loads(keys.read_text())["keys"]
    assert {k["owner"] for k in exported} >= {"targeting", "party-1 platform", "party-2 platform"}
    assert all("d" not in k["jwk"] for k in exported)
    monkeypatch.delenv("P3KE_DATABASE_URL")  # the auditor has the files only

    def export() -> Path:
        runtime.context.issue_checkpoint()
        with runtime.sessions() as session:
            bundle = build_bundle(session, Filters(), limit=1000, origin=runtime.settings.audit_origin)
        path = tmp_path / "bundle.json"
        path.write_text(json.dumps(bundle))
        return path

    vkey = runtime.context.signer.verifier_key
    path = export()
    assert p3ke(["audit", "verify-bundle", str(path), "--key", vkey, "--event-keys", str(keys), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["origin_checked"] and report["entries_checked"] == 11
    assert (report["signed_entries"], report["unsigned_entries"], report["unsigned_ranges"]) == (9, 2, [[0, 1]])

    forged_row = _forgeries()[0][1]  # signed by a key no one pinned
    [forged] = insert_directly(runtime, [forged_row])
    make_log(runtime, 3, batch=3, seed=2)
    path = export()  # the log's checkpoint covers the forged row: as a tree, the bundle is intact
    assert p3ke(["audit", "verify-bundle", str(path), "--key", vkey]) == 0
    assert "asal entri (tanda tangan produsen event) TIDAK diperiksa" in capsys.readouterr().out
    assert p3ke(["audit", "verify-bundle", str(path), "--key", vkey, "--event-keys", str(keys)]) == 1
    err = capsys.readouterr().err
    assert f"entry at leaf {forged} (event {forged_row['event_id']}) has no valid origin signature: key 'rogue-1' " \
           "is not a key this deployment pins" in err
    assert "asal entri: 12 tanda tangan sah, 1 gagal, 2 tanpa bukti asal" in err
