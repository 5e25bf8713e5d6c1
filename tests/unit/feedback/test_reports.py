"""Reports for both parties: the figures (coverage, share of desil 1, time to feedback, overdue), CSV,
charts, the M&E PDF; publication only with the other party's consent, aggregates with small cells
suppressed."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
from fastapi.testclient import TestClient

from p3ke_platform.api import create_app
from tests.integration.helpers.agreement_terms import far_agreement_dir
from tests.unit.feedback.conftest import World, auth, build_world, upload
from tests.unit.feedback.helpers import (
    SIGNED_AT,
    apply,
    emitted,
    feedback_row,
    handover_event,
    prepared_extract,
    write_csv,
)


def _serve(client: TestClient, world: World) -> dict[str, Any]:
    """Report 120 of ho-1's 400 (+5 not handed over, +1 not in P3KE); sign ho-2 (tkm) without feedback."""
    d = world.delivered
    rows = [feedback_row(p["nik"], kode=p["kode_kemendagri"], nilai="1000") for p in d[:120]]
    rows += [feedback_row(p["nik"], kode=p["kode_kemendagri"], status="aktif") for p in world.outside[:5]]
    rows += [feedback_row("3201011507909999", status="aktif")]
    response = upload(client, world, write_csv(world.tmp / "served.csv", rows))
    assert response.status_code == 201, response.text
    extract = prepared_extract(world.tmp, "ext-2", world.people[1000:1050], program="tenaga_kerja_mandiri")
    assert apply(world.runtime, extract, handover_event("ho-2", "ext-2", 50, program="tenaga_kerja_mandiri",
                                                        signed_at=SIGNED_AT + timedelta(days=20))) == []
    return response.json()


def test_figures_timeliness_and_overdue(client: TestClient, world: World) -> None:
    batch = _serve(client, world)
    ctx = world.runtime.context
    ctx.clock = lambda: SIGNED_AT + timedelta(days=130)  # ho-2 signed 110 days ago, no feedback
    steward = auth(world.runtime, "kemenkopmk", "data-steward")  # party 1: exact figures, every class
    response = client.get("/v1/reports", headers=steward, params={"level": "national", "period": "year"})
    assert response.status_code == 200, response.text
    report = response.json()
    padat = next(t for t in report["totals"] if t["program"] == "padat_karya")
    served_desil_1 = sum(1 for p in world.delivered[:120] if p["desil_kesejahteraan"] == 1)
    served_desil_1 += sum(1 for p in world.outside[:5] if p["desil_kesejahteraan"] == 1)
    assert padat["delivered"] == 400 and padat["served"] == 126 and padat["served_in_extract"] == 120
    assert padat["coverage"] == round(120 / 400, 4)
    assert padat["served_desil_1"] == served_desil_1 and padat["share_desil_1"] == round(served_desil_1 / 126, 4)
    assert padat["by_desil"]["0"]["served"] == 1 and padat["benefit_value"] == 120 * 1000 + 6 * 1_500_000
    assert padat["by_class"]["in_p3ke_not_delivered"] == 5 and padat["by_class"]["not_in_p3ke"] == 1
    delivered_desil = {str(k): sum(1 for p in world.delivered if p["desil_kesejahteraan"] == k) for k in (1, 2, 3, 4)}
    assert {k: v["delivered"] for k, v in padat["by_desil"].items() if k != "0"} == delivered_desil
    tkm = next(t for t in report["totals"] if t["program"] == "tenaga_kerja_mandiri")
    assert tkm["delivered"] == 50 and tkm["served"] == 0 and tkm["coverage"] == 0.0
    [late] = report["overdue_handovers"]
    assert late["handover_id"] == "ho-2" and late["days_without_feedback"] == 110
    times = {t["program"]: t for t in report["timeliness"]}
    assert times["tenaga_kerja_mandiri"]["overdue"] == 1
    assert times["padat_karya"]["with_feedback"] == 1 and times["padat_karya"]["median_days_to_feedback"] is not None
    handovers = {h["handover_id"]: h for h in client.get("/v1/handovers", headers=steward).json()}
    assert handovers["ho-2"]["overdue"] is True and handovers["ho-1"]["current_batches"] == 1

    # regency level, month periods, one province
    by_regency = client.get("/v1/reports", headers=steward,
                            params={"level": "regency", "region": "32", "program": "padat_karya"}).json()
    assert all(r["region"].startswith("32") and len(r["region"]) == 4 for r in by_regency["rows"])
    assert all(r["period"] == "2026-03" for r in by_regency["rows"])
    assert sum(r["delivered"] for r in by_regency["rows"]) == sum(
        1 for p in world.delivered if p["kode_kemendagri"].startswith("32"))
    assert client.get("/v1/reports", headers=steward,
                      params={"start": "2026-04", "end": "2026-12"}).json()["rows"] == []
    bad = client.get("/v1/reports", headers=steward, params={"start": "2026-05", "end": "2026-04"})
    assert bad.status_code == 422
    assert batch["served"] == 126


