"""Issue #17, "membership leaks through feedback": a data balikan tells party 2 only whether a person was in
the handover (or the NIK is invalid, or repeated); never whether someone it was not handed is in Data P3KE,
nor their desil or region from the snapshot. Party 1 keeps the finer classes and desil. Party 2's reports
suppress small cells as published reports do."""

from __future__ import annotations

import base64
import csv
import io
import re
import zlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from p3ke_platform.api import create_app
from tests.unit.feedback.conftest import World, auth, build_world, upload
from tests.unit.feedback.helpers import SIGNED_AT, absent_nik, emitted, feedback_row, write_csv

ROW_REGION = "3201011001"  # the region party 2 writes in its row
NOW = SIGNED_AT + timedelta(days=40)
VOLATILE = {"batch_id", "filename", "file_sha256", "received_at", "links", "file_bytes", "generated_at"}


def pdf_text(pdf: bytes) -> str:
    """The text drawn on the pages of a reportlab PDF: its content streams (ASCII85, then Flate) decoded, the
    strings of their text operators joined."""
    chunks = []
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", pdf, flags=re.S):
        try:
            data = zlib.decompress(base64.a85decode(stream.strip().removesuffix(b"~>")))
        except (ValueError, zlib.error):
            continue
        if b"\x00" not in data and b" Tj" in data:  # a page's content, not an image
            chunks.append(data.decode("latin-1"))
    return " ".join(re.findall(r"\(((?:[^()\\]|\\.)*)\) Tj", "\n".join(chunks)))


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def _outsider(world: World) -> dict[str, Any]:
    """A person of the snapshot, not handed over, whose snapshot region is not the row's."""
    return next(p for p in world.outside if not p["kode_kemendagri"].startswith(ROW_REGION[:4]))


def _what_party_2_sees(world: World, client: TestClient, nik: str) -> dict[str, Any]:
    """Upload one row for `nik` as party 2's officer; everything party 2 can read about it afterwards."""
    world.runtime.context.clock = lambda: NOW
    officer = auth(world.runtime)
    response = upload(client, world, write_csv(world.tmp / "one-row.csv", [feedback_row(nik, kode=ROW_REGION)]))
    assert response.status_code == 201, response.text
    batch_id = response.json()["batch_id"]
    base = f"/v1/feedback-batches/{batch_id}"
    params = {"level": "regency", "period": "all"}
    seen = {
        "answer": response.json(),
        "batch": client.get(base, headers=officer).json(),
        "batches": client.get("/v1/feedback-batches", headers=officer).json(),
        "findings": client.get(f"{base}/findings", headers=officer).json(),
        "findings_csv": client.get(f"{base}/findings.csv", headers=officer).text,
        "report": client.get("/v1/reports", headers=officer, params=params).json(),
        "export": client.get("/v1/reports/export.csv", headers=officer, params=params).text,
        "charts": {name: client.get(f"/v1/reports/charts/{name}", headers=officer, params={"format": "svg"}).text
                   for name in ("coverage", "desil", "classes")},
        "pdf": pdf_text(client.get("/v1/reports/monitoring-evaluation.pdf", headers=officer,
                                   params={"year": 2026}).content),
        "event": emitted(world.runtime, "p3ke.feedback-received.v1")[-1],
    }
    for key in ("batch", "findings", "report"):
        assert isinstance(seen[key], dict) and "detail" not in seen[key], seen[key]
    seen["batch_id"] = batch_id
    return seen


def _worlds(tmp_path: Path, snapshot: Path, **overrides: Any) -> Iterator[tuple[World, TestClient]]:
    for name in ("a", "b"):
        world = build_world(tmp_path / name, snapshot, **overrides)
        with TestClient(create_app(world.runtime)) as client:
            yield world, client
        world.runtime.engine.dispose()


