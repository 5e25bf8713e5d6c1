"""The full answer to a data-subject access request (UU PDP Art. 32): the audit API asks a REAL ingest API
(`python -m p3ke_ingest api` on a free port, holding two published synthetic snapshots) for the person's records
with the caller's token, and answers with them and the person's trail as JSON and as an Indonesian PDF (read back
with poppler's pdftotext); a wrong NIK is refused; with ingest stopped the bundle is still made, marked incomplete
and naming ingest. The audit service keeps only the bundle's SHA-256: none of the person's fields are stored."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect, text

from p3ke_ingest.bootstrap import SERVICE as INGEST
from p3ke_ingest.config import IngestSettings
from p3ke_platform.audit_client import subject_ref
from p3ke_platform.migrations import upgrade
from p3ke_platform.settings import load_settings
from tests.integration.audit.desk_support import open_desk
from tests.integration.audit.helpers import SUBJECT_KEY, T0, access, deliver
from tests.integration.helpers.processes import ApiProcess
from tests.integration.ingest.subject_support import make_snapshots, publish

PDFTOTEXT = shutil.which("pdftotext")


@pytest.fixture
def world(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:
    """A real ingest API and the audit app sharing the data directory (so the development token issuer) and the
    subject key; ingest holds two published versions of a synthetic snapshot."""
    snapshots = make_snapshots(tmp_path / "synth", families=60)
    ingest = ApiProcess("p3ke_ingest", "ingest", tmp_path / "ingest-api.log", {
        "P3KE_DATA_DIR": str(tmp_path), "P3KE_SUBJECT_HASH_KEY": SUBJECT_KEY, "P3KE_INGEST_ENGINE_MEMORY_MB": "256"})
    upgrade(INGEST, load_settings(IngestSettings, service="ingest", data_dir=tmp_path, env="test",
                                  subject_hash_key=SUBJECT_KEY))
    monkeypatch.setenv("P3KE_AUDIT_SUBJECT_SOURCES", f"ingest={ingest.url}")
    monkeypatch.setenv("P3KE_AUDIT_SUBJECT_SOURCE_TIMEOUT_S", "20")
    with ingest:
        for desk in open_desk(database_url, tmp_path):
            with httpx.Client(base_url=ingest.url, timeout=60) as http:
                versions = [publish(http, desk.auth("kemenkopmk", "steward-1", "data-steward"), files)
                            for files in (snapshots.first, snapshots.second)]
            yield SimpleNamespace(desk=desk, ingest=ingest, snapshots=snapshots, versions=versions)


def _intake(desk: Any, nik: str, kind: str = "access") -> str:
    response = desk.client.post("/v1/subject-requests", headers=desk.auth(), json={
        "nik": nik, "kind": kind, "office": "Dinas Sosial Kabupaten Bogor",
        "identity_check": {"document_type": "ktp-el", "checked_by": "petugas-3"}})
    assert response.status_code == 201, response.text
    return str(response.json()["request_id"])


def _pdf_words(pdf: bytes, tmp_path: Path) -> str:
    assert PDFTOTEXT, "pdftotext is not installed (Debian: apt-get install poppler-utils)"
    path = tmp_path / "jawaban-lengkap.pdf"
    path.write_bytes(pdf)
    out = subprocess.run([PDFTOTEXT, "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True, timeout=60,
                         check=True).stdout
    return " ".join(out.split())


def test_an_access_request_is_answered_with_the_persons_records_and_trail(world: Any, tmp_path: Path) -> None:
    desk, member = world.desk, world.snapshots.member
    old, new = world.versions
    person = member["nik"]
    assert deliver(desk.runtime, [access(1, action="select", resource_type="extract", resource_id="ext-1",
                                         niks=[person], at=T0)]) == []
    request_id = _intake(desk, person)
    url = f"/v1/subject-requests/{request_id}/response"

    answered = desk.client.post(url, headers=desk.auth(), json={"nik": person, "format": "json"})
    assert answered.status_code == 200, answered.text
    assert answered.headers["content-type"].startswith("application/json") and person not in answered.text
    doc = answered.json()
    assert (doc["scope"], doc["complete"], doc["not_included"]) == ("full", True, None)
    assert doc["request"]["subject_ref"] == subject_ref(SUBJECT_KEY, person)
    [source] = doc["records"]
    assert (source["source"], source["status"], source["problem"]) == ("ingest", "answered", None)
    held = [(r["resource_id"], r["current"], r["title"].rsplit(": ", 1)[1]) for r in source["records"]]
    assert held == [(new, True, "data individu"), (new, True, "data keluarga"),
                    (old, False, "data individu"), (old, False, "data keluarga")]
    row = source["records"][0]["fields"]
    assert (row["nama"], row["id_individu"], row["alamat"]) == (member["nama"], member["id_individu"],
                                                                member["alamat"])
    assert [(e["action"], e["resource_id"]) for e in doc["trail"]][:1] == [("select", "ext-1")]

    pdf = desk.client.post(url, headers=desk.auth(), json={"nik": person})  # the PDF by default
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    words = _pdf_words(pdf.content, tmp_path)
    for expected in ("Data pribadi Anda yang disimpan", "Data P3KE (snapshot) – layanan ingest",
                     f"Data P3KE versi {new} (terkini): data individu", "lama, masih disimpan",
                     member["nama"], member["id_individu"], "Status berkas: LENGKAP", "memilih untuk ekstrak"):
        assert expected in words, expected
    assert person not in words

    # the trail-only GET still answers, and says what it lacks and where the full answer is
    trail_only = desk.client.get(f"{url}.json", headers=desk.auth()).json()
    assert (trail_only["scope"], trail_only["complete"], trail_only["records"]) == ("trail-only", False, [])
    assert "POST /v1/subject-requests/{id}/response" in trail_only["not_included"]["id"]

    # only digests and counts are kept: none of the person's fields
    view = desk.client.get(f"/v1/subject-requests/{request_id}", headers=desk.auth()).json()
    made = [h["detail"] for h in view["history"] if h["change"].startswith("response-")]
    assert [(d["scope"], d["complete"], d["sources"]) for d in made] == [
        ("full", True, {"ingest": 4}), ("full", True, {"ingest": 4}), ("trail-only", False, {})]
    stored = []
    with desk.runtime.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            stored += [repr(tuple(r)) for r in conn.execute(text(f'SELECT * FROM "{table}"'))]
    assert stored and not any(person in s or member["nama"] in s or member["id_individu"] in s for s in stored)


def test_a_wrong_nik_and_a_request_that_is_not_access_are_refused(world: Any) -> None:
    desk, member, head = world.desk, world.snapshots.member, world.snapshots.head
    request_id = _intake(desk, member["nik"])
    wrong = desk.client.post(f"/v1/subject-requests/{request_id}/response", headers=desk.auth(),
                             json={"nik": head["nik"], "format": "json"})
    assert wrong.status_code == 422 and wrong.headers["X-P3KE-Rule"] == "nik-mismatch"
    assert wrong.json()["detail"].startswith("NIK tidak cocok") and head["nik"] not in wrong.text
    assert wrong.json()["code"] == "subject_request.nik_mismatch" and wrong.json()["rule"] == "nik-mismatch"
    erase = _intake(desk, member["nik"], kind="erase")
    not_access = desk.client.post(f"/v1/subject-requests/{erase}/response", headers=desk.auth(),
                                  json={"nik": member["nik"]})
    assert not_access.status_code == 409 and not_access.json()["code"] == "subject_request.not_access"
    assert not_access.json()["detail"].startswith("Berkas jawaban hanya dibuat untuk permintaan akses; permintaan ini "
                                                  "berjenis erase.")
    assert desk.client.post("/v1/subject-requests/dsr-missing/response", headers=desk.auth(),
                            json={"nik": member["nik"]}).status_code == 404
    assert desk.client.post(f"/v1/subject-requests/{request_id}/response", headers=desk.auth(role="operator"),
                            json={"nik": member["nik"]}).status_code == 403


def test_a_source_that_cannot_be_asked_makes_an_incomplete_bundle_not_an_error(world: Any, tmp_path: Path) -> None:
    desk, person = world.desk, world.snapshots.member["nik"]
    request_id = _intake(desk, person)
    world.ingest.__exit__()  # ingest stops
    url = f"/v1/subject-requests/{request_id}/response"
    answered = desk.client.post(url, headers=desk.auth(), json={"nik": person, "format": "json"})
    assert answered.status_code == 200, answered.text
    doc = answered.json()
    assert (doc["scope"], doc["complete"]) == ("full", False)
    [source] = doc["records"]
    assert (source["source"], source["status"], source["records"]) == ("ingest", "unavailable", [])
    assert source["problem"].startswith("layanan tidak dapat dihubungi")
    assert doc["not_included"]["what"] == ["ingest"] and doc["not_included"]["id"].endswith(": ingest")
    words = _pdf_words(desk.client.post(url, headers=desk.auth(), json={"nik": person}).content, tmp_path)
    assert "Status berkas: TIDAK LENGKAP" in words and "Tidak dapat ditanyai: layanan tidak dapat dihubungi" in words
    assert "tidak dapat ditanyai, sehingga data Anda yang disimpannya belum termasuk: ingest" in words
    view = desk.client.get(f"/v1/subject-requests/{request_id}", headers=desk.auth()).json()
    assert view["history"][-1]["detail"]["sources"] == {"ingest": None}
    assert json.dumps(view).count(person) == 0
