"""A request's purpose is structured and decided by the policy; its justification is checked and, when refused,
kept out of the audit log and extract-prepared; a program added by written approval (Art. 10(2)) is selected by
the eligibility the approval states."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from p3ke_platform.agreement import agreement_day
from p3ke_platform.api import create_app
from p3ke_platform.auth import DevIssuer
from p3ke_platform.service import Runtime
from p3ke_targeting.adapters.orm import extract_requests
from p3ke_targeting.domain.selection import years_before
from tests.integration.helpers.agreement_terms import far_agreement_dir
from tests.unit.targeting.helpers import (
    FIELDS,
    apply,
    dataset_event,
    emitted,
    extract_path,
    make_runtime,
    one_prepared,
    request,
)

NIK = "3201010101900001"
APPROVALS = {
    "approval-magang-ln.yaml": """
kind: written-approval
schema_version: 1
id: appr-magang-ln-2026
agreement_id: pks-p3ke-2023
document: B-12/DEP.1/KEMENKO/PMK/01/2026
dated: 2026-01-05
granted_by: kemenkopmk
granted_to: kemnaker
program: pemagangan_luar_negeri
purpose: seleksi_peserta_magang_ln
purpose_title_id: Seleksi peserta pemagangan luar negeri
fields: [nik, nama, tanggal_lahir, padan_dukcapil, status_pekerjaan, pendidikan, kode_kemendagri,
         desil_kesejahteraan]
eligibility:
  summary: usia 20-35 tahun, belum bekerja, tamat SLTA ke atas
  age: {min: 20, max: 35}
  include:
    padan_dukcapil: [Ya]
    status_pekerjaan: [Tidak Bekerja]
    pendidikan: [SLTA/Sederajat, Diploma I/II, Akademi/Diploma III/Sarjana Muda, Diploma IV/Strata I]
valid_from: 2026-01-05
""",
    "approval-typo.yaml": """
kind: written-approval
schema_version: 1
id: appr-salah-ketik-2026
agreement_id: pks-p3ke-2023
document: B-13/DEP.1/KEMENKO/PMK/01/2026
dated: 2026-01-05
granted_by: kemenkopmk
granted_to: kemnaker
program: pelatihan_digital
purpose: seleksi_peserta_digital
fields: [nik, nama]
eligibility:
  summary: belum bekerja
  include:
    status_pekerjaan: [Menganggur]
valid_from: 2026-01-05
""",
    "approval-alamat.yaml": """
kind: written-approval
schema_version: 1
id: appr-padat-karya-survei-2026
agreement_id: pks-p3ke-2023
document: B-14/DEP.1/KEMENKO/PMK/01/2026
dated: 2026-01-05
granted_by: kemenkopmk
granted_to: kemnaker
program: padat_karya
purpose: survei_lokasi_padat_karya
fields: [alamat]
valid_from: 2026-01-05
""",
}


@pytest.fixture
def approved(tmp_path: Path, snapshot: Path) -> Iterator[Runtime]:
    """A targeting runtime whose agreement has party 1's written approvals above (beside the bundled files)."""
    terms = tmp_path / "agreement"
    shutil.copytree(far_agreement_dir(tmp_path), terms)  # the bundled files, in force to 2099 (real time)
    for name, text in APPROVALS.items():
        (terms / name).write_text(text)
    runtime = make_runtime(tmp_path, agreement_dir=terms)
    apply(runtime, dataset_event(snapshot))
    yield runtime
    runtime.engine.dispose()


def _decided(runtime: Runtime, **overrides: Any) -> dict[str, Any]:
    req = request(**overrides)
    assert apply(runtime, req) == []
    return one_prepared(runtime, req.request_id)


def test_a_program_added_by_written_approval_selects_by_its_eligibility(approved: Runtime) -> None:
    event = _decided(approved, program="pemagangan_luar_negeri", purpose="seleksi_peserta_magang_ln", quota=300,
                     criteria={"deciles": [1, 2, 3, 4]},
                     fields=["nik", "tanggal_lahir", "status_pekerjaan", "pendidikan", "padan_dukcapil"])
    assert event["status"] == "accepted", event["reason"]
    assert event["purpose"] == "seleksi_peserta_magang_ln" and event["program"] == "pemagangan_luar_negeri"
    rows = pq.read_table(extract_path(event)).to_pylist()
    assert len(rows) == event["record_count"] > 0
    today = agreement_day(approved.context.clock())
    assert all(years_before(today, 36) < r["tanggal_lahir"] <= years_before(today, 20) for r in rows)
    assert {r["status_pekerjaan"] for r in rows} == {"Tidak Bekerja"}
    assert {r["pendidikan"] for r in rows} <= {"SLTA/Sederajat", "Diploma I/II", "Akademi/Diploma III/Sarjana Muda",
                                               "Diploma IV/Strata I"}
    assert {str(r["padan_dukcapil"]) for r in rows} <= {"Ya", "True"}


def test_an_approval_is_matched_by_its_purpose(approved: Runtime) -> None:
    """An approval tied to a purpose covers only requests naming it (targeting did not pass the purpose before,
    so such an approval never matched)."""
    other = _decided(approved, program="pemagangan_luar_negeri", purpose="seleksi_calon_peserta",
                     fields=["nik", "nama"])
    assert other["status"] == "rejected"
    assert "covers only the purpose 'seleksi_peserta_magang_ln' (asked: 'seleksi_calon_peserta')" in other["reason"]
    extra_field = _decided(approved, purpose="survei_lokasi_padat_karya", fields=["nik", "nama", "alamat"])
    assert extra_field["status"] == "accepted", extra_field["reason"]
    without = _decided(approved, fields=["nik", "nama", "alamat"])
    assert without["status"] == "rejected" and "field 'alamat' is not allowed" in without["reason"]


