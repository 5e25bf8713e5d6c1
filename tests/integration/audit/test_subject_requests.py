"""Data-subject requests (UU PDP Art. 32) over a real database and real HTTP through the audit app: a person's
access request received at an office (NIK in the body), answered with their processing trail from the log as an
Indonesian PDF (read back with poppler's pdftotext) and JSON, the export itself recorded in their trail; no NIK in
any URL, log line or stored row; erasure routed to party 1; the 3×24-hour clock."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import inspect, select, text

from p3ke_audit.adapters.orm import entries
from p3ke_platform.audit_client import subject_ref
from p3ke_platform.logging import configure_logging
from tests.integration.audit.desk_support import open_desk, relay_own_records
from tests.integration.audit.helpers import SUBJECT_KEY, T0, access, deliver, handover_signed, nik

PDFTOTEXT = shutil.which("pdftotext")
PERSON = nik(4242)


@pytest.fixture
def desk(database_url: str, tmp_path: Path) -> Iterator[SimpleNamespace]:
    yield from open_desk(database_url, tmp_path)


def _pdf_text(pdf: bytes, tmp_path: Path) -> str:
    assert PDFTOTEXT, "pdftotext is not installed (Debian: apt-get install poppler-utils)"
    path = tmp_path / "jawaban.pdf"
    path.write_bytes(pdf)
    out = subprocess.run([PDFTOTEXT, "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True, timeout=60,
                         check=True).stdout
    return " ".join(out.split())


def _intake(desk: Any, kind: str = "access", org: str = "kemnaker", **extra: Any) -> Any:
    return desk.client.post("/v1/subject-requests", headers=desk.auth(org, "petugas-7"), json={
        "nik": PERSON, "kind": kind, "office": "Dinas Tenaga Kerja Kabupaten Bogor",
        "identity_check": {"document_type": "ktp-el", "checked_by": "petugas-7"}, **extra})


def test_an_access_request_is_answered_with_the_persons_trail(desk: Any, tmp_path: Path,
                                                              capfd: Any) -> None:
    stream = io.StringIO()
    configure_logging("audit", "DEBUG", json=True, stream=stream)
    urls: list[str] = []
    desk.client.event_hooks["request"].append(lambda request: urls.append(str(request.url)))
    try:
        _scenario(desk, tmp_path)
    finally:
        configure_logging("audit", "INFO")
    out, err = capfd.readouterr()
    assert urls and not any(PERSON in u for u in urls)
    assert PERSON not in stream.getvalue() + out + err and "subject-requests" in stream.getvalue()
    stored = []
    with desk.runtime.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            stored += [repr(tuple(r)) for r in conn.execute(text(f'SELECT * FROM "{table}"'))]
    assert stored and not any(PERSON in row for row in stored)


def _scenario(desk: Any, tmp_path: Path) -> None:
    ref = subject_ref(SUBJECT_KEY, PERSON)
    events = [handover_signed("ho-1", T0),
              access(1, action="select", resource_type="extract", resource_id="ext-1", niks=[PERSON, nik(1)]),
              access(2, action="download", resource_type="handover", resource_id="ho-1", niks=[PERSON],
                     at=T0 + timedelta(hours=2)),
              access(3, action="read", resource_type="extract", resource_id="ext-9", niks=[nik(2)])]
    assert deliver(desk.runtime, events) == []
    received = desk.clock.at

    response = _intake(desk, details="Meminta salinan data dan siapa saja yang mengaksesnya.")
    assert response.status_code == 201, response.text
    request = response.json()
    request_id = request["request_id"]
    assert PERSON not in response.text and request["subject_ref"] == ref
    assert (request["kind"], request["status"], request["routed_to_org"], request["identity_document"]) == (
        "access", "open", None, "ktp-el")
    due = datetime.fromisoformat(request["due_at"]) - datetime.fromisoformat(request["received_at"])
    assert due == timedelta(hours=72) and request["hours_left"] == 72.0
    listed = desk.client.get("/v1/subject-requests", headers=desk.auth()).json()
    assert [r["request_id"] for r in listed] == [request_id] and PERSON not in json.dumps(listed)

    # an answer needs the response bundle first
    early = desk.client.post(f"/v1/subject-requests/{request_id}/answer", headers=desk.auth(),
                             json={"channel": "in-person", "sent": "Jawaban diserahkan langsung."})
    assert early.status_code == 409 and "response.pdf" in early.json()["detail"]

    desk.clock.at = received + timedelta(hours=20)
    as_json = desk.client.get(f"/v1/subject-requests/{request_id}/response.json", headers=desk.auth())
    assert as_json.status_code == 200 and as_json.headers["content-type"].startswith("application/json")
    document = as_json.json()
    assert document["format"] == "p3ke.subject-access-response.v1"
    assert document["request"]["subject_ref"] == ref and PERSON not in as_json.text
    trail = [(e["action"], e["resource_id"], e["bast_number"]) for e in document["trail"]]
    assert trail[:2] == [("select", "ext-1", None), ("download", "ho-1", "BAST-ho-1")]
    assert all(e["resource_id"] != "ext-9" for e in document["trail"])  # another person's access
    assert document["not_included"]["id"].startswith("data pribadi dari layanan lain belum disertakan")
    assert document["trail_complete"] is True

    pdf = desk.client.get(f"/v1/subject-requests/{request_id}/response.pdf", headers=desk.auth())
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    words = _pdf_text(pdf.content, tmp_path)
    for expected in ("JAWABAN ATAS PERMINTAAN AKSES DATA PRIBADI", "data pribadi dari layanan lain belum disertakan",
                     f"Nomor permintaan: {request_id}", "KTP elektronik", "Nomor dokumen tidak dicatat",
                     "memilih untuk ekstrak", "ext-1", "mengunduh", "BAST BAST-ho-1", "diizinkan", ref[:40]):
        assert expected in words, expected
    assert PERSON not in words and "ext-9" not in words

    answered = desk.client.post(f"/v1/subject-requests/{request_id}/answer", headers=desk.auth(), json={
        "channel": "in-person", "sent": "PDF dan JSON jawaban diserahkan langsung di kantor."})
    assert answered.status_code == 200, answered.text
    body = answered.json()
    assert (body["status"], body["answer_outcome"], body["answered_late"], body["overdue"]) == (
        "answered", "fulfilled", False, False)
    assert body["response_pdf_sha256"] and body["response_json_sha256"]
    assert [h["change"] for h in body["history"]] == ["received", "response-json", "response-pdf", "answered"]
    again = desk.client.post(f"/v1/subject-requests/{request_id}/answer", headers=desk.auth(),
                             json={"channel": "email", "sent": "Sekali lagi."})
    assert again.status_code == 409

    # the request is itself audited: intake and both exports appear in the person's own trail
    relay_own_records(desk.runtime)
    with desk.runtime.engine.connect() as conn:
        recorded = conn.execute(select(entries.c.action, entries.c.resource_id).where(
            entries.c.resource_type == "subject-request").order_by(entries.c.seq)).all()
    assert ("export", request_id) in recorded and recorded.count(("export", request_id)) == 2
    own = desk.client.post("/v1/subjects/trail", headers=desk.auth(), json={"nik": PERSON, "limit": 100}).json()
    assert {(e["action"], e["resource_type"]) for e in own} >= {("upload", "subject-request"),
                                                                ("export", "subject-request")}


def test_erasure_is_routed_to_party_1_and_the_clock_runs(desk: Any) -> None:
    response = _intake(desk, kind="erase", details="Meminta data saya dihapus dari Data P3KE.")
    assert response.status_code == 201, response.text
    request = response.json()
    assert request["routed_to_org"] == "kemenkopmk"
    assert [h["change"] for h in request["history"]] == ["received", "routed"]
    assert desk.client.get(f"/v1/subject-requests/{request['request_id']}/response.pdf",
                           headers=desk.auth()).status_code == 409  # a bundle answers access requests only

    desk.clock.at += timedelta(hours=73)
    late = desk.client.get(f"/v1/subject-requests/{request['request_id']}", headers=desk.auth()).json()
    assert late["overdue"] is True and late["hours_left"] < 0
    answer = {"channel": "post", "sent": "Surat jawaban penghapusan dikirim.", "outcome": "fulfilled"}
    refused = desk.client.post(f"/v1/subject-requests/{request['request_id']}/answer", headers=desk.auth("kemnaker"),
                               json=answer)
    assert refused.status_code == 403 and refused.headers["X-P3KE-Refusal"] == "routed-to-steward"
    assert "PIHAK KESATU" in refused.json()["detail"]
    done = desk.client.post(f"/v1/subject-requests/{request['request_id']}/answer",
                            headers=desk.auth("kemenkopmk", "dpo-1"), json=answer)
    assert done.status_code == 200 and done.json()["answered_late"] is True


def test_bad_intakes_are_refused_clearly(desk: Any) -> None:
    numbered = _intake(desk, identity_check={"document_type": "ktp-el", "document_number": "3201000000000001"})
    assert numbered.status_code == 422 and "3201000000000001" not in numbered.text
    with_nik = _intake(desk, details=f"NIK saya {PERSON}")
    assert with_nik.status_code == 422 and "NIK" in with_nik.json()["detail"] and PERSON not in with_nik.text
    future = _intake(desk, received_at=(desk.clock.at + timedelta(days=2)).isoformat())
    assert future.status_code == 422 and "masa depan" in future.json()["detail"]
    assert desk.client.post("/v1/subject-requests", headers=desk.auth(), json={"nik": "123", "kind": "access"}) \
        .status_code == 422
    assert desk.client.get("/v1/subject-requests/dsr-missing", headers=desk.auth()).status_code == 404
    assert desk.client.get("/v1/subject-requests", headers=desk.auth(role="operator")).status_code == 403
