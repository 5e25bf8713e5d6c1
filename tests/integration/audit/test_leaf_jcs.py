"""Leaves an outsider can rebuild: every entry the entries API returns, and every entry of an exported bundle,
hashes to its leaf with an independent RFC 8785 library (`rfc8785`): SHA-256(0x00 || JCS(entry)) — new entries
(format 3) with non-ASCII text, escapes and an integer beyond 2^53, and the entries of the earlier formats 1 and
2 (whose integers are within 2^53) alike. On SQLite and PostgreSQL, through the real handler, appender and API.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import rfc8785
from fastapi.testclient import TestClient
from sqlalchemy import select

from p3ke_audit.adapters.orm import entries
from p3ke_audit.service_layer.appender import appender_for
from p3ke_audit.service_layer.handlers import entry_row
from p3ke_platform.api import create_app
from p3ke_platform.auth import DevIssuer
from p3ke_platform.service import Runtime
from p3ke_platform.tlog.merkle import verify_inclusion
from p3ke_platform.tlog.note import open_note, parse_verifier_key
from p3ke_schemas import Actor
from tests.integration.audit.helpers import access, audit_runtime, deliver, nik, signed

RANGE = {"since": "2026-03-01T00:00:00+07:00", "until": "2027-03-01T00:00:00+07:00"}
BIG = 2**60 + 1  # beyond 2^53: no JSON number survives a double, so format 3 writes it as a string
ODD_TEXT = "ekstrak “Q1” \\ 2026\n\t\x01\x7f\u2028 😀 é"


def _append_rows(runtime: Runtime, rows: list[dict[str, Any]]) -> None:
    with runtime.sessions() as session, session.begin():
        appender = appender_for(session, runtime.settings, lambda: runtime.context.signer)
        for row in rows:
            appender.add(row)


def _log(database_url: str, tmp_path: Path) -> Runtime:
    """Entries of every format: 1 and 2 as an older log wrote them (no stored format), then format 3 through the
    handler, one with odd text everywhere a person types, and one with a record count beyond 2^53."""
    runtime = audit_runtime(database_url, tmp_path, audit_checkpoint_every=4)
    legacy = entry_row(signed(access(900)))[0]
    v1 = {**legacy, "envelope": None, "signature": None, "key_id": None, "leaf_format": None,
          "event_id": "legacy-1", "payload": json.dumps({"a": "é"}, sort_keys=True, separators=(",", ":"))}
    v2 = {**entry_row(signed(access(901)))[0], "leaf_format": None}
    _append_rows(runtime, [v1, v2])
    odd = access(5, resource_id=ODD_TEXT, reason='ditolak: "perjanjian" berakhir — 😀', outcome="denied",
                 actor=Actor(org="kemnaker", subject="petugas-é “7”", roles=["program-officer"]), niks=[nik(5)])
    assert deliver(runtime, [access(i, niks=[nik(i)]) for i in range(5)] + [odd]) == []
    # The signing of events refuses integers beyond 2^53 (JCS), so no handler writes one: append it directly to
    # show how format 3 writes what the column can hold.
    big = {**entry_row(signed(access(902)))[0], "record_count": BIG}
    _append_rows(runtime, [big])
    assert runtime.context.issue_checkpoint(force=True) is not None
    return runtime


def _jcs_leaf(obj: dict[str, Any]) -> bytes:
    return hashlib.sha256(b"\x00" + rfc8785.dumps(obj)).digest()


def test_entries_and_bundles_hash_to_their_leaves_with_an_independent_jcs_library(
        database_url: str, tmp_path: Path) -> None:
    runtime = _log(database_url, tmp_path)
    with runtime.engine.connect() as conn:
        stored = {int(i): (bytes(h), f) for i, h, f in conn.execute(
            select(entries.c.leaf_index, entries.c.leaf_hash, entries.c.leaf_format))}
    assert [stored[i][1] for i in sorted(stored)] == [None, None, 3, 3, 3, 3, 3, 3, 3]

    client = TestClient(create_app(runtime))
    auth = {"Authorization": "Bearer " + DevIssuer(runtime.settings).mint("dpo-1", "kemnaker",
                                                                          ["compliance-auditor"])}
    listed = client.get("/v1/entries", params={"limit": 1000}, headers=auth)
    assert listed.status_code == 200, listed.text
    by_leaf = {e["leaf_index"]: e for e in listed.json()}
    assert sorted(by_leaf) == sorted(stored)
    for leaf_index, entry in by_leaf.items():
        assert base64.b64decode(entry["leaf_hash"]) == stored[leaf_index][0] == _jcs_leaf(entry["leaf"])
        assert entry["leaf"]["leaf_index"] == leaf_index and entry["leaf"]["event_id"] == entry["event_id"]
    assert [by_leaf[i]["leaf"]["v"] for i in sorted(by_leaf)] == [1, 2, 3, 3, 3, 3, 3, 3, 3]
    odd = next(e for e in by_leaf.values() if e["resource_id"] == ODD_TEXT)
    assert odd["leaf"]["resource_id"] == ODD_TEXT and odd["leaf"]["actor_subject"] == "petugas-é “7”"
    assert "😀" in json.loads(odd["leaf"]["payload"])["reason"]
    assert '"resource_id":"ekstrak “Q1” \\\\ 2026\\n\\t\\u0001\x7f\u2028 😀 é"' in rfc8785.dumps(odd["leaf"]).decode()
    big = next(e for e in by_leaf.values() if e["record_count"] == BIG)
    assert big["leaf"]["record_count"] == str(BIG)  # the API's own field stays the number; the leaf has the string

    # the bundle: the same objects, each with its inclusion proof in the signed checkpoint
    name, public = parse_verifier_key(client.get("/v1/public-key", headers=auth).json()["verifier_key"])
    response = client.post("/v1/exports/bundle", json=RANGE, headers=auth)
    assert response.status_code == 200, response.text
    bundle = response.json()
    head = open_note(bundle["checkpoint"], name, public)
    assert head.size == len(stored) and len(bundle["entries"]) == len(stored)
    for item in bundle["entries"]:
        entry = item["entry"]
        leaf = _jcs_leaf(entry)
        assert leaf == stored[entry["leaf_index"]][0] and entry == by_leaf[entry["leaf_index"]]["leaf"]
        verify_inclusion(leaf, entry["leaf_index"], head.size, [base64.b64decode(h) for h in item["inclusion_proof"]],
                         head.root)
