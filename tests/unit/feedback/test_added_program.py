"""Issue #17, "programs added by the parties" (feedback's share): a program party 1 approved in writing
(Art. 10(2)) goes through feedback like the four of Art. 3: a data balikan for a handover signed for it is
accepted, even after the approval's window (reporting back outlives it), and reports filter by it; a code
no handover and no term knows is refused with the reason."""

from __future__ import annotations

import shutil
from pathlib import Path
from textwrap import dedent

from fastapi.testclient import TestClient

from p3ke_platform.api import create_app
from tests.integration.helpers.agreement_terms import far_agreement_dir
from tests.unit.feedback.conftest import auth, build_world, upload
from tests.unit.feedback.helpers import apply, emitted, feedback_row, handover_event, prepared_extract, write_csv

PROGRAM = "pelatihan_digital_kartu_prakerja"


def _agreement_with_approval(tmp: Path) -> Path:
    directory = tmp / "agreement"
    shutil.copytree(far_agreement_dir(tmp), directory)  # the bundled files, in force to 2099 (real time)
    (directory / "approval.yaml").write_text(dedent(f"""
        kind: written-approval
        schema_version: 1
        id: appr-prakerja-digital-2026
        agreement_id: pks-p3ke-2023
        document: B-31/DEP.1/KEMENKO/PMK/02/2026
        dated: 2026-02-02
        granted_by: kemenkopmk
        granted_to: kemnaker
        program: {PROGRAM}
        fields: [nik, kode_kemendagri, desil_kesejahteraan]
        purpose: pelatihan_digital_2026
        purpose_title_id: Pelatihan keterampilan digital 2026
        eligibility:
          summary: usia kerja / working age
          age: {{min: 18, max: 60}}
        valid_from: 2026-02-10
        last_day: 2026-06-30
    """))
    return directory


def test_a_data_balikan_for_a_program_added_by_written_approval(tmp_path: Path, snapshot: Path) -> None:
    world = build_world(tmp_path, snapshot, agreement_dir=_agreement_with_approval(tmp_path))
    people = world.people[3000:3040]
    assert apply(world.runtime, prepared_extract(world.tmp, "ext-dig", people, program=PROGRAM),
                 handover_event("ho-dig", "ext-dig", len(people), program=PROGRAM)) == []
    rows = [feedback_row(p["nik"], kode=p["kode_kemendagri"], program=PROGRAM, kegiatan="Pelatihan digital")
            for p in people[:25]]
    with TestClient(create_app(world.runtime)) as client:
        # the approval's window ended on 2026-06-30; the handover was signed for it, so its data balikan is due
        response = upload(client, world, write_csv(world.tmp / "digital.csv", rows), handover="ho-dig",
                          program=PROGRAM)
        assert response.status_code == 201, response.text
        batch = response.json()
        assert batch["program"] == PROGRAM and batch["served"] == 25
        assert batch["counts_by_match_class"] == {"in_extract": 25}
        [event] = emitted(world.runtime, "p3ke.feedback-received.v1")
        assert event["program"] == PROGRAM and event["handover_id"] == "ho-dig"

        steward = auth(world.runtime, "kemenkopmk", "data-steward")
        report = client.get("/v1/reports", headers=steward, params={"program": PROGRAM, "period": "all",
                                                                    "level": "national"})
        assert report.status_code == 200, report.text
        [total] = report.json()["totals"]
        assert (total["program"], total["delivered"], total["served"]) == (PROGRAM, 40, 25)
        officer = client.get("/v1/reports", headers=auth(world.runtime), params={"program": PROGRAM})
        assert officer.status_code == 200, officer.text
        assert client.get("/v1/handovers", headers=steward, params={"program": PROGRAM}).json()[0][
            "handover_id"] == "ho-dig"
        assert client.get("/v1/reports/monitoring-evaluation.pdf", headers=auth(world.runtime),
                          params={"year": 2026, "program": PROGRAM}).status_code == 200

        # a code that is neither a program of the agreement nor of any signed handover: 404, with the reason
        unknown = client.get("/v1/reports", headers=steward, params={"program": "program_tak_dikenal"})
        assert unknown.status_code == 404 and unknown.headers["X-P3KE-Refusal"] == "program-unknown"
        assert unknown.json()["detail"].startswith("Program 'program_tak_dikenal' tidak dikenal layanan feedback")
        assert unknown.json()["code"] == "program.unknown" and "periksa kode programnya" in unknown.json()["detail"]
        assert client.get("/v1/reports", headers=steward, params={"program": "Bukan Kode"}).status_code == 422
        # a data balikan naming the added program for a handover of another program
        wrong = upload(client, world, write_csv(world.tmp / "wrong.csv", rows[:2]), program=PROGRAM)
        assert wrong.status_code == 422 and wrong.headers["X-P3KE-Refusal"] == "handover-program"
    world.runtime.engine.dispose()
