"""The ROPA (UU PDP Art. 31) and the DPIA (Art. 34) over HTTP on real PostgreSQL: issued on first use, a new
version with fresh figures on request, a new version automatically when the terms change (another process
started under changed agreement files) or the retention schedule does (another process started with another
schedule file), the history append-only in the database itself, the PDFs in Indonesian with the retention
schedule's table (read back with poppler's pdftotext), and `p3ke audit ropa|dpia` writing the files."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from p3ke_audit.adapters.processing_records_pdf import HEADINGS, SCHEDULE_HEADER
from p3ke_audit.service_layer import processing_records
from p3ke_platform.agreement import BUNDLED_DIR
from p3ke_platform.api import create_app
from p3ke_platform.auth import DevIssuer
from p3ke_platform.cli import main as p3ke
from p3ke_platform.retention import DEFAULT_SCHEDULE
from tests.integration.audit.helpers import access, audit_runtime, cli_environment, deliver

PDFTOTEXT = shutil.which("pdftotext")
NOW = datetime(2026, 3, 10, 3, tzinfo=UTC)


def _desk(url: str, data_dir: Path, **overrides: object) -> SimpleNamespace:
    runtime = audit_runtime(url, data_dir, rate_limit_per_minute=0, **{"agreement_dir": None, **overrides})
    runtime.context.clock = lambda: NOW
    issuer = DevIssuer(runtime.settings)

    def auth(org: str, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {issuer.mint(f'{org}-{role}', org, [role])}"}

    return SimpleNamespace(runtime=runtime, client=TestClient(create_app(runtime)), auth=auth)


@pytest.fixture
def desks(postgres_url: str, tmp_path: Path) -> Iterator[list[SimpleNamespace]]:
    opened: list[SimpleNamespace] = []
    yield opened
    for desk in opened:
        desk.runtime.engine.dispose()


def _changed_terms(directory: Path) -> Path:
    """The PKS with padat_karya no longer receiving `pekerjaan`: other files, other digest."""
    directory.mkdir()
    data = yaml.safe_load((BUNDLED_DIR / "pks-p3ke-2023.yaml").read_text(encoding="utf-8"))
    for program in data["programs"]:
        if program["code"] == "padat_karya":
            program["fields"].remove("pekerjaan")
    (directory / "pks-p3ke-2023.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return directory


def _changed_schedule(path: Path) -> Path:
    """The packaged schedule with raw uploads kept 60 days instead of 30: another file, another digest."""
    text = DEFAULT_SCHEDULE.read_text(encoding="utf-8")
    start = text.index("  - kind: raw-upload")
    path.write_text(text[:start] + text[start:].replace("period: P30D", "period: P60D", 1), encoding="utf-8")
    return path


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _pdf_text(pdf: bytes, tmp_path: Path) -> str:
    assert PDFTOTEXT, "pdftotext is not installed (Debian: apt-get install poppler-utils)"
    path = tmp_path / "dokumen.pdf"
    path.write_bytes(pdf)
    out = subprocess.run([PDFTOTEXT, "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True, timeout=60,
                         check=True).stdout
    return " ".join(out.split())


def _fields(document: dict[str, object], activity: str) -> list[str]:
    return next(a["fields"] for a in document["activities"] if a["id"] == activity)  # type: ignore[index,union-attr]


def test_versions_follow_the_terms_and_stay_append_only(postgres_url: str, tmp_path: Path, desks: list,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    first = _desk(postgres_url, tmp_path / "a")
    desks.append(first)
    operator, auditor = first.auth("kemnaker", "operator"), first.auth("kemenkopmk", "compliance-auditor")

    ropa = first.client.get("/v1/records-of-processing", headers=operator)
    assert ropa.status_code == 200, ropa.text
    assert ropa.headers["X-Document-SHA256"] == hashlib.sha256(ropa.content).hexdigest()
    body = ropa.json()
    assert body["issue"]["version"] == 1 and body["issue"]["reason"] == "first"
    assert body["issue"]["terms_sha256"] == first.runtime.context.terms_sha256
    assert len(body["activities"]) >= 9 and "pekerjaan" in _fields(body, "padat_karya.seleksi_calon_peserta")
    assert body["figures"]["total_accesses"] == 0
    assert first.client.get("/v1/dpia", headers=auditor).json()["issue"]["version"] == 1

    deliver(first.runtime, [access(i) for i in range(6)])
    assert first.client.post("/v1/records-of-processing/versions", headers=operator).status_code == 403
    issued = first.client.post("/v1/records-of-processing/versions", headers=auditor)
    assert issued.status_code == 201, issued.text
    assert [(v["document"], v["version"], v["reason"]) for v in issued.json()] == [
        ("ropa", 2, "requested"), ("dpia", 2, "requested")]
    fresh = first.client.get("/v1/records-of-processing", headers=operator).json()
    assert fresh["issue"]["version"] == 2 and fresh["figures"]["total_accesses"] == 6
    assert processing_records.keep_current(first.runtime.context) == []  # same terms: nothing new

    # another process starts under changed agreement files: new versions, automatically
    second = _desk(postgres_url, tmp_path / "b", agreement_dir=_changed_terms(tmp_path / "terms"))
    desks.append(second)
    operator = second.auth("kemnaker", "operator")
    assert second.runtime.context.terms_sha256 != first.runtime.context.terms_sha256
    issued_now = processing_records.keep_current(second.runtime.context)
    assert [(r["document"], r["version"], r["reason"]) for r in issued_now] == [
        ("ropa", 3, "terms-changed"), ("dpia", 3, "terms-changed")]
    current = second.client.get("/v1/records-of-processing", headers=operator).json()
    assert current["issue"]["terms_sha256"] == second.runtime.context.terms_sha256
    assert "pekerjaan" not in _fields(current, "padat_karya.seleksi_calon_peserta")
    old = second.client.get("/v1/records-of-processing?version=1", headers=operator).json()
    assert old["issue"]["version"] == 1 and "pekerjaan" in _fields(old, "padat_karya.seleksi_calon_peserta")
    missing = second.client.get("/v1/dpia?version=99", headers=operator)
    assert missing.status_code == 404 and missing.json() == {
        "detail": "Penilaian Dampak Pelindungan Data Pribadi versi 99 tidak ada; lihat versi yang ada di GET "
                  "/v1/records-of-processing/versions.", "code": "record.version_missing.dpia"}
    missing_ropa = second.client.get("/v1/records-of-processing?version=99", headers=operator)
    assert missing_ropa.status_code == 404 and missing_ropa.json()["code"] == "record.version_missing.ropa"
    assert second.client.get("/v1/dpia?version=0", headers=operator).status_code == 422

    history = second.client.get("/v1/records-of-processing/versions?document=ropa", headers=operator).json()
    assert [(v["version"], v["reason"]) for v in history] == [(3, "terms-changed"), (2, "requested"), (1, "first")]
    assert history[0]["sha256"] == hashlib.sha256(
        second.client.get("/v1/records-of-processing", headers=operator).content).hexdigest()

    for sql in ("UPDATE audit_processing_records SET reason = 'requested'", "DELETE FROM audit_processing_records",
                "TRUNCATE audit_processing_records"):
        with pytest.raises(DBAPIError, match="processing records are append-only"), \
                second.runtime.engine.begin() as conn:
            conn.execute(text(sql))
    with second.runtime.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_processing_records")).scalar_one() == 6

    # the CLI writes the PDF and the JSON of a version
    cli_environment(second.runtime, monkeypatch)
    monkeypatch.setenv("P3KE_AGREEMENT_DIR", str(tmp_path / "terms"))
    out = tmp_path / "out"
    assert p3ke(["audit", "ropa", "--out", str(out), "--version", "2"]) == 0
    written = json.loads((out / "catatan-kegiatan-pemrosesan-v2.json").read_text(encoding="utf-8"))
    assert written["issue"]["version"] == 2
    assert "CATATAN KEGIATAN PEMROSESAN DATA PRIBADI" in _pdf_text(
        (out / "catatan-kegiatan-pemrosesan-v2.pdf").read_bytes(), tmp_path)
    assert p3ke(["audit", "dpia", "--out", str(out), "--issue"]) == 0
    assert (out / "penilaian-dampak-pdp-v4.pdf").exists() and (out / "penilaian-dampak-pdp-v4.json").exists()
    assert p3ke(["audit", "dpia", "--out", str(out), "--version", "99"]) == 1


@pytest.mark.parametrize(("path", "kind"), [("/v1/records-of-processing.pdf", "ropa"), ("/v1/dpia.pdf", "dpia")])
def test_the_pdfs_are_in_indonesian_with_the_same_facts(postgres_url: str, tmp_path: Path, desks: list, path: str,
                                                         kind: str) -> None:
    desk = _desk(postgres_url, tmp_path / "a")
    desks.append(desk)
    deliver(desk.runtime, [access(i) for i in range(3)])
    response = desk.client.get(path, headers=desk.auth("kemenkopmk", "operator"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["X-Document-Version"] == "1"
    words = _pdf_text(response.content, tmp_path)
    for heading in HEADINGS[kind]:
        assert heading in words, heading
    assert "halaman 1 dari" in words and "versi 1" in words
    assert desk.runtime.context.terms_sha256[:12] in words  # type: ignore[index]
    assert "Jadwal retensi" in words and _sha256(DEFAULT_SCHEDULE) in words  # the header, the table's title
    assert f"jadwal retensi {_sha256(DEFAULT_SCHEDULE)[:12]}" in words  # the footer
    for heading in SCHEDULE_HEADER:
        assert heading in words, heading
    for kind_id, period in (("berkas unggahan mentah", "30 hari"), ("paket serah terima", "30 hari"),
                            ("snapshot yang telah diganti", "90 hari")):
        assert kind_id in words.lower() and period in words, kind_id
    assert "UU PDP Pasal 16 ayat (2)" in words and "paling lambat saat perjanjian berakhir" in words
    if kind == "ropa":
        assert "jadwal retensi bawaan" in words.lower()  # no P3KE_RETENTION_SCHEDULE in this test
        assert "Padat Karya" in words or "padat karya" in words
        assert "padat_karya.seleksi_calon_peserta" in words
    else:
        assert "Reidentifikasi melalui hitungan perencanaan" in words
        assert "Risiko residual tertinggi" in words
    assert "3 akses" in words



def test_a_change_of_the_retention_schedule_issues_new_versions(postgres_url: str, tmp_path: Path,
                                                                desks: list) -> None:
    first = _desk(postgres_url, tmp_path / "a")
    desks.append(first)
    reader = first.auth("kemenkopmk", "compliance-auditor")
    ropa = first.client.get("/v1/records-of-processing", headers=reader).json()
    assert ropa["issue"]["version"] == 1 and ropa["issue"]["schedule_sha256"] == _sha256(DEFAULT_SCHEDULE)
    assert ropa["retention"]["schedule_sha256"] == _sha256(DEFAULT_SCHEDULE)
    assert ropa["retention"]["configured"] is False
    raw = next(r for r in ropa["retention"]["rules"] if r["kind"] == "raw-upload")
    assert (raw["kind_id"], raw["period_id"]) == ("berkas unggahan mentah", "30 hari")
    assert first.client.get("/v1/dpia", headers=reader).json()["issue"]["version"] == 1
    assert processing_records.keep_current(first.runtime.context) == []  # same terms, same schedule

    # another process starts with the schedule the controllers decided: new versions, automatically
    decided = _changed_schedule(tmp_path / "jadwal_retensi.yaml")
    second = _desk(postgres_url, tmp_path / "b", retention_schedule=decided)
    desks.append(second)
    assert second.runtime.context.terms_sha256 == first.runtime.context.terms_sha256
    issued = processing_records.keep_current(second.runtime.context)
    assert [(r["document"], r["version"], r["reason"]) for r in issued] == [
        ("ropa", 2, "schedule-changed"), ("dpia", 2, "schedule-changed")]
    assert processing_records.keep_current(second.runtime.context) == []
    reader = second.auth("kemenkopmk", "compliance-auditor")
    current = second.client.get("/v1/records-of-processing", headers=reader).json()
    assert current["issue"]["schedule_sha256"] == current["retention"]["schedule_sha256"] == _sha256(decided)
    assert current["retention"]["configured"] is True
    assert next(r for r in current["retention"]["rules"] if r["kind"] == "raw-upload")["period_id"] == "60 hari"
    dpia = second.client.get("/v1/dpia", headers=reader).json()
    assert dpia["issue"]["version"] == 2 and _sha256(decided) in " ".join(dpia["necessity_id"])
    old = second.client.get("/v1/records-of-processing?version=1", headers=reader).json()
    assert next(r for r in old["retention"]["rules"] if r["kind"] == "raw-upload")["period_id"] == "30 hari"
    history = second.client.get("/v1/records-of-processing/versions?document=ropa", headers=reader).json()
    assert [(v["version"], v["reason"]) for v in history] == [(2, "schedule-changed"), (1, "first")]

    pdf = second.client.get("/v1/records-of-processing.pdf", headers=reader)
    assert pdf.status_code == 200 and pdf.headers["X-Document-Version"] == "2"
    words = _pdf_text(pdf.content, tmp_path)
    assert "jadwal retensi berubah" in words and "berkas unggahan mentah" in words.lower()
    assert "60 hari" in words and _sha256(decided) in words and _sha256(DEFAULT_SCHEDULE) not in words
    assert "jadwal retensi yang ditetapkan para pengendali" in words.lower()
