"""A caller the agreement refuses is refused before the service reads what it sent (OWASP API4): an
oversized body from a role that may not upload gets the policy's 403 — not 413 — and nothing is read."""

from __future__ import annotations

from pathlib import Path

from tests.security.support import make_app


def test_a_role_that_never_signs_is_refused_before_the_pdf_is_read(tmp_path: Path) -> None:
    app = make_app("delivery", tmp_path, delivery_max_upload_bytes=65536)
    too_big = b"%PDF-1.7\n" + b"0" * 70_000
    officer = {**app.auth("kemnaker", "program-officer"), "Content-Type": "application/pdf"}
    refused = app.client.post("/v1/handovers/ho-x/signatures", content=too_big, headers=officer)
    assert refused.status_code == 403, refused.text
    assert "may not sign-bast" in refused.json()["detail"]
    signatory = {**app.auth("kemnaker", "signatory"), "Content-Type": "application/pdf"}
    assert app.client.post("/v1/handovers/ho-x/signatures", content=too_big, headers=signatory).status_code == 413


def test_a_party_that_never_reports_back_is_refused_before_the_upload_is_stored(tmp_path: Path) -> None:
    app = make_app("feedback", tmp_path, feedback_max_upload_bytes=1024)
    too_big = b"nik,nama\n" + b"3201010101010001,X\n" * 400
    params = {"handover_id": "ho-x", "program": "padat_karya"}
    steward = {**app.auth("kemenkopmk", "data-steward"), "Content-Type": "text/csv"}
    refused = app.client.post("/v1/feedback-batches", params=params, content=too_big, headers=steward)
    assert refused.status_code == 403, refused.text
    assert "tidak berwenang melakukan submit-feedback" in refused.json()["detail"]  # the policy's, in Indonesian
    stored = [p for p in tmp_path.rglob("*") if p.is_file() and not p.name.startswith("feedback.db")]
    assert not [p for p in stored if p.stat().st_size >= 1024], stored
    officer = {**app.auth("kemnaker", "program-officer"), "Content-Type": "text/csv"}
    assert app.client.post("/v1/feedback-batches", params=params, content=too_big, headers=officer).status_code == 413
