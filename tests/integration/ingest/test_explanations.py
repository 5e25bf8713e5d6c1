"""A data steward reads ingest's explanations through the API (#20): the submission's reasons and every
finding in Indonesian with how to fix it, in English with `Accept-Language: en`; every refusal of an upload
(an empty body, a file refused when submitted, a submission validation refused) leaves an audit record."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from p3ke_ingest.bootstrap import SERVICE
from p3ke_ingest.config import IngestSettings
from p3ke_ingest.service_layer.jobs import JobRunner
from p3ke_ingest.synth import generate
from p3ke_platform.api import create_app
from p3ke_platform.auth import DevIssuer
from p3ke_platform.migrations import upgrade
from p3ke_platform.service import Runtime
from p3ke_platform.settings import load_settings
from p3ke_schemas import from_kafka

EN = {"Accept-Language": "en-US,en;q=0.9"}


@pytest.fixture
def service(database_url: str, tmp_path: Path) -> Iterator[Any]:
    settings = load_settings(IngestSettings, service="ingest", database_url=database_url, data_dir=tmp_path / "data",
                             env="test", relay_in_api=False, jobs_in_api=False, ingest_engine_memory_mb=256)
    upgrade(SERVICE, settings)
    runtime = Runtime(SERVICE, settings)
    token = DevIssuer(settings).mint("steward-1", "kemenkopmk", ["data-steward"])

    yield SimpleNamespace(client=TestClient(create_app(runtime)), runtime=runtime,
                          steward={"Authorization": f"Bearer {token}"})
    runtime.engine.dispose()


def _audit(s: Any) -> list[Any]:
    outbox = s.runtime.spec.tables.outbox
    with s.runtime.engine.connect() as conn:
        rows = conn.execute(select(outbox.c.key, outbox.c.value, outbox.c.headers).order_by(outbox.c.seq)).all()
    events = [from_kafka(r.key.encode(), r.value, [(k, v.encode()) for k, v in json.loads(r.headers)]) for r in rows]
    return [e.data for e in events if e.type == "p3ke.data-access.v1"]


def _numeric_nik_xlsx(path: Path, individuals: int = 200) -> Path:
    """A real export's mistake: the NIK column typed as numbers in Excel (15 significant digits kept)."""
    source = generate(path.parent / "synth", individuals=individuals, seed=31)
    with source.individual_path.open(encoding="utf-8", newline="") as f:  # type: ignore[union-attr]
        rows = list(csv.reader(f))
    i = rows[0].index("nik")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(rows[0])
    for r in rows[1:]:
        ws.append([*r[:i], float(f"{int(r[i]):.15g}"), *r[i + 1:]])
    wb.save(path)
    return path


def test_a_refused_submission_is_explained_in_indonesian_and_english_and_audited(service: Any,
                                                                                  tmp_path: Path) -> None:
    s = service
    path = _numeric_nik_xlsx(tmp_path / "individu.xlsx")
    up = s.client.post("/v1/uploads", params={"filename": path.name}, content=path.read_bytes(), headers=s.steward)
    assert up.status_code == 201, up.text
    sid = s.client.post("/v1/submissions", json={"individual": {"upload_id": up.json()["upload_id"]}},
                        headers=s.steward).json()["submission_id"]
    assert JobRunner(s.runtime.context).run_once()
    body = s.client.get(f"/v1/submissions/{sid}", headers=s.steward).json()
    assert body["status"] == "refused"
    assert body["reasons"][0].startswith("file individu individu.xlsx: kolom NIK tersimpan sebagai angka")
    assert "Cara memperbaiki: format kolom NIK sebagai Teks" in body["reasons"][0]
    english = s.client.get(f"/v1/submissions/{sid}", headers={**s.steward, **EN}).json()
    assert english["reasons"][0].startswith("individual file individu.xlsx: the NIK column is stored as numbers")
    assert "How to fix: format the NIK column as Text" in english["reasons"][0]
    # the findings: file-level first, each with how to fix it, in the language asked for
    page = s.client.get(f"/v1/submissions/{sid}/findings", params={"limit": 3}, headers=s.steward).json()
    assert [i["code"] for i in page["items"][:2]] == ["file_read", "nik_column_numeric"]
    assert page["items"][1]["fix"].startswith("format kolom NIK sebagai Teks")
    assert page["items"][2]["code"] == "nik_scientific" and "digit terakhirnya hilang" in page["items"][2]["message"]
    page_en = s.client.get(f"/v1/submissions/{sid}/findings", params={"limit": 3, "lang": "en"},
                           headers=s.steward).json()
    assert page_en["items"][1]["fix"].startswith("format the NIK column as Text")
    assert "message_en" not in page_en["items"][1]
    exported = s.client.get(f"/v1/submissions/{sid}/findings.csv", headers={**s.steward, **EN}).text
    header, *rows = list(csv.reader(io.StringIO(exported.lstrip("\ufeff"))))
    assert header == ["file", "data_row", "line", "field", "code", "severity", "message", "fix", "value"]
    assert all(r[7] for r in rows if r[5] != "info") and "last digits are lost" in exported
    refusals = [a for a in _audit(s) if a.outcome == "denied"]
    assert [(a.resource_type, a.resource_id) for a in refusals] == [("dataset-submission", sid)]
    assert "nik_column_numeric" in (refusals[0].reason or "") and "individu.xlsx" not in (refusals[0].reason or "")


def test_every_refused_upload_is_audited(service: Any, tmp_path: Path) -> None:
    s = service
    empty = s.client.post("/v1/uploads", content=b"", headers=s.steward)
    assert empty.status_code == 422
    one_line = tmp_path / "one-line.csv"
    one_line.write_bytes(b"nik,nama,kode_kemendagri," * 50_000)  # no line break in its first MiB
    up = s.client.post("/v1/uploads", params={"filename": one_line.name}, content=one_line.read_bytes(),
                       headers=s.steward).json()["upload_id"]
    refused = s.client.post("/v1/submissions", json={"individual": {"upload_id": up}}, headers=s.steward)
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert detail.startswith("file individu one-line.csv: tidak ada jeda baris dalam 1,048,576 byte")
    assert "Cara memperbaiki" in detail and "there is no line break" not in detail  # Indonesian unless asked
    assert refused.headers["X-P3KE-Refusal"] == "file" and refused.json()["code"].startswith("file.")
    missing = s.client.post("/v1/submissions", json={"individual": {"upload_id": "ab" * 16}}, headers=s.steward)
    assert missing.status_code == 422 and missing.json()["code"] == "upload.unknown"
    assert missing.json()["detail"] == (f"Berkas individu: unggahan {'ab' * 16} tidak ada; unggah berkasnya dulu "
                                        "(POST /v1/uploads), lalu kirim upload_id yang diberikan.")
    denied = [(a.action, a.resource_type, a.outcome) for a in _audit(s) if a.outcome == "denied"]
    assert denied == [("upload", "dataset-upload", "denied"), ("upload", "dataset-submission", "denied"),
                      ("upload", "dataset-submission", "denied")]
    english = s.client.post("/v1/submissions", json={"individual": {"upload_id": up}}, headers={**s.steward, **EN})
    assert english.status_code == 422 and english.headers["Content-Language"] == "en"
    assert english.json()["code"] == refused.json()["code"]
    assert english.json()["detail"].startswith("individual file one-line.csv: there is no line break")
    assert "How to fix" in english.json()["detail"] and "Cara memperbaiki" not in english.json()["detail"]
