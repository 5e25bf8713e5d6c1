"""Every match class, produced from constructed data, through the API; counts in feedback-received;
findings masked; nothing personal in the event or the answers."""

from __future__ import annotations

from fastapi.testclient import TestClient

from p3ke_platform.audit_client import subject_ref
from p3ke_platform.unit_of_work import MAX_SUBJECTS_PER_EVENT
from tests.unit.feedback.conftest import World, auth, upload
from tests.unit.feedback.helpers import absent_nik, emitted, feedback_row, write_csv


def test_every_match_class(client: TestClient, world: World) -> None:
    d, o = world.delivered, world.outside
    rows = [feedback_row(p["nik"], kode=p["kode_kemendagri"]) for p in d[:50]]  # in the extract
    rows += [feedback_row(p["nik"], kode=p["kode_kemendagri"], status="aktif") for p in o[:7]]  # not delivered
    rows += [feedback_row(absent_nik(world.present), status="dibayar")]  # not in P3KE
    rows += [feedback_row(None), feedback_row("3.20101E+15"), feedback_row("32010112345"),  # invalid NIK
             feedback_row("9901011507900001"), feedback_row("3201013207900001"), feedback_row("3201011507900000")]
    rows += [feedback_row(d[0]["nik"], status="putus")]  # duplicate in the batch
    response = upload(client, world, write_csv(world.tmp / "balikan-1.csv", rows))
    assert response.status_code == 201, response.text
    body = response.json()
    fine = {"in_extract": 50, "in_p3ke_not_delivered": 7, "not_in_p3ke": 1, "invalid_nik": 6, "duplicate": 1}
    coarse = {"in_extract": 50, "not_in_handover": 8, "invalid_nik": 6, "duplicate": 1}
    assert body["counts_by_match_class"] == coarse and body["match_view"] == "handover"  # party 2's answer
    steward = auth(world.runtime, "kemenkopmk", "data-steward")
    assert client.get(f"/v1/feedback-batches/{body['batch_id']}", headers=steward).json()[
        "counts_by_match_class"] == fine  # party 1 sees every class
    assert body["rows"] == 65 and body["rows_rejected"] == 6 and body["served"] == 58
    assert body["counts_by_status"] == {"completed": 50, "enrolled": 7, "benefit_paid": 1}
    assert body["counts_by_finding"]["duplicate_in_batch"] == 1
    for code in ("nik_missing", "nik_scientific", "nik_format", "nik_province_unknown", "nik_date_invalid",
                 "nik_serial_zero"):
        assert body["counts_by_finding"][code] == 1, code

    # a second batch of the same handover repeats one person: a duplicate across batches
    again = [feedback_row(d[1]["nik"]), feedback_row(d[60]["nik"], kode=d[60]["kode_kemendagri"])]
    second = upload(client, world, write_csv(world.tmp / "balikan-2.csv", again))
    assert second.status_code == 201, second.text
    assert second.json()["counts_by_match_class"] == {"duplicate": 1, "in_extract": 1}
    assert second.json()["counts_by_finding"]["duplicate_across_batches"] == 1

    [first_event, second_event] = emitted(world.runtime, "p3ke.feedback-received.v1")
    assert second_event["counts_by_match_class"] == {"duplicate": 1, "in_extract": 1}
    assert first_event["counts_by_match_class"] == coarse  # read by both ministries' platforms
    assert first_event["program"] == "padat_karya" and first_event["handover_id"] == "ho-1"
    assert sum(first_event["counts_by_region"].values()) == 58
    text = str(emitted(world.runtime, "p3ke.feedback-received.v1")) + response.text + second.text
    assert not any(p["nik"] in text for p in d[:60]), "a NIK leaked into an event or an answer"

    page = client.get(f"/v1/feedback-batches/{body['batch_id']}/findings", headers=auth(world.runtime),
                      params={"severity": "error"})
    assert page.status_code == 200
    items = page.json()["items"]
    assert {i["code"] for i in items} >= {"nik_missing", "nik_scientific", "nik_format"}
    assert all(i["value"] is None or "*" in i["value"] for i in items if i["field"] == "nik")
    dup = client.get(f"/v1/feedback-batches/{second.json()['batch_id']}/findings", headers=auth(world.runtime),
                     params={"code": "duplicate_across_batches"}).json()["items"]
    assert dup[0]["detail"] == f"dilaporkan di batch {body['batch_id']}" and dup[0]["value"].startswith(d[1]["nik"][:4])
    assert d[1]["nik"] not in page.text + str(dup)
    csv_text = client.get(f"/v1/feedback-batches/{body['batch_id']}/findings.csv", headers=auth(world.runtime)).text
    assert "nik_scientific" in csv_text and not any(p["nik"] in csv_text for p in d[:60])


def test_the_match_is_audited_with_every_person_split_over_events(client: TestClient, world: World) -> None:
    """Every distinct valid NIK of the batch is in the match's data-access events as its keyed reference,
    streamed from the matching engine and split over events of at most MAX_SUBJECTS_PER_EVENT references."""
    people = world.people[:MAX_SUBJECTS_PER_EVENT + 100]
    rows = [feedback_row(p["nik"], kode=p["kode_kemendagri"]) for p in people]
    rows += [feedback_row(people[0]["nik"]), feedback_row(None)]  # a repeated person, an invalid NIK
    response = upload(client, world, write_csv(world.tmp / "balikan-large.csv", rows))
    assert response.status_code == 201, response.text
    batch_id = response.json()["batch_id"]
    matches = [e for e in emitted(world.runtime, "p3ke.data-access.v1")
               if e["action"] == "match" and e["resource_id"] == batch_id]
    assert [e["record_count"] for e in matches] == [MAX_SUBJECTS_PER_EVENT, 100]
    assert all(len(e["subject_refs"]) == e["record_count"] for e in matches)
    assert len({e["access_id"] for e in matches}) == 2 and len({e["occurred_at"] for e in matches}) == 1
    key = world.runtime.settings.subject_hash_key
    assert {r for e in matches for r in e["subject_refs"]} == {subject_ref(key, p["nik"]) for p in people}
    assert all(e["outcome"] == "allowed" and e["program"] == "padat_karya" for e in matches)
