"""Bad input as the issue names it: unknown or unsigned handover, another party, a program outside the
handover, the same batch twice, corrections, broken files; precise errors, refusals audited, nothing
half-stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from p3ke_feedback.adapters.orm import batch_cells, feedback_batches
from p3ke_feedback.service_layer import aggregates
from tests.unit.feedback.conftest import World, auth, upload
from tests.unit.feedback.helpers import (
    apply,
    emitted,
    feedback_row,
    handover_event,
    prepared_extract,
    write_csv,
)


def _csv(world: World, name: str, people: list[dict[str, Any]], **row: str) -> Path:
    return write_csv(world.tmp / name, [feedback_row(p["nik"], **row) for p in people])


def _denied(world: World) -> list[dict[str, Any]]:
    return [e for e in emitted(world.runtime, "p3ke.data-access.v1") if e["outcome"] == "denied"]


def _stored(world: World) -> int:
    with world.runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(feedback_batches)) or 0)


def test_unknown_or_unsigned_handover(client: TestClient, world: World) -> None:
    response = upload(client, world, _csv(world, "a.csv", world.delivered[:3]), handover="ho-nope")
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "handover.unknown" and response.headers["Content-Language"] == "id"
    assert body["detail"].startswith("Serah terima 'ho-nope' yang sudah ditandatangani tidak dikenal layanan feedback")
    assert "belum ditandatangani PARA PIHAK" in body["detail"] and "Periksa handover_id" in body["detail"]
    assert response.headers["X-P3KE-Refusal"] == "handover-unknown"
    [refusal] = _denied(world)
    assert refusal["action"] == "upload" and refusal["reason"].startswith("Serah terima 'ho-nope'")
    assert " / no signed handover 'ho-nope' is known to feedback" in refusal["reason"]  # the audit keeps both
    english = upload(client, world, _csv(world, "a.csv", world.delivered[:3]), handover="ho-nope",
                     headers={**auth(world.runtime), "Accept-Language": "en"})
    assert english.status_code == 404 and english.headers["Content-Language"] == "en"
    assert english.json()["code"] == "handover.unknown"
    assert english.json()["detail"].startswith("no signed handover 'ho-nope' is known to feedback")
    assert "Check handover_id" in english.json()["detail"]
    assert _stored(world) == 0


def test_party_1_reads_reports_but_cannot_upload(client: TestClient, world: World) -> None:
    steward = auth(world.runtime, "kemenkopmk", "data-steward", "steward-3")
    response = upload(client, world, _csv(world, "a.csv", world.delivered[:3]), headers=steward)
    assert response.status_code == 403
    assert response.json()["rule"] == "role" and "submit-feedback" in response.json()["detail"]
    assert _denied(world)[0]["actor"]["org"] == "kemenkopmk"
    assert client.get("/v1/reports", headers=steward).status_code == 200
    assert client.get("/v1/handovers", headers=steward).status_code == 200
    operator = client.get("/v1/reports", headers=auth(world.runtime, "kemnaker", "operator"))
    assert operator.status_code == 403 and "read-reports" in operator.json()["detail"]
    assert client.post("/v1/feedback-batches", params={"handover_id": "ho-1", "program": "padat_karya"},
                       content=b"x").status_code == 401
    assert _stored(world) == 0


def test_platform_service_account_needs_the_program_officer_role(client: TestClient, world: World) -> None:
    bare = auth(world.runtime, "kemnaker", "service-account", "svc-pusdatik")
    refused = upload(client, world, _csv(world, "a.csv", world.delivered[:3]), headers=bare)
    assert refused.status_code == 403 and "submit-feedback" in refused.json()["detail"]
    platform = auth(world.runtime, "kemnaker", "service-account", "svc-pusdatik", extra_roles=("program-officer",))
    ok = upload(client, world, _csv(world, "a.csv", world.delivered[:3]), headers=platform)
    assert ok.status_code == 201, ok.text
    assert emitted(world.runtime, "p3ke.feedback-received.v1")[0]["submitted_by"]["service_account"] is True


def test_program_outside_the_handover_other_agreement_other_party(client: TestClient, world: World) -> None:
    response = upload(client, world, _csv(world, "a.csv", world.delivered[:3]), program="tenaga_kerja_mandiri")
    assert response.status_code == 422
    assert response.json() == {
        "detail": "Serah terima ho-1 untuk program padat_karya; batch ini menyebut program tenaga_kerja_mandiri. "
                  "Kirim program=padat_karya, atau periksa handover_id.",
        "code": "handover.other_program", "rule": "handover-program"}
    unknown = upload(client, world, _csv(world, "b.csv", world.delivered[:3]), program="pelatihan_menjahit")
    assert unknown.status_code == 422  # a well-formed code of no handover: the handover decides
    assert unknown.headers["X-P3KE-Refusal"] == "handover-program"
    assert upload(client, world, _csv(world, "b.csv", world.delivered[:3]), program="Pelatihan Menjahit!"
                  ).status_code == 422  # not a program code at all (schema)
    assert apply(world.runtime, prepared_extract(world.tmp, "ext-9", world.people[500:520]),
                 handover_event("ho-other", "ext-9", 20, agreement_id="pks-lain-2025"),
                 handover_event("ho-p1", "ext-9", 20, party2_org="kemenkopmk")) == []
    other = upload(client, world, _csv(world, "c.csv", world.people[500:503]), handover="ho-other")
    assert other.status_code == 409 and other.json()["code"] == "handover.other_agreement"
    assert "termasuk Perjanjian Kerja Sama 'pks-lain-2025'" in other.json()["detail"]
    party = upload(client, world, _csv(world, "d.csv", world.people[500:503]), handover="ho-p1")
    assert party.status_code == 403 and "diserahkan kepada kemenkopmk" in party.json()["detail"]
    assert len(_denied(world)) == 4 and _stored(world) == 0  # (a schema-invalid request is not a refusal)


def test_the_same_batch_twice_and_batch_ids(client: TestClient, world: World) -> None:
    path = _csv(world, "a.csv", world.delivered[:20])
    first = upload(client, world, path, batch_id="kemnaker-2026-001")
    assert first.status_code == 201 and first.json()["batch_id"] == "kemnaker-2026-001"
    again = upload(client, world, path)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["batch_id"] == "kemnaker-2026-001"
    assert upload(client, world, path, batch_id="kemnaker-2026-001").status_code == 200
    clash = upload(client, world, _csv(world, "b.csv", world.delivered[20:30]), batch_id="kemnaker-2026-001")
    assert clash.status_code == 409 and clash.json()["code"] == "batch_id.taken"
    assert "sudah dipakai batch lain; pilih batch_id lain" in clash.json()["detail"]
    assert len(emitted(world.runtime, "p3ke.feedback-received.v1")) == 1 and _stored(world) == 1


def test_a_correction_supersedes_and_keeps_history(client: TestClient, world: World) -> None:
    first = upload(client, world, _csv(world, "a.csv", world.delivered[:30], status="aktif")).json()
    fixed = upload(client, world, _csv(world, "b.csv", world.delivered[:40], status="selesai"),
                   supersedes=first["batch_id"])
    assert fixed.status_code == 201, fixed.text
    old = client.get(f"/v1/feedback-batches/{first['batch_id']}", headers=auth(world.runtime)).json()
    assert old["status"] == "superseded" and old["superseded_by"] == fixed.json()["batch_id"]
    assert fixed.json()["counts_by_match_class"] == {"in_extract": 40}  # not duplicates of what it replaces
    report = client.get("/v1/reports", headers=auth(world.runtime), params={"level": "national"}).json()
    [total] = report["totals"]
    assert total["served"] == 40 and total["by_status"]["completed"] == 40 and total["by_status"]["enrolled"] == 0
    late = upload(client, world, _csv(world, "c.csv", world.delivered[:41]), supersedes=first["batch_id"])
    assert late.status_code == 409 and late.json()["code"] == "supersedes.already"
    assert f"sudah digantikan oleh batch {fixed.json()['batch_id']}" in late.json()["detail"]
    other = upload(client, world, _csv(world, "d.csv", world.delivered[:2]), supersedes="fb-nope")
    assert other.status_code == 409 and other.json()["code"] == "supersedes.other_handover"
    listed = client.get("/v1/feedback-batches", headers=auth(world.runtime), params={"handover_id": "ho-1"}).json()
    assert [b["status"] for b in listed] == ["current", "superseded"]
    [_, second] = emitted(world.runtime, "p3ke.feedback-received.v1")
    assert second["supersedes"] == first["batch_id"]
    with world.runtime.sessions() as session:
        assert aggregates.current_cells(session) == aggregates.recompute(session, world.runtime.context.storage)


def test_empty_multipart_and_altered_extract(client: TestClient, world: World) -> None:
    empty = client.post("/v1/feedback-batches", params={"handover_id": "ho-1", "program": "padat_karya"},
                        content=b"", headers=auth(world.runtime))
    assert empty.status_code == 422 and "empty" in empty.text
    form = client.post("/v1/feedback-batches", params={"handover_id": "ho-1", "program": "padat_karya"},
                       files={"f": ("a.csv", b"x")}, headers=auth(world.runtime))
    assert form.status_code == 415
    ext = world.tmp / "extracts" / "ext-1.parquet"
    ext.write_bytes(ext.read_bytes() + b"\0")
    altered = upload(client, world, _csv(world, "a.csv", world.delivered[:3]))
    assert altered.status_code == 409 and altered.json()["code"] == "handover.files"
    assert "does not match its announced SHA-256" in altered.text and "minta operator" in altered.text
    assert _stored(world) == 0


def test_a_failing_transaction_leaves_nothing_behind(client: TestClient, world: World,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: Any, **__: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(aggregates, "add_batch", boom)
    with pytest.raises(RuntimeError):
        upload(client, world, _csv(world, "a.csv", world.delivered[:5]))
    storage = world.runtime.context.storage
    assert _stored(world) == 0 and emitted(world.runtime, "p3ke.feedback-received.v1") == []
    with world.runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(batch_cells)) == 0
    assert [p for p in storage.rglob("*") if p.is_file()] == []