def test_an_approved_eligibility_outside_the_vocabularies_is_refused_clearly(approved: Runtime) -> None:
    event = _decided(approved, program="pelatihan_digital", purpose="seleksi_peserta_digital", fields=["nik", "nama"])
    assert event["status"] == "rejected"
    assert event["reason"].startswith("aturan kelayakan program pelatihan_digital dari written approval "
                                      "appr-salah-ketik-2026 tidak dapat dipakai")
    assert "eligibility.include.status_pekerjaan: unknown value(s) 'Menganggur'" in event["reason"]


@pytest.mark.parametrize(("purpose", "words"), [
    (None, "request-extract needs a purpose code for program padat_karya"),
    ("pemasaran_produk", "purpose 'pemasaran_produk' is not a purpose of program padat_karya"),
])
def test_a_request_without_a_purpose_of_its_program_is_refused(runtime: Runtime, purpose: str | None,
                                                               words: str) -> None:
    event = _decided(runtime, purpose=purpose)
    assert event["status"] == "rejected" and words in event["reason"]


def test_an_accepted_request_carries_purpose_and_justification(runtime: Runtime) -> None:
    event = _decided(runtime)
    assert event["status"] == "accepted", event["reason"]
    assert (event["purpose"], event["justification"]) == ("seleksi_calon_peserta", "padat karya desa 2026, tahap 1")
    [select_record] = [e for e in emitted(runtime, "p3ke.data-access.v1") if e["action"] == "select"]
    assert select_record["purpose"] == "seleksi_calon_peserta: padat karya desa 2026, tahap 1"


@pytest.mark.parametrize(("text", "words"), [
    (f"padat karya untuk NIK {NIK}", "justification memuat angka mirip NIK"),
    ("padat karya NIK 3201 0101 0190 0001", "justification memuat angka mirip NIK"),
    ("padat karya titipan Bapak Budi Santoso", "justification tampaknya memuat nama orang"),
    ("padat karya desa 2026 " * 13, "justification terlalu panjang: 286 karakter"),
])
def test_a_platform_request_with_personal_data_in_its_justification_is_refused_without_keeping_it(
        runtime: Runtime, text: str, words: str) -> None:
    event = _decided(runtime, justification=text)
    assert event["status"] == "rejected" and event["reason"].startswith(words)
    assert event["justification"] is None and event["purpose"] == "seleksi_calon_peserta"
    [refusal] = [e for e in emitted(runtime, "p3ke.data-access.v1") if e["action"] == "refusal"]
    assert refusal["purpose"] == "seleksi_calon_peserta" and refusal["reason"] == event["reason"]
    kept = json.dumps([event, refusal])
    with runtime.engine.connect() as conn:
        stored = conn.scalar(select(extract_requests.c.request).where(
            extract_requests.c.request_id == event["request_id"]))
    for leak in ("3201 0101", "320101010190", "Budi", "desa 2026 padat"):  # not "3201" alone: ids and times hold it
        assert leak not in kept and leak not in stored
    assert "withheld (refused by the justification check), sha256 " in stored
    assert apply(runtime, request(request_id=event["request_id"], justification=text)) == []  # same request again


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as c:
        yield c


def _post(client: TestClient, runtime: Runtime, body: dict[str, Any]) -> Any:
    token = DevIssuer(runtime.settings).mint("officer-7", "kemnaker", ["program-officer"])
    base = {"program": "padat_karya", "criteria": {"deciles": [1]}, "quota": 10, "fields": FIELDS,
            "purpose": "seleksi_calon_peserta", "justification": "padat karya Jawa Tengah 2026"}
    return client.post("/v1/extract-requests", json={**base, **body}, headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"justification": f"padat karya, utamakan {NIK}"}, 422, "justification memuat angka mirip NIK"),
    ({"justification": "padat karya a.n. Siti Aminah"}, 422, "justification tampaknya memuat nama orang"),
    ({"justification": "x" * 281}, 422, "Kolom 'justification' (isi permintaan) terlalu panjang: paling banyak 280"),
    ({"purpose": None}, 422, "Kolom 'purpose' (isi permintaan) harus berupa teks"),
])
def test_the_api_refuses_a_bad_purpose_or_justification_before_publishing(
        client: TestClient, runtime: Runtime, body: dict[str, Any], status: int, words: str) -> None:
    response = _post(client, runtime, {"request_id": "req-bad-text", **body})
    assert response.status_code == status and words in response.text, response.text
    assert NIK not in response.text and "Siti" not in response.text
    assert emitted(runtime, "p3ke.extract-requested.v1") == []
    with runtime.engine.connect() as conn:
        assert conn.scalar(select(extract_requests.c.request_id)) is None
    refusals = [e for e in emitted(runtime, "p3ke.data-access.v1") if e["action"] == "refusal"]
    if words.startswith("justification"):  # the check's refusal is audited, without the text
        assert [(r["resource_id"], r["reason"]) for r in refusals] == [("req-bad-text", response.json()["detail"])]
        assert NIK not in json.dumps(refusals) and "Siti" not in json.dumps(refusals)


def test_the_api_passes_the_purpose_on(client: TestClient, runtime: Runtime) -> None:
    response = _post(client, runtime, {"request_id": "req-purpose"})
    assert response.status_code == 202, response.text
    [published] = emitted(runtime, "p3ke.extract-requested.v1")
    assert published["purpose"] == "seleksi_calon_peserta"
    assert date.fromisoformat(published["requested_at"][:10])