def test_a_one_row_upload_does_not_tell_party_2_whether_a_person_is_in_p3ke(tmp_path: Path, snapshot: Path) -> None:
    """Two identical worlds; party 2 uploads one row: in world a a person of P3KE it was not handed, in world b a
    NIK absent from P3KE. Everything party 2 can read is the same in both; only party 1 tells them apart.
    (min_cell 1, so that suppression hides nothing and the classes and desil themselves are compared.)"""
    seen, fine, steward_desil = [], [], []
    outsider_desil = None
    for world, client in _worlds(tmp_path, snapshot, feedback_min_cell=1):
        outsider = _outsider(world)
        nik = outsider["nik"] if not seen else absent_nik(world.present)
        outsider_desil = outsider["desil_kesejahteraan"]
        s = _what_party_2_sees(world, client, nik)
        seen.append(s)
        steward = auth(world.runtime, "kemenkopmk", "data-steward")
        fine.append(client.get(f"/v1/feedback-batches/{s['batch_id']}", headers=steward).json())
        report = client.get("/v1/reports", headers=steward, params={"level": "national", "period": "all"}).json()
        steward_desil.append({k: d["served"] for k, d in report["totals"][0]["by_desil"].items()})
    a, b = seen
    # party 2: "not in this handover", nothing more, in every answer
    assert a["answer"]["counts_by_match_class"] == {"not_in_handover": 1} and a["answer"]["match_view"] == "handover"
    assert a["event"]["counts_by_match_class"] == {"not_in_handover": 1}
    assert a["event"]["counts_by_region"] == {ROW_REGION[:2]: 1}  # the row's own region, not the snapshot's
    for key in ("answer", "batch", "batches", "findings", "findings_csv", "report", "export", "charts", "pdf",
                "event"):
        assert _stable(a[key]) == _stable(b[key]), f"party 2 can tell the two uploads apart by the {key}"
    # no desil of the person (all served persons not handed over are in "0"), no snapshot region
    [total] = a["report"]["totals"]
    assert total["by_desil"]["0"]["served"] == 1 and total["served_desil_1"] == 0
    assert all(total["by_desil"][k]["served"] == 0 for k in ("1", "2", "3", "4"))
    assert set(total["by_class"]) == {"in_extract", "not_in_handover", "invalid_nik", "duplicate"}
    served_rows = [r for r in a["report"]["rows"] if r["served"]]
    assert [r["region"] for r in served_rows] == [ROW_REGION[:4]]
    export = list(csv.DictReader(io.StringIO(a["export"].lstrip("\ufeff"))))
    assert "in_p3ke_not_delivered" not in export[0] and "not_in_handover" in export[0]
    assert all(r["served"] in ("", "0") for r in export if r["desil"] in "1234")
    for text in (a["pdf"], a["charts"]["classes"], a["charts"]["desil"]):
        assert "Ada di P3KE" not in text and "Tidak di P3KE" not in text and "Tidak ada di P3KE" not in text
    assert "Tidak ada dalam data yang diserahkan" in a["pdf"]
    # party 1: the fine class, and the desil the snapshot gives the person
    assert fine[0]["counts_by_match_class"] == {"in_p3ke_not_delivered": 1} and fine[0]["match_view"] == "p3ke"
    assert fine[1]["counts_by_match_class"] == {"not_in_p3ke": 1}
    assert steward_desil[0][str(outsider_desil)] == 1 and steward_desil[1]["0"] == 1


def test_party_2_reports_suppress_small_cells(tmp_path: Path, snapshot: Path) -> None:
    world = build_world(tmp_path, snapshot)  # P3KE_FEEDBACK_MIN_CELL: 10, as published reports
    with TestClient(create_app(world.runtime)) as client:
        d = world.delivered
        rows = [feedback_row(p["nik"], kode=p["kode_kemendagri"]) for p in d[:120]]
        rows += [feedback_row(p["nik"], kode=ROW_REGION, status="aktif") for p in world.outside[:3]]
        assert upload(client, world, write_csv(world.tmp / "served.csv", rows)).status_code == 201
        params = {"level": "province", "period": "all"}
        officer = client.get("/v1/reports", headers=auth(world.runtime), params=params).json()
        steward = client.get("/v1/reports", params=params,
                             headers=auth(world.runtime, "kemenkopmk", "data-steward")).json()
        exported = client.get("/v1/reports/export.csv", headers=auth(world.runtime), params=params).text
    world.runtime.engine.dispose()
    hidden = 0
    for row in officer["rows"] + officer["totals"]:
        counts = [row[m] for m in ("delivered", "served", "served_in_extract", "served_desil_1", "rows", "rejected")]
        counts += list(row["by_class"].values()) + list(row["by_status"].values())
        counts += [v for d in row["by_desil"].values() for v in d.values()]
        assert all(v is None or v == 0 or v >= 10 for v in counts), row
        hidden += counts.count(None)
        for measure in ("delivered", "served", "served_in_extract"):  # no lone hidden part beside a shown total
            parts = [d[measure] for d in row["by_desil"].values()]
            assert not (row[measure] is not None and parts.count(None) == 1), (row, measure)
        if row["served_in_extract"] is None or row["delivered"] is None:
            assert row["coverage"] is None
    assert hidden > 0
    assert officer["min_cell"] == 10 and officer["view"] == "handover"
    assert steward["min_cell"] is None and steward["view"] == "p3ke"
    [total] = officer["totals"]
    assert total["by_class"]["not_in_handover"] is None  # 3 persons not handed over: a small cell
    assert total["served"] == 123 and total["by_class"]["in_extract"] is None  # else 123 - 120 = 3 (secondary)
    # party 1 sees the same rows exactly
    exact = [v for row in steward["rows"] for v in (row["served"], row["delivered"], *row["by_class"].values())]
    assert None not in exact and sum(r["by_class"]["in_p3ke_not_delivered"] for r in steward["rows"]) == 3
    lines = list(csv.DictReader(io.StringIO(exported.lstrip("\ufeff"))))
    assert any(r["not_in_handover"] == "" for r in lines if r["desil"] == "all")
    assert all(r["served"] == "" or int(r["served"]) == 0 or int(r["served"]) >= 10 for r in lines)