def test_csv_charts_and_the_me_pdf(client: TestClient, world: World) -> None:
    _serve(client, world)
    headers = auth(world.runtime, "kemenkopmk", "data-steward")  # party 1 reads and exports too
    exported = client.get("/v1/reports/export.csv", headers=headers, params={"period": "year"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
    totals = [r for r in lines if r["desil"] == "all" and r["program"] == "padat_karya"]
    assert sum(int(r["delivered"]) for r in totals) == 400 and sum(int(r["served"]) for r in totals) == 126
    for name in ("coverage", "desil", "classes", "timeliness"):
        png = client.get(f"/v1/reports/charts/{name}", headers=headers)
        assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
        assert png.headers["content-type"] == "image/png"
        svg = client.get(f"/v1/reports/charts/{name}", headers=headers, params={"format": "svg"})
        assert svg.headers["content-type"].startswith("image/svg+xml") and b"<svg" in svg.content[:500]
    pdf = client.get("/v1/reports/monitoring-evaluation.pdf", headers=headers, params={"year": 2026})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert "laporan-monev-p3ke-202601_202612.pdf" in pdf.headers["content-disposition"]
    assert not any(p["nik"].encode() in pdf.content for p in world.delivered[:120])
    exports = [e for e in emitted(world.runtime, "p3ke.data-access.v1") if e["action"] == "export"]
    assert {e["resource_type"] for e in exports} == {"feedback-report", "feedback-me-report"}
    if shutil.which("pdftoppm"):  # render it, as a reader would
        path = world.tmp / "me.pdf"
        path.write_bytes(pdf.content)
        subprocess.run(["pdftoppm", "-r", "30", "-png", str(path), str(world.tmp / "page")], check=True)
        assert len(list(world.tmp.glob("page-*.png"))) >= 3
    empty = client.get("/v1/reports/monitoring-evaluation.pdf", headers=headers, params={"year": 2024})
    assert empty.status_code == 200 and empty.content.startswith(b"%PDF")


def _agreement_with_consent(tmp: Path) -> Path:
    directory = tmp / "agreement"
    shutil.copytree(far_agreement_dir(tmp), directory)  # the bundled files, in force to 2099 (real time)
    (directory / "consent.yaml").write_text(dedent("""
        kind: disclosure-consent
        schema_version: 1
        id: consent-monev-2026
        agreement_id: pks-p3ke-2023
        document: B-12/DEP.1/KEMENKO/PMK/01/2026
        dated: 2026-01-10
        granted_by: kemenkopmk
        granted_to: kemnaker
        programs: [padat_karya]
        valid_from: 2026-01-10
        last_day: 2099-12-31
    """))
    return directory


def test_publication_needs_the_other_partys_consent(client: TestClient, world: World) -> None:
    _serve(client, world)
    body = {"program": "padat_karya", "level": "province", "period": "year",
            "purpose": "laporan publik pemanfaatan Data P3KE 2026"}
    refused = client.post("/v1/reports/publications", json=body, headers=auth(world.runtime))
    assert refused.status_code == 403 and "Pasal 10 ayat (3)" in refused.json()["detail"]
    assert refused.headers["X-P3KE-Refusal"] == "disclosure-consent"
    assert any(e["outcome"] == "denied" and e["resource_type"] == "feedback-report-publication"
               for e in emitted(world.runtime, "p3ke.data-access.v1"))


def test_published_reports_suppress_small_cells(tmp_path: Path, snapshot: Path) -> None:
    world = build_world(tmp_path, snapshot, agreement_dir=_agreement_with_consent(tmp_path))
    with TestClient(create_app(world.runtime)) as client:
        _serve(client, world)
        body = {"program": "padat_karya", "level": "province", "period": "year",
                "purpose": "laporan publik pemanfaatan Data P3KE 2026"}
        steward = client.post("/v1/reports/publications", json=body,
                              headers=auth(world.runtime, "kemenkopmk", "data-steward"))
        assert steward.status_code == 403  # the consent was granted to party 2, not to party 1
        response = client.post("/v1/reports/publications", json=body, headers=auth(world.runtime))
        assert response.status_code == 201, response.text
        publication = response.json()
        assert publication["grounds"] == ["consent-monev-2026"] and publication["min_cell"] == 10
        cells = [c for r in publication["rows"] for c in r["cells"]]
        shown = [c[m] for c in cells for m in ("delivered", "served", "served_in_extract") if c[m] is not None]
        assert all(v == 0 or v >= 10 for v in shown)
        assert any(c["served"] is None for c in cells)  # there were small cells to suppress
        for row in publication["rows"]:
            for measure in ("delivered", "served", "served_in_extract"):
                parts = [c[measure] for c in row["cells"] if c["desil"] != "all"]
                total = next(c[measure] for c in row["cells"] if c["desil"] == "all")
                assert not (total is not None and sum(p is None for p in parts) == 1), (row, measure)
        text = response.text
        assert not any(p["nik"] in text for p in world.delivered)
        again = client.get(f"/v1/reports/publications/{publication['publication_id']}", headers=auth(world.runtime))
        assert again.json() == publication
    world.runtime.engine.dispose()


@pytest.mark.parametrize("role", ["data-steward", "compliance-auditor"])
def test_party_1_reads_batches_and_findings(client: TestClient, world: World, role: str) -> None:
    batch = _serve(client, world)
    headers = auth(world.runtime, "kemenkopmk", role)
    assert client.get(f"/v1/feedback-batches/{batch['batch_id']}", headers=headers).status_code == 200
    assert client.get(f"/v1/feedback-batches/{batch['batch_id']}/findings", headers=headers).status_code == 200
    assert client.get("/v1/feedback-batches/fb-missing", headers=headers).status_code == 404
