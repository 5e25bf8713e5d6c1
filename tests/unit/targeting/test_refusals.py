"""Every refusal ends in extract-prepared (rejected) with a clear reason, is audited, and leaves nothing
half-made; schema-invalid requests never get that far."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from p3ke_platform.agreement import agreement_day
from p3ke_platform.service import Runtime
from p3ke_schemas import Actor, ExtractRequested
from p3ke_targeting.domain.selection import years_before
from tests.unit.targeting.helpers import (
    apply,
    dataset_event,
    emitted,
    extract_path,
    make_runtime,
    one_prepared,
    request,
)


def _rejected(runtime: Runtime, req: ExtractRequested) -> str:
    assert apply(runtime, req) == []
    event = one_prepared(runtime, req.request_id)
    assert event["status"] == "rejected" and event["file_uri"] is None and event["record_count"] == 0
    refusals = [e for e in emitted(runtime, "p3ke.data-access.v1")
                if e["resource_id"] == req.request_id and e["action"] == "refusal"]
    assert len(refusals) == 1 and refusals[0]["outcome"] == "denied"
    assert refusals[0]["reason"] == event["reason"]
    data = Path(runtime.settings.data_dir)
    assert not list(data.glob("extracts/*")) and not list(data.glob("targeting/delivered/*"))
    assert " / " in str(event["reason"])  # Indonesian / English: party 2's platform shows it to its officers
    return str(event["reason"])


def test_agreement_expired_without_addendum(tmp_path: Path, snapshot: Path) -> None:
    rt = make_runtime(tmp_path, agreement_include_examples=False)
    apply(rt, dataset_event(snapshot))
    reason = _rejected(rt, request())
    assert reason.startswith("Perjanjian PKS 003/PKS/DEP.1/KEMENKO/PMK/02/2023 / 71668/KS.06/II/2023 berakhir pada "
                             "2025-02-28")  # Indonesian first, then English
    assert "expired on 2025-02-28" in reason


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"requested_by": Actor(org="kemnaker", subject="s-1", roles=["signatory"])},
     "peran signatory dari kemnaker tidak berwenang melakukan request-extract"),
    ({"requested_by": Actor(org="kemenkopmk", subject="s-2", roles=["program-officer"])},
     "tidak berwenang melakukan request-extract"),
    ({"fields": ["nik", "nama", "alamat"]}, "elemen data 'alamat' tidak diizinkan untuk program padat_karya"),
    ({"fields": ["nik", "gaji_bulanan"]}, "elemen data 'gaji_bulanan' tidak ada di Data P3KE"),
    ({"agreement_id": "pks-lain-2024"}, "perjanjian 'pks-lain-2024' tidak dikenal"),
])
def test_policy_refusals(runtime: Runtime, overrides: dict[str, object], expected: str) -> None:
    assert expected in _rejected(runtime, request(**overrides))


@pytest.mark.parametrize(("criteria", "expected"), [
    ({"age_min": 50, "age_max": 20}, "age_min 50 lebih besar daripada age_max 20"),
    ({"region_codes": ["3299"]}, "kode wilayah 3299 tidak ada dalam referensi Kemendagri"),
    ({"region_codes": ["9999999999"]}, "tidak ada dalam referensi Kemendagri"),
    ({"occupation_categories": ["Buruh/Karyawan/Pegawai"]}, "di luar kelayakan program padat_karya"),
])
def test_bad_criteria(runtime: Runtime, criteria: dict[str, object], expected: str) -> None:
    assert expected in _rejected(runtime, request(criteria=criteria))


def test_unknown_or_missing_dataset_version(runtime: Runtime, tmp_path: Path) -> None:
    assert "versi data 'dv-9' tidak dikenal layanan targeting" in _rejected(runtime, request(dataset_version_id="dv-9"))
    empty = make_runtime(tmp_path / "empty")
    assert "belum ada versi data yang diterbitkan" in _rejected(empty, request())


def test_nobody_matches(runtime: Runtime) -> None:
    assert "tidak ada seorang pun dalam versi data dv-1 yang memenuhi kriteria" in _rejected(
        runtime, request(criteria={"region_codes": ["1101"]}))  # no synthetic person lives in Aceh


def test_snapshot_of_another_layout(tmp_path: Path, snapshot: Path) -> None:
    rt = make_runtime(tmp_path)
    other = tmp_path / "other.parquet"
    table = pq.read_table(snapshot)
    pq.write_table(table.drop_columns(["persentil"]).set_column(
        table.column_names.index("tanggal_lahir") - 0, "tanggal_lahir",
        table.column("tanggal_lahir").cast("string")), other)
    apply(rt, dataset_event(other))
    reason = _rejected(rt, request())
    assert "tidak berformat berkas individu P3KE: kolom persentil tidak ada" in reason
    assert "kolom tanggal_lahir bertipe string, seharusnya date" in reason
    assert "does not have the P3KE individual layout: missing column(s) persentil" in reason


def test_snapshot_changed_after_publication(tmp_path: Path, snapshot: Path) -> None:
    rt = make_runtime(tmp_path)
    apply(rt, dataset_event(snapshot, sha="0" * 64))
    reason = _rejected(rt, request())
    assert "tidak cocok dengan SHA-256 yang diterbitkan" in reason and "does not match its published SHA-256" in reason


def test_a_refusal_removes_what_a_failed_attempt_left(runtime: Runtime) -> None:
    from p3ke_targeting.service_layer.extracts import extract_id_for, paths_for

    req = request(fields=["nik", "alamat"])
    leftover, ledger = paths_for(runtime.context, extract_id_for(req.request_id))
    for path in (leftover, ledger):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"from an attempt that never committed")
    _rejected(runtime, req)


@pytest.mark.parametrize(("overrides", "field"), [
    ({"quota": 0}, "quota"),
    ({"quota": 1_000_000_000}, "quota"),
    ({"program": "Pelatihan Menjahit"}, "program"),
    ({"fields": []}, "fields"),
    ({"criteria": {"region_codes": ["32a"]}}, "region_codes"),
    ({"criteria": {"deciles": [5]}}, "deciles"),
])
def test_schema_invalid_requests_never_reach_the_handler(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        request(**overrides)
    assert field in str(caught.value)


@pytest.mark.parametrize("days_ahead", [None, 1, 30])
def test_a_reference_date_after_the_request_day_is_refused_not_used_for_ages(runtime: Runtime,
                                                                             days_ahead: int | None) -> None:
    """With reference_date 2050-01-01 an 18-60 program would select today's children, and with one a month ahead
    (allowed before) today's 17-year-olds; the request is refused with the window it may use, computed from the day
    the service received it."""
    today = agreement_day(runtime.context.clock())
    ref = date(2050, 1, 1) if days_ahead is None else today + timedelta(days=days_ahead)
    reason = _rejected(runtime, request(criteria={"deciles": [1, 2], "reference_date": ref.isoformat()}))
    assert reason.startswith(f"criteria.reference_date {ref} sesudah hari permintaan diterima ({today}): usia "
                             f"dihitung pada hari permintaan")
    assert f" / criteria.reference_date {ref} is after the day the request was received ({today})" in reason


def test_a_reference_date_in_the_window_never_selects_minors(runtime: Runtime) -> None:
    """The earliest reference date allowed (31 days back): everyone selected is at least 18 on the day of the
    request (checked from the birth dates in the extract), unlike with a reference date after it."""
    today = agreement_day(runtime.context.clock())
    req = request(quota=5000, criteria={"deciles": [1, 2, 3, 4],
                                        "reference_date": (today - timedelta(days=31)).isoformat()})
    assert apply(runtime, req) == []
    event = one_prepared(runtime, req.request_id)
    assert event["status"] == "accepted", event["reason"]
    births = pq.read_table(extract_path(event), columns=["tanggal_lahir"]).column("tanggal_lahir").to_pylist()
    assert births and all(years_before(today, 18) >= born for born in births)
