"""The ROPA (UU PDP Art. 31) and the DPIA (Art. 34) built from the real agreement files and the real retention
schedule file: every program × purpose is an activity, the fields per program are the terms', a change of them
changes the document, every kind of data's retention (period, start, cap by the agreement's end, legal basis) is
the schedule's and a change of the schedule changes the documents, the JSON validates against the models (also
versions stored before the schedule was stated), and the risk catalogue is data whose mistakes are named."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from p3ke_audit.domain import processing_records as records
from p3ke_audit.service_layer.processing_records import canonical
from p3ke_platform.agreement import WIB, Agreement, Policy, load_agreement
from p3ke_platform.retention import DEFAULT_SCHEDULE, KIND_TEXT, Kind, agreement_end, load_schedule

NOW = datetime(2024, 5, 1, 3, tzinfo=UTC)
FACTS = records.SystemFacts(witnesses=1, witness_quorum=1)
FIGURES = records.Figures(
    period_from=datetime(2023, 2, 27, 17, tzinfo=UTC), period_to=NOW, total_accesses=5, total_records=42,
    rows=(records.FigureRow(program="padat_karya", action="select", outcome="allowed", accesses=3, records=40),
          records.FigureRow(program="padat_karya", action="download", outcome="denied", accesses=2, records=2)))


def _schedule(path: Path = DEFAULT_SCHEDULE, configured: bool = True) -> records.RetentionSchedule:
    return records.RetentionSchedule(schedule=load_schedule(path), sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                                     configured=configured)


SCHEDULE = _schedule()


def _issue(agreement: Agreement, schedule: records.RetentionSchedule = SCHEDULE) -> records.Issue:
    return records.Issue(version=1, issued_at=NOW, issued_by="urn:p3ke:service:audit", reason="first",
                         terms_sha256=agreement.digest, schedule_sha256=schedule.sha256)


def _ropa(agreement: Agreement, day: date = NOW.date(),
          schedule: records.RetentionSchedule = SCHEDULE) -> records.Ropa:
    terms = Policy(agreement).terms_at(day)
    return records.build_ropa(agreement, terms, day=day, issue=_issue(agreement, schedule), figures=FIGURES,
                              facts=FACTS, catalogue=records.bundled_catalogue(), schedule=schedule)


def _dpia(agreement: Agreement, schedule: records.RetentionSchedule = SCHEDULE) -> records.Dpia:
    terms = Policy(agreement).terms_at(NOW)
    return records.build_dpia(agreement, terms, day=NOW.date(), issue=_issue(agreement, schedule), figures=FIGURES,
                              facts=FACTS, catalogue=records.bundled_catalogue(), schedule=schedule)


def test_every_program_and_purpose_of_the_real_agreement_is_an_activity() -> None:
    agreement = load_agreement()
    terms = Policy(agreement).terms_at(NOW)
    ropa = _ropa(agreement)
    expected = {f"{p.code}.{u.code}" for p in terms.programs for u in p.purposes}
    assert len(expected) == 9
    assert {a.id for a in ropa.activities} == expected
    for activity in ropa.activities:
        program = terms.program(activity.program)
        assert program is not None
        assert activity.fields == program.fields
        assert sorted(f for c in activity.personal_data for f in c.fields) == sorted(program.fields)
        assert activity.purpose_title_id == program.purpose(activity.purpose).title_id  # type: ignore[union-attr]
        assert activity.transfers_abroad is False
        assert activity.retention == ropa.retention and activity.retention.configured is True
        assert activity.retention.status_id == records.RETENTION_CONFIGURED
        assert "Pasal 8 ayat (3)" in activity.retention.rule_id
        assert any(f"Pasal {program.article}" in b for b in activity.legal_basis)
        assert activity.provided_by.startswith("PIHAK KESATU") and "kemenkopmk" in activity.provided_by
        assert "kemnaker" in activity.recipients[0]
    assert [c.org for c in ropa.controllers] == ["kemenkopmk", "kemnaker"]
    assert ropa.agreement.terms_sha256 == agreement.digest
    padat = next(a for a in ropa.activities if a.program == "padat_karya")
    assert sum(f.accesses for f in padat.figures) == 5
    assert all(not a.figures for a in ropa.activities if a.program != "padat_karya")


def test_a_written_approval_adds_its_purpose_as_an_activity() -> None:
    agreement = load_agreement(include_examples=True)
    approval = next(a for a in agreement.approvals if a.purpose)
    ropa = _ropa(agreement, approval.valid_from)
    activity = next(a for a in ropa.activities if a.id == f"{approval.program}.{approval.purpose}")
    assert activity.basis == "written-approval" and activity.grounds == (approval.id,)
    assert set(approval.fields) <= set(activity.fields)
    assert any("Pasal 10 ayat (2)" in b and approval.id in b for b in activity.legal_basis)


def test_a_change_of_the_fields_of_a_program_changes_the_document() -> None:
    agreement = load_agreement()
    base = agreement.base
    programs = tuple(p.model_copy(update={"fields": tuple(f for f in p.fields if f != "pekerjaan")})
                     if p.code == "padat_karya" else p for p in base.programs)
    changed = Agreement(base=base.model_copy(update={"programs": programs}), sources=agreement.sources)
    before, after = _ropa(agreement), _ropa(changed)
    assert canonical(before) != canonical(after)
    fields = {a.id: a.fields for a in after.activities}
    assert "pekerjaan" not in fields["padat_karya.seleksi_calon_peserta"]
    assert "pekerjaan" in {a.id: a.fields for a in before.activities}["padat_karya.seleksi_calon_peserta"]
    assert canonical(_ropa(agreement)) == canonical(before)  # the same facts give the same document


def test_the_json_validates_against_the_models() -> None:
    agreement = load_agreement()
    for document, model in ((_ropa(agreement), records.Ropa), (_dpia(agreement), records.Dpia)):
        body = canonical(document)
        assert model.model_validate_json(body) == document
        assert json.loads(body)["document"] == document.document
    with pytest.raises(ValueError):
        records.Ropa.model_validate({**json.loads(canonical(_ropa(agreement))), "surprise": 1})


def test_the_dpia_assesses_every_risk_of_the_catalogue_with_known_measures() -> None:
    dpia = _dpia(load_agreement())
    catalogue = records.bundled_catalogue()
    assert [r.code for r in dpia.risks] == [r.code for r in catalogue.risks]
    assert "reidentifikasi_hitungan" in [r.code for r in dpia.risks]
    safeguards = {s.code for s in dpia.safeguards}
    assert all(set(r.measures) <= safeguards for r in dpia.risks)
    assert len(dpia.activities) == 9
    assert dpia.residual_level == max((r.residual_level for r in dpia.risks), key=["rendah", "sedang",
                                                                                   "tinggi"].index)
    witness = next(s for s in dpia.safeguards if s.code == "saksi_checkpoint")
    assert witness.status_id == "1 saksi dikonfigurasi, kuorum 1"
    assert records.level("tinggi", "tinggi") == "tinggi" and records.level("rendah", "sedang") == "rendah"


def test_a_catalogue_naming_an_unknown_safeguard_is_refused_naming_it(tmp_path: Path) -> None:
    data = yaml.safe_load(records.CATALOGUE_PATH.read_text(encoding="utf-8"))
    data["risks"][0]["measures"] = ["enkripsi_paket", "tidak_ada"]
    path = tmp_path / "catalogue.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(records.CatalogueError, match=r"catalogue.yaml: .*pengaman tidak dikenal.*tidak_ada"):
        records.load_catalogue(path)
    data["risks"][0]["likelihood"] = "mungkin"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(records.CatalogueError, match=r"risks\.0\.likelihood"):
        records.load_catalogue(path)


def test_the_ropa_states_the_schedule_per_kind_of_data() -> None:
    agreement = load_agreement()
    ropa = _ropa(agreement)
    kept = ropa.retention
    schedule = load_schedule(DEFAULT_SCHEDULE)
    digest = hashlib.sha256(DEFAULT_SCHEDULE.read_bytes()).hexdigest()
    assert kept.schedule_sha256 == digest == ropa.issue.schedule_sha256
    assert kept.schedule_sha256 in kept.rule_id and kept.schedule_title == schedule.title
    assert [r.kind for r in kept.rules] == [k.value for k in Kind]
    last_day = (agreement_end(agreement).astimezone(WIB) - timedelta(days=1)).date()
    for row in kept.rules:
        rule = schedule.rule(row.kind)
        assert row.kind_id == KIND_TEXT[Kind(row.kind)][0]
        assert (row.period, row.period_id) == (rule.period.iso(), rule.period.text_id())
        assert row.basis_id == rule.basis_id and row.owner == rule.owner and row.rule_id == rule.describe_id()
        assert row.ends_with_agreement == rule.ends_with_agreement
        assert (str(last_day) in row.cap_id) == rule.ends_with_agreement
    raw = next(r for r in kept.rules if r.kind == "raw-upload")
    assert (raw.kind_id, raw.period, raw.period_id) == ("berkas unggahan mentah", "P30D", "30 hari")
    assert raw.starts_id == "versi data yang dibentuknya diterbitkan"
    assert raw.cap_id == f"paling lambat saat perjanjian berakhir (hari terakhir {last_day})"
    assert raw.basis_id.startswith("UU PDP Pasal 16 ayat (2)")
    current = next(r for r in kept.rules if r.kind == "current-snapshot")
    assert current.cap_id.startswith("saat perjanjian berakhir") and current.period_id == "0 hari"
    references = next(r for r in kept.rules if r.kind == "subject-references")
    assert references.until_certificate and references.cap_id == "tidak dibatasi berakhirnya perjanjian"
    default = _ropa(agreement, schedule=_schedule(configured=False)).retention
    assert default.configured is False and default.status_id == records.RETENTION_DEFAULT


def test_a_change_of_the_schedule_changes_both_documents(tmp_path: Path) -> None:
    agreement = load_agreement()
    changed_file = tmp_path / "jadwal.yaml"
    text = DEFAULT_SCHEDULE.read_text(encoding="utf-8")
    start = text.index("  - kind: raw-upload")
    changed_file.write_text(text[:start] + text[start:].replace("period: P30D", "period: P60D", 1), encoding="utf-8")
    changed = _schedule(changed_file)
    assert changed.sha256 != SCHEDULE.sha256
    before, after = _ropa(agreement), _ropa(agreement, schedule=changed)
    assert canonical(before) != canonical(after)
    assert next(r for r in after.retention.rules if r.kind == "raw-upload").period_id == "60 hari"
    assert [r for r in after.retention.rules if r.kind != "raw-upload"] == [
        r for r in before.retention.rules if r.kind != "raw-upload"]
    dpia = _dpia(agreement, schedule=changed)
    assert dpia.retention == after.retention and dpia.issue.schedule_sha256 == changed.sha256
    necessity = " ".join(dpia.necessity_id)
    assert changed.sha256 in necessity and "berkas unggahan mentah: 60 hari setelah" in necessity
    assert "jadwal retensi" in dpia.conclusion_id
    assert canonical(_dpia(agreement)) != canonical(dpia)


def test_versions_stored_before_the_schedule_was_stated_still_read_back() -> None:
    agreement = load_agreement()
    for document, model in ((_ropa(agreement), records.Ropa), (_dpia(agreement), records.Dpia)):
        old = json.loads(canonical(document))
        del old["issue"]["schedule_sha256"]
        kept = [a["retention"] for a in old["activities"]] + [old["retention"]] if document.document == "ropa" else []
        for retention in kept:
            for key in ("schedule_title", "schedule_sha256", "rules"):
                del retention[key]
        if document.document == "dpia":
            del old["retention"]
        restored = model.model_validate(old)
        assert restored.issue.schedule_sha256 is None and restored != document
