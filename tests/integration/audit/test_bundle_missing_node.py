"""A bundle export over a damaged tree (a stored hash deleted by someone with the database) answers 4xx naming the
leaves whose hash is missing, instead of crashing with MissingNode (a 500)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from p3ke_platform.api import create_app
from p3ke_platform.auth import DevIssuer
from p3ke_platform.tlog.merkle import stored_index
from tests.integration.audit.helpers import as_superuser, audit_runtime, make_log

RANGE = {"since": "2026-03-01T00:00:00+07:00", "until": "2027-03-01T00:00:00+07:00"}


def test_a_bundle_over_a_damaged_tree_names_the_missing_leaves(database_url: str, tmp_path: Path) -> None:
    runtime = audit_runtime(database_url, tmp_path, audit_checkpoint_every=8)
    make_log(runtime, 8, batch=8)
    client = TestClient(create_app(runtime), raise_server_exceptions=False)
    auth = {"Authorization": "Bearer " + DevIssuer(runtime.settings).mint("dpo-1", "kemnaker",
                                                                          ["compliance-auditor"])}
    assert client.post("/v1/exports/bundle", json=RANGE, headers=auth).status_code == 200

    as_superuser(runtime, "DELETE FROM audit_tree_nodes WHERE id = :id", params={"id": stored_index(1, 0)})
    response = client.post("/v1/exports/bundle", json=RANGE, headers=auth)
    assert response.status_code == 404, response.text
    detail = response.json()["detail"]
    assert response.json()["code"] == "export.tree_damaged"
    assert detail.startswith("Log audit rusak: pohonnya tidak menyimpan hash yang dibutuhkan bukti")
    assert "the tree lacks the hash of leaves [0, 2)" in detail and "jalankan `p3ke audit verify`" in detail

    as_superuser(runtime, "DELETE FROM audit_entries WHERE leaf_index = 5")  # a leaf the others' proofs need
    response = client.post("/v1/exports/bundle", json={**RANGE, "resource_id": "ext-4"}, headers=auth)
    assert response.status_code == 404 and "the tree lacks the hash of leaves [5, 6)" in response.json()["detail"]
