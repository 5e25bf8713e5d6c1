"""A data subject's rows in the data balikan batches (UU PDP Art. 32), through the real app on PostgreSQL:
found in every batch's stored rows by NIK, answered as party 2 sent them (name, activity, dates, status,
benefit) with what matching made of each; a superseded batch answered as no longer current; audited, the
NIK in no event and no log line; compliance auditors only."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from p3ke_platform.api import create_app
from p3ke_platform.auth import DevIssuer
from p3ke_platform.logging import configure_logging
from p3ke_platform.service import Runtime
from tests.integration.helpers.subject_records import ask, assert_lookup_audited
from tests.unit.feedback.helpers import (
    absent_nik,
    apply,
    dataset_event,
    feedback_row,
    feedback_runtime,
    handover_event,
    prepared_extract,
    submit,
    synthetic_snapshot,
    write_csv,
)


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_snapshot(tmp_path_factory.mktemp("feedback-subject"), 600, seed=4, provinces=["32"])


@pytest.fixture
def service(postgres_url: str, tmp_path: Path, snapshot: Path) -> Iterator[tuple[Runtime, list[dict], TestClient]]:
    rt, people = feedback_runtime(tmp_path, snapshot, postgres_url)
    yield rt, people, TestClient(create_app(rt))
    rt.engine.dispose()


def _headers(rt: Runtime, org: str, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {DevIssuer(rt.settings).mint(f'{role}-1', org, [role])}"}


def test_a_person_in_two_batches(service: tuple[Runtime, list[dict], TestClient], tmp_path: Path,
                                  snapshot: Path) -> None:
    rt, people, client = service
    logs = io.StringIO()
    configure_logging("feedback", "DEBUG", json=True, stream=logs)
    try:
        assert apply(rt, dataset_event(snapshot), prepared_extract(tmp_path, "ext-a", people[:100]),
                     handover_event("ho-a", "ext-a", 100)) == []
        nik = people[7]["nik"]
        first = submit(rt, write_csv(tmp_path / "t1.csv", [feedback_row(p["nik"], nama=f"Penerima {i}")
                                                           for i, p in enumerate(people[:20])]), "ho-a", "padat_karya")
        fix_rows = [feedback_row(p["nik"], nama=f"Penerima {i}", status="putus", selesai="2026-04-15",
                                 kegiatan="Padat karya irigasi, Bogor") for i, p in enumerate(people[:10])]
        fix = submit(rt, write_csv(tmp_path / "fix.csv", fix_rows), "ho-a", "padat_karya",
                     supersedes=first.batch["batch_id"])
        other = submit(rt, write_csv(tmp_path / "t2.csv", [feedback_row(p["nik"]) for p in people[30:40]]),
                       "ho-a", "padat_karya")

        answer = ask(client, _headers(rt, "kemnaker", "compliance-auditor"), nik, "dsr-feedback-1")
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["service"] == "feedback"
        old, new = body["records"]
        assert [old["resource_id"], new["resource_id"]] == [first.batch["batch_id"], fix.batch["batch_id"]]
        assert other.batch["batch_id"] not in answer.text
        assert {r["source"] for r in body["records"]} == {r["resource_type"] for r in body["records"]} == {
            "feedback-batch"}
        assert (old["current"], new["current"]) == (False, True)
        assert f"digantikan oleh {fix.batch['batch_id']}" in old["title"] and "padat_karya" in old["title"]
        # the row as party 2 sent it, and what matching made of it
        assert nik not in answer.text  # the person's NIK is answered as its first 4 digits only
        assert old["fields"] == {"nik": nik[:4] + "*" * 12, "nama": "Penerima 7", "kode_wilayah": "3201011001",
                                 "program": "padat_karya", "kegiatan": "Padat karya jalan desa, Bogor",
                                 "tanggal_mulai": "2026-04-01", "tanggal_selesai": "2026-04-30", "status": "selesai",
                                 "nilai_manfaat": "1500000", "baris": 9, "hasil_pencocokan": old["fields"][
                                     "hasil_pencocokan"], "ditolak": False}
        assert old["fields"]["hasil_pencocokan"]
        assert (new["fields"]["status"], new["fields"]["tanggal_selesai"], new["fields"]["kegiatan"]) == (
            "putus", "2026-04-15", "Padat karya irigasi, Bogor")
        assert old["held_since"] and new["held_since"]

        nobody_nik = absent_nik({p["nik"] for p in people})
        nobody = ask(client, _headers(rt, "kemenkopmk", "compliance-auditor"), nobody_nik, "dsr-feedback-2")
        assert nobody.status_code == 200 and nobody.json()["records"] == []

        assert_lookup_audited(rt, nik, "dsr-feedback-1", records=2)
        assert_lookup_audited(rt, nobody_nik, "dsr-feedback-2", records=0)
        assert logs.getvalue() and nik not in logs.getvalue() and "Penerima 7" not in logs.getvalue()
    finally:
        configure_logging("feedback", "INFO")


@pytest.mark.parametrize(("org", "role"), [("kemnaker", "program-officer"), ("kemenkopmk", "data-steward")])
def test_only_compliance_auditors_may_ask(service: tuple[Runtime, list[dict], TestClient], org: str,
                                          role: str) -> None:
    rt, _, client = service
    refused = ask(client, _headers(rt, org, role), "3201011507900001", "dsr-x")
    assert refused.status_code == 403, refused.text
