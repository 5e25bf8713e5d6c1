"""The agreement as configuration and the policy that applies it (pure, no services needed)."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from p3ke_platform.agreement import (
    BUNDLED_DIR,
    AgreementConfigError,
    Decision,
    Policy,
    Rule,
    load_agreement,
)
from p3ke_platform.agreement.cli import main, register
from p3ke_schemas.events import Actor, ProgramCode

OFFICER = ("kemnaker", ["program-officer"])
IN_FORCE = date(2024, 6, 1)
AFTER_EXPIRY = date(2026, 11, 26)
BASE_FILE = BUNDLED_DIR / "pks-p3ke-2023.yaml"


@pytest.fixture(scope="module")
def signed() -> Policy:
    """The bundled default: the PKS as signed, no addendum."""
    return Policy(load_agreement())


@pytest.fixture(scope="module")
def extended() -> Policy:
    """The PKS plus the bundled EXAMPLE extension addendum (to 2027-02-28)."""
    return Policy(load_agreement(include_examples=True))


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def agreement_dir(tmp_path: Path, **records: str) -> Path:
    """A directory with the signed PKS and the given extra records (name -> YAML text)."""
    shutil.copy(BASE_FILE, tmp_path / BASE_FILE.name)
    for name, text in records.items():
        write(tmp_path, f"{name}.yaml", text)
    return tmp_path


def notice_dir(tmp_path: Path, last_day: str) -> Path:
    """The signed PKS and kemnaker's termination notice `notice-1` of 2024-01-10, ending it on `last_day`."""
    return agreement_dir(tmp_path, notice=f"""
        kind: termination-notice
        schema_version: 1
        id: notice-1
        agreement_id: pks-p3ke-2023
        document: B-1/TEST/2024
        given_by: kemnaker
        notice_date: 2024-01-10
        last_day: {last_day}
    """)


def request(policy: Policy, program: str = "padat_karya", fields: tuple[str, ...] = ("nik", "nama"),
            at: date | datetime = IN_FORCE, purpose: str | None = "seleksi_calon_peserta") -> Decision:
    return policy.decide(*OFFICER, "request-extract", program, fields, at=at, purpose=purpose)


# --- the bundled configuration -------------------------------------------------------------------

def test_bundled_default_is_the_pks_as_signed(signed: Policy) -> None:
    agreement = signed.agreement
    terms = signed.terms_at(AFTER_EXPIRY)
    assert agreement.addenda == ()
    assert terms.version == "pks-p3ke-2023"
    assert terms.numbers.party_1 == "003/PKS/DEP.1/KEMENKO/PMK/02/2023"
    assert terms.numbers.party_2 == "71668/KS.06/II/2023"
    assert (terms.signed_place, terms.signed_on) == ("Jakarta", date(2023, 2, 28))
    assert (terms.validity.first_day, terms.validity.last_day) == (date(2023, 2, 28), date(2025, 2, 28))
    assert [p.org for p in terms.parties] == ["kemenkopmk", "kemnaker"]
    assert {p.code for p in terms.programs} == {c.value for c in ProgramCode}
    assert {s.id for s in terms.signatories} == {"sig-kemenkopmk-deputi", "sig-kemnaker-kabarenbang"}


def test_example_addendum_is_marked_and_skipped_unless_asked(tmp_path: Path) -> None:
    example = BUNDLED_DIR / "example-addendum-extension.yaml"
    assert "NOT A REAL ADDENDUM" in example.read_text(encoding="utf-8")
    assert load_agreement().addenda == ()
    assert load_agreement(BUNDLED_DIR).addenda == ()
    assert [a.id for a in load_agreement(include_examples=True).addenda] == ["example-add-1"]
    assert [a.id for a in load_agreement(files=[example]).addenda] == ["example-add-1"]
    shutil.copy(example, tmp_path / example.name)
    assert load_agreement(agreement_dir(tmp_path)).addenda == ()


# --- validity (Art. 8, 15) -----------------------------------------------------------------------

def test_expired_without_addendum_refuses_every_data_release(signed: Policy) -> None:
    decision = request(signed, at=AFTER_EXPIRY)
    assert not decision.allowed
    assert decision.rule == Rule.EXPIRED
    # Indonesian first, then English: the catalogue message (domain `agreement`), and the audit log's text
    assert decision.message is not None and decision.message.key == "expired"
    indonesian, english = decision.message.render("id"), decision.message.render("en")
    assert decision.reason == f"{indonesian} / {english}"
    assert indonesian.startswith("Perjanjian PKS 003/PKS/DEP.1/KEMENKO/PMK/02/2023")
    assert "berakhir pada 2025-02-28" in indonesian and "tidak ada adendum yang memperpanjangnya" in indonesian
    assert "diperiksa pada 2026-11-26" in indonesian and "adendum yang ditandatangani PARA PIHAK" in indonesian
    assert "expired on 2025-02-28" in english
    assert "no addendum extends it" in english
    assert "checked at 2026-11-26" in english
    assert decision.terms_version == "pks-p3ke-2023"
    for org, role, action in [("kemenkopmk", "data-steward", "prepare-extract"),
                              ("kemenkopmk", "data-steward", "release-package"),
                              ("kemnaker", "program-officer", "download-package")]:
        assert signed.decide(org, [role], action, "padat_karya", at=AFTER_EXPIRY).rule == Rule.EXPIRED


def test_valid_in_2024_without_addendum(signed: Policy) -> None:
    decision = request(signed, at=IN_FORCE)
    assert decision.allowed, decision.reason
    assert decision.rule == Rule.ALLOWED
    assert decision.terms_version == "pks-p3ke-2023"


def test_last_day_is_inclusive_in_jakarta_time(signed: Policy) -> None:
    assert request(signed, at=date(2025, 2, 28)).allowed
    assert not request(signed, at=date(2025, 3, 1)).allowed
    assert request(signed, at=datetime.fromisoformat("2025-02-28T23:30:00+07:00")).allowed
    # 17:30 UTC is 00:30 on 1 March in Jakarta
    assert not request(signed, at=datetime(2025, 2, 28, 17, 30, tzinfo=UTC)).allowed


def test_not_yet_in_force_before_signing(signed: Policy) -> None:
    decision = request(signed, at=date(2023, 2, 27))
    assert decision.rule == Rule.NOT_YET_IN_FORCE
    assert "2023-02-28" in decision.reason


def test_valid_in_2026_with_the_example_addendum(extended: Policy) -> None:
    decision = request(extended, at=AFTER_EXPIRY)
    assert decision.allowed, decision.reason
    assert decision.terms_version == "pks-p3ke-2023+example-add-1"
    assert extended.terms_at(IN_FORCE).version == "pks-p3ke-2023"
    assert extended.terms_at(date(2025, 3, 1)).validity.last_day == date(2027, 2, 28)
    assert request(extended, at=date(2027, 2, 28)).allowed
    late = request(extended, at=date(2027, 3, 1))
    assert late.rule == Rule.EXPIRED and "2027-02-28" in late.reason


def test_obligations_that_outlive_the_agreement_stay_allowed(signed: Policy) -> None:
    assert signed.decide(*OFFICER, "submit-feedback", "padat_karya", at=AFTER_EXPIRY).allowed
    assert signed.decide("kemenkopmk", ["compliance-auditor"], "query-audit", at=AFTER_EXPIRY).allowed
    assert signed.decide("kemnaker", ["operator"], "operate", at=AFTER_EXPIRY).allowed


def test_termination_notice_ends_validity_early(tmp_path: Path) -> None:
    directory = notice_dir(tmp_path, last_day="2024-03-31")
    policy = Policy(load_agreement(directory))
    assert policy.terms_at(date(2024, 1, 9)).validity.last_day == date(2025, 2, 28)
    assert request(policy, at=date(2024, 3, 31)).allowed
    decision = request(policy, at=date(2024, 4, 1))
    assert decision.rule == Rule.TERMINATED
    assert "notice-1" in decision.reason and "Art. 8(2)" in decision.reason
    assert decision.terms_version == "pks-p3ke-2023+notice-1"


def test_termination_needs_thirty_days_notice(tmp_path: Path) -> None:
    directory = notice_dir(tmp_path, last_day="2024-01-31")
    with pytest.raises(AgreementConfigError, match=r"notice\.yaml: .*last_day.*30 days"):
        load_agreement(directory)


# --- scope, minimisation, roles ------------------------------------------------------------------

def test_program_out_of_scope(signed: Policy) -> None:
    decision = request(signed, program="bantuan_sosial_tunai")
    assert decision.rule == Rule.PROGRAM_SCOPE
    assert decision.reason.startswith("program 'bantuan_sosial_tunai' bukan salah satu dari 4 program Pasal 3")
    assert "program 'bantuan_sosial_tunai' is not one of the 4 programs of Art. 3" in decision.reason
    no_program = signed.decide(*OFFICER, "request-extract", None, ("nik",), at=IN_FORCE)
    assert no_program.rule == Rule.PROGRAM_REQUIRED


def test_field_not_allowed_for_program(signed: Policy) -> None:
    decision = request(signed, program="padat_karya", fields=("nik", "alamat"))
    assert decision.rule == Rule.FIELD_MINIMISATION
    assert decision.reason.startswith("elemen data 'alamat' tidak diizinkan untuk program padat_karya (Pasal 10 ayat "
                                      "(1), minimisasi data); yang diizinkan: nik,")
    assert decision.message is not None and decision.message.render("en").startswith(
        "field 'alamat' is not allowed for program padat_karya (Art. 10(1) data minimisation); allowed: nik,"
    )
    assert request(signed, program="pbi_jamsostek_pekerja_rentan", fields=("nik", "alamat")).allowed
    several = request(signed, fields=("nik", "alamat", "resiko_stunting"))
    assert "fields 'alamat', 'resiko_stunting' are not allowed" in several.reason


def test_wrong_org_or_role(signed: Policy) -> None:
    decision = signed.decide("kemenkopmk", ["program-officer"], "request-extract", "padat_karya", at=IN_FORCE)
    assert decision.rule == Rule.ROLE
    assert decision.reason.startswith("peran program-officer dari kemenkopmk tidak berwenang melakukan request-extract")
    assert decision.message is not None
    assert decision.message.render("en").startswith("role program-officer of kemenkopmk may not request-extract")
    assert signed.decide("kemnaker", [], "request-extract", "padat_karya", at=IN_FORCE).rule == Rule.ROLE
    assert signed.decide("kemnaker", ["data-steward"], "publish-dataset", at=IN_FORCE).rule == Rule.ROLE
    outsider = signed.decide("kemensos", ["program-officer"], "request-extract", "padat_karya", at=IN_FORCE)
    assert outsider.rule == Rule.NOT_A_PARTY and "instansi 'kemensos' bukan pihak" in outsider.reason
    assert "'kemensos' is not a party" in outsider.reason
    assert signed.decide(*OFFICER, "delete-everything", at=IN_FORCE).rule == Rule.UNKNOWN_ACTION


def test_decide_for_an_event_actor(signed: Policy) -> None:
    actor = Actor(org="kemnaker", subject="svc-pusdatik", roles=["program-officer"], service_account=True)
    assert signed.decide_for(actor, "download-package", "padat_karya", at=IN_FORCE).allowed


def test_sign_bast_needs_own_signatory(signed: Policy) -> None:
    def sign(org: str, signatory: str | None) -> Decision:
        return signed.decide(org, ["signatory"], "sign-bast", "padat_karya",
                             at=IN_FORCE, signatory_id=signatory)

    assert sign("kemnaker", "sig-kemnaker-kabarenbang").allowed
    assert sign("kemenkopmk", "sig-kemenkopmk-deputi").allowed
    assert sign("kemnaker", None).rule == Rule.SIGNATORY
    assert sign("kemnaker", "sig-kemenkopmk-deputi").rule == Rule.SIGNATORY


# --- written approvals (Art. 10(2)) and disclosure consents (Art. 10(3)) -------------------------

APPROVAL_NEW_PROGRAM = """
    kind: written-approval
    schema_version: 1
    id: appr-bsu-2024
    agreement_id: pks-p3ke-2023
    document: B-77/DEP.1/KEMENKO/PMK/05/2024
    dated: 2024-05-20
    granted_by: kemenkopmk
    granted_to: kemnaker
    program: bantuan_subsidi_upah
    fields: [nik, nama, desil_kesejahteraan]
    purpose: bsu_2024
    purpose_title_id: Penyaluran bantuan subsidi upah 2024
    eligibility:
      summary: pekerja berupah rendah / low-wage workers
      age: {min: 18, max: 60}
    valid_from: 2024-06-01
    last_day: 2024-12-31
"""

APPROVAL_EXTRA_FIELD = """
    kind: written-approval
    schema_version: 1
    id: appr-padat-karya-alamat
    agreement_id: pks-p3ke-2023
    document: B-78/DEP.1/KEMENKO/PMK/05/2024
    dated: 2024-05-20
    granted_by: kemenkopmk
    granted_to: kemnaker
    program: padat_karya
    fields: [alamat]
    valid_from: 2024-06-01
"""


def test_written_approval_allows_a_fifth_program_within_scope_and_dates(tmp_path: Path) -> None:
    policy = Policy(load_agreement(agreement_dir(tmp_path, approval=APPROVAL_NEW_PROGRAM)))

    def bsu(at: date, fields: tuple[str, ...] = ("nik", "nama"),
            purpose: str | None = "bsu_2024") -> Decision:
        return request(policy, program="bantuan_subsidi_upah", fields=fields, at=at, purpose=purpose)

    ok = bsu(date(2024, 6, 1))
    assert ok.allowed, ok.reason
    assert ok.grounds == ("appr-bsu-2024",)
    assert "B-77/DEP.1/KEMENKO/PMK/05/2024" in ok.reason
    before = bsu(date(2024, 5, 31))
    assert before.rule == Rule.PROGRAM_SCOPE and "valid only from 2024-06-01 to 2024-12-31" in before.reason
    assert bsu(date(2025, 1, 15)).rule == Rule.PROGRAM_SCOPE  # agreement in force, approval not
    assert bsu(date(2024, 6, 1), purpose="something_else").rule == Rule.PROGRAM_SCOPE
    assert bsu(date(2024, 6, 1), purpose=None).rule == Rule.PROGRAM_SCOPE
    assert bsu(date(2024, 6, 1), fields=("nik", "alamat")).rule == Rule.FIELD_MINIMISATION


def test_written_approval_adds_a_field_but_not_past_the_agreement(tmp_path: Path) -> None:
    policy = Policy(load_agreement(agreement_dir(tmp_path, approval=APPROVAL_EXTRA_FIELD)))
    ok = request(policy, fields=("nik", "alamat"), at=date(2024, 6, 1))
    assert ok.allowed, ok.reason
    assert ok.grounds == ("appr-padat-karya-alamat",)
    assert request(policy, fields=("nik",), at=date(2024, 6, 1)).grounds == ()
    assert request(policy, fields=("nik", "alamat"), at=date(2024, 5, 31)).rule == Rule.FIELD_MINIMISATION
    assert request(policy, fields=("nik", "pendidikan")).rule == Rule.FIELD_MINIMISATION
    # an open-ended approval does not outlive the agreement itself
    assert request(policy, fields=("nik", "alamat"), at=AFTER_EXPIRY).rule == Rule.EXPIRED


def test_disclosure_needs_the_other_partys_consent(tmp_path: Path) -> None:
    consent = """
        kind: disclosure-consent
        schema_version: 1
        id: consent-monev-2024
        agreement_id: pks-p3ke-2023
        document: B-90/DEP.1/KEMENKO/PMK/11/2024
        dated: 2024-11-01
        granted_by: kemenkopmk
        granted_to: kemnaker
        programs: [padat_karya]
        valid_from: 2024-11-01
        last_day: 2025-12-31
    """
    signed = Policy(load_agreement())
    denied = signed.decide(*OFFICER, "publish-report", "padat_karya", at=date(2024, 12, 1))
    assert denied.rule == Rule.DISCLOSURE_CONSENT and "Art. 10(3)" in denied.reason
    policy = Policy(load_agreement(agreement_dir(tmp_path, consent=consent)))

    def publish(org: str, role: str, program: str | None, at: date = date(2024, 12, 1)) -> Decision:
        return policy.decide(org, [role], "publish-report", program, at=at)

    ok = publish("kemnaker", "program-officer", "padat_karya")
    assert ok.allowed and ok.grounds == ("consent-monev-2024",)
    assert publish("kemnaker", "program-officer", "padat_karya", date(2025, 6, 1)).allowed  # survives expiry
    lapsed = publish("kemnaker", "program-officer", "padat_karya", date(2026, 1, 1))
    assert lapsed.rule == Rule.DISCLOSURE_CONSENT
    assert "valid only from 2024-11-01 to 2025-12-31" in lapsed.reason
    assert publish("kemnaker", "program-officer", None).rule == Rule.DISCLOSURE_CONSENT
    assert publish("kemnaker", "program-officer", "tenaga_kerja_mandiri").rule == Rule.DISCLOSURE_CONSENT
    assert publish("kemenkopmk", "data-steward", "padat_karya").rule == Rule.DISCLOSURE_CONSENT
    # a publication's purpose is matched against the consent, not against the program's purpose codes
    named = policy.decide("kemnaker", ["program-officer"], "publish-report", "padat_karya", at=date(2024, 12, 1),
                          purpose="laporan publik pemanfaatan Data P3KE 2024")
    assert named.allowed, named.reason


# --- purposes (UU PDP Art. 16(2)(a)) --------------------------------------------------------------

def test_a_request_needs_one_of_its_programs_purposes(signed: Policy) -> None:
    missing = request(signed, purpose=None)
    assert not missing.allowed and missing.rule == Rule.PURPOSE_REQUIRED
    assert "needs a purpose code for program padat_karya" in missing.reason
    assert "seleksi_calon_peserta" in missing.reason and "perencanaan_sasaran" in missing.reason
    planning = signed.decide(*OFFICER, "plan-aggregates", "padat_karya", at=IN_FORCE)
    assert planning.rule == Rule.PURPOSE_REQUIRED
    wrong = request(signed, purpose="pendaftaran_kepesertaan")  # a purpose of pbi, not of padat karya
    assert wrong.rule == Rule.PURPOSE
    assert "purpose 'pendaftaran_kepesertaan' is not a purpose of program padat_karya" in wrong.reason
    assert request(signed, program="pbi_jamsostek_pekerja_rentan", purpose="pendaftaran_kepesertaan").allowed
    ok = request(signed, purpose="perencanaan_sasaran")
    assert ok.allowed and "purpose perencanaan_sasaran is one of program padat_karya's purposes" in ok.reason
    # other actions need none, but a purpose given is still checked
    assert signed.decide("kemenkopmk", ["data-steward"], "prepare-extract", "padat_karya", at=IN_FORCE).allowed
    assert signed.decide("kemenkopmk", ["data-steward"], "prepare-extract", "padat_karya", at=IN_FORCE,
                         purpose="bsu_2024").rule == Rule.PURPOSE


def test_a_written_approvals_purpose_is_the_one_it_covers(tmp_path: Path) -> None:
    policy = Policy(load_agreement(agreement_dir(tmp_path, approval=APPROVAL_NEW_PROGRAM)))
    on = date(2024, 6, 1)
    ok = request(policy, program="bantuan_subsidi_upah", at=on, purpose="bsu_2024")
    assert ok.allowed and ok.grounds == ("appr-bsu-2024",)
    assert "purpose bsu_2024 is approved in writing by appr-bsu-2024" in ok.reason
    other = request(policy, program="bantuan_subsidi_upah", at=on, purpose="seleksi_calon_peserta")
    assert other.rule == Rule.PROGRAM_SCOPE and "covers only the purpose 'bsu_2024'" in other.reason
    [purpose] = policy.purposes_for("bantuan_subsidi_upah", on)
    assert (purpose.code, purpose.title_id) == ("bsu_2024", "Penyaluran bantuan subsidi upah 2024")
    assert policy.purposes_for("bantuan_subsidi_upah", date(2025, 1, 15)) == ()  # the approval has lapsed
    eligibility = policy.eligibility_for("bantuan_subsidi_upah", on, "bsu_2024")
    assert eligibility is not None and eligibility.age is not None and eligibility.age.max == 60
    assert policy.eligibility_for("bantuan_subsidi_upah", on, "something_else") is None
    assert policy.eligibility_for("padat_karya", on) is None  # Art. 3: targeting's rules file


def test_an_approval_for_a_new_program_must_state_purpose_eligibility_and_fields(tmp_path: Path) -> None:
    bare = "\n".join(line for line in textwrap.dedent(APPROVAL_NEW_PROGRAM).splitlines()
                     if not line.startswith(("purpose", "eligibility", "  summary", "  age", "fields")))
    agreement_dir(tmp_path, approval=bare)
    with pytest.raises(AgreementConfigError) as err:
        load_agreement(tmp_path)
    for name in ("purpose", "eligibility", "fields"):
        assert f"approval.yaml: {name}: program 'bantuan_subsidi_upah' is outside" in str(err.value)


# --- addenda change the terms from their effective date (Art. 14) -------------------------------

def test_addendum_changes_programs_fields_and_liaison(tmp_path: Path) -> None:
    directory = agreement_dir(tmp_path, add1="""
        kind: addendum
        schema_version: 1
        id: add-1
        agreement_id: pks-p3ke-2023
        number: ADD-1/TEST
        title: test addendum
        signed_on: 2024-01-02
        effective_from: 2024-02-01
        changes:
          remove_programs: [tenaga_kerja_mandiri]
          add_programs:
            - code: pemagangan
              article: 3(e) by addendum 1
              title: Apprenticeship
              title_id: Pemagangan
              fields: [nik, nama, tanggal_lahir]
              purposes:
                - code: seleksi_peserta_magang
                  title_id: Seleksi peserta pemagangan
                  title: Selecting apprentices
          program_fields:
            padat_karya: [nik, nama, alamat]
          liaison_officers:
            - id: liaison-kemenkopmk-2
              party: 1
              org: kemenkopmk
              position: Asisten Deputi Pemberdayaan Masyarakat
              office: Kemenko PMK
              address: Jalan Medan Merdeka Barat Nomor 3, Jakarta Pusat
              email: p3ke@kemenkopmk.go.id
    """)
    policy = Policy(load_agreement(directory))
    before, after = policy.terms_at(date(2024, 1, 31)), policy.terms_at(date(2024, 2, 1))
    assert before.version == "pks-p3ke-2023" and after.version == "pks-p3ke-2023+add-1"
    assert [p.code for p in after.programs] == [
        "pelatihan_berbasis_kompetensi", "padat_karya", "pbi_jamsostek_pekerja_rentan", "pemagangan"
    ]
    assert after.validity == before.validity
    assert [lo.id for lo in after.liaison_officers] == ["liaison-kemenkopmk-2"]
    magang = "seleksi_peserta_magang"
    assert request(policy, "pemagangan", ("nik",), at=date(2024, 2, 1), purpose=magang).allowed
    assert request(policy, "pemagangan", ("nik",), at=date(2024, 2, 1)).rule == Rule.PURPOSE  # not its purpose
    assert [p.code for p in policy.purposes_for("pemagangan", date(2024, 2, 1))] == [magang]
    assert request(policy, "pemagangan", ("nik",), at=date(2024, 1, 31), purpose=magang).rule == Rule.PROGRAM_SCOPE
    assert request(policy, "tenaga_kerja_mandiri", ("nik",), at=date(2024, 2, 1)).rule == Rule.PROGRAM_SCOPE
    assert request(policy, "padat_karya", ("nik", "alamat"), at=date(2024, 2, 1)).allowed
    assert not request(policy, "padat_karya", ("nik", "pekerjaan"), at=date(2024, 2, 1)).allowed


# --- loader errors name the file and the field ---------------------------------------------------

def test_loader_error_names_file_and_misspelt_field(tmp_path: Path) -> None:
    text = BASE_FILE.read_text(encoding="utf-8").replace("signed_place:", "signing_place:")
    write(tmp_path, "pks.yaml", text)
    with pytest.raises(AgreementConfigError) as err:
        load_agreement(tmp_path)
    message = str(err.value)
    assert "pks.yaml: signing_place: Extra inputs are not permitted" in message
    assert "pks.yaml: signed_place: Field required" in message


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ("kind: adendum\n", r"bad\.yaml: kind: must be one of"),
        ("kind: addendum\nschema_version: 1\nid: add-1\nagreement_id: pks-p3ke-2023\nnumber: X\n"
         "title: t\nsigned_on: 2024-13-01\neffective_from: 2024-02-01\nchanges: {last_day: 2026-01-01}\n",
         r"bad\.yaml: signed_on: "),
        ("kind: addendum\nschema_version: 1\nid: add-1\nagreement_id: pks-p3ke-2023\nnumber: X\n"
         "title: t\nsigned_on: 2024-01-01\neffective_from: 2024-02-01\n"
         "changes: {remove_programs: [bansos]}\n",
         r"bad\.yaml: changes\.remove_programs: program 'bansos' is not in the terms"),
        ("kind: addendum\nschema_version: 1\nid: add-1\nagreement_id: pks-p3ke-2023\nnumber: X\n"
         "title: t\nsigned_on: 2024-01-01\neffective_from: 2024-02-01\n"
         "changes: {program_fields: {padat_karya: [nik, nik]}}\n",
         r"bad\.yaml: changes\.program_fields: padat_karya: duplicate field 'nik'"),
        ("kind: addendum\nschema_version: 1\nid: add-1\nagreement_id: pks-p3ke-2023\nnumber: X\n"
         "title: t\nsigned_on: 2024-03-01\neffective_from: 2024-02-01\nchanges: {last_day: 2026-01-01}\n",
         r"bad\.yaml: .*effective_from 2024-02-01 is before signed_on"),
        (APPROVAL_NEW_PROGRAM.replace("granted_by: kemenkopmk", "granted_by: kemnaker"),
         r"bad\.yaml: granted_by: Art\. 10\(2\) approvals are given by party 1"),
        (APPROVAL_NEW_PROGRAM.replace("agreement_id: pks-p3ke-2023", "agreement_id: pks-other"),
         r"bad\.yaml: agreement_id: 'pks-other' is not this agreement"),
        ("kind: [unclosed\n", r"bad\.yaml: not valid YAML"),
    ],
)
def test_loader_errors(tmp_path: Path, record: str, expected: str) -> None:
    agreement_dir(tmp_path, bad=record)
    with pytest.raises(AgreementConfigError, match=expected):
        load_agreement(tmp_path)


def test_loader_needs_exactly_one_agreement_and_unique_ids(tmp_path: Path) -> None:
    with pytest.raises(AgreementConfigError, match="need exactly one file with kind: agreement"):
        load_agreement(tmp_path)
    agreement_dir(tmp_path, a1=APPROVAL_EXTRA_FIELD, a2=APPROVAL_EXTRA_FIELD)
    duplicate = r"a2\.yaml: id: 'appr-padat-karya-alamat' is already used by"
    with pytest.raises(AgreementConfigError, match=duplicate):
        load_agreement(tmp_path)
    with pytest.raises(AgreementConfigError, match="does not exist"):
        load_agreement(tmp_path / "missing")


# --- CLI -----------------------------------------------------------------------------------------

CHECK = ["agreement", "check", "--org", "kemnaker", "--role", "program-officer",
         "--action", "request-extract", "--program", "padat_karya", "--purpose", "seleksi_calon_peserta",
         "--field", "nik", "nama"]


@pytest.fixture
def no_env_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("P3KE_AGREEMENT_DIR", raising=False)


@pytest.mark.usefixtures("no_env_dir")
def test_cli_check_exit_codes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main([*CHECK, "--at", "2024-06-01"]) == 0
    assert capsys.readouterr().out.startswith("ALLOW (allowed, terms pks-p3ke-2023)")
    assert main([*CHECK, "--at", "2026-11-26"]) == 1
    assert "DENY (expired" in capsys.readouterr().out
    assert main([*CHECK, "--at", "2026-11-26", "--include-examples"]) == 0
    assert "terms pks-p3ke-2023+example-add-1" in capsys.readouterr().out
    assert main([*CHECK, "--field", "alamat", "--at", "2024-06-01", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["rule"] == "field-minimisation"
    assert main([*CHECK, "--at", "2024-06-01", "--dir", str(tmp_path)]) == 2
    assert "need exactly one file" in capsys.readouterr().err


@pytest.mark.usefixtures("no_env_dir")
def test_cli_show_and_register(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["agreement", "show", "--at", "2026-11-26", "--include-examples", "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["version"] == "pks-p3ke-2023+example-add-1" and shown["status"] == "in-force"
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["agreement", "show", "--at", "2026-11-26"])
    assert args.func(args) == 0
    assert "status: expired" in capsys.readouterr().out


def test_cli_as_a_process() -> None:
    argv = [sys.executable, "-m", "p3ke_platform.agreement.cli", *CHECK, "--at", "2026-11-26"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", "P3KE_ENV": "test"}, check=False)
    assert result.returncode == 1, result.stderr
    assert "expired on 2025-02-28" in result.stdout


# --- reasons in the reader's language (PO domain `agreement`) --------------------------------------

def test_every_reason_is_a_catalogue_message_in_both_languages(signed: Policy, tmp_path: Path) -> None:
    """Each rule's refusal (and an allowance) carries its message; `reason` is it in Indonesian, then English, and
    the Indonesian half has none of the English wording."""
    terminated = Policy(load_agreement(notice_dir(tmp_path, last_day="2024-03-31")))
    decisions = {
        Rule.UNKNOWN_ACTION: signed.decide(*OFFICER, "delete-everything", at=IN_FORCE),
        Rule.NOT_A_PARTY: signed.decide("kemensos", ["program-officer"], "request-extract", at=IN_FORCE),
        Rule.ROLE: signed.decide("kemnaker", [], "request-extract", "padat_karya", at=IN_FORCE),
        Rule.SIGNATORY: signed.decide("kemnaker", ["signatory"], "sign-bast", at=IN_FORCE, signatory_id="x"),
        Rule.NOT_YET_IN_FORCE: request(signed, at=date(2023, 2, 27)),
        Rule.EXPIRED: request(signed, at=AFTER_EXPIRY),
        Rule.TERMINATED: request(terminated, at=date(2024, 4, 1)),
        Rule.PROGRAM_REQUIRED: signed.decide(*OFFICER, "request-extract", None, at=IN_FORCE),
        Rule.PROGRAM_SCOPE: request(signed, program="bantuan_sosial_tunai"),
        Rule.PURPOSE_REQUIRED: request(signed, purpose=None),
        Rule.PURPOSE: request(signed, purpose="pendaftaran_kepesertaan"),
        Rule.FIELD_MINIMISATION: request(signed, fields=("nik", "alamat")),
        Rule.DISCLOSURE_CONSENT: signed.decide(*OFFICER, "publish-report", "padat_karya", at=IN_FORCE),
        Rule.ALLOWED: request(signed),
    }
    for rule, decision in decisions.items():
        assert decision.rule == rule, (rule, decision.reason)
        assert decision.message is not None and decision.message.domain == "agreement"
        indonesian, english = decision.message.render("id"), decision.message.render("en")
        assert decision.reason == f"{indonesian} / {english}" and indonesian != english
        for word in (" is not ", " may not ", " needs ", " expired ", " allowed: ", " covers "):
            assert word not in indonesian, (rule, indonesian)
    assert decisions[Rule.ALLOWED].reason.startswith("diizinkan: peran program-officer dari kemnaker boleh")
    assert "'x' bukan penandatangan kemnaker" in decisions[Rule.SIGNATORY].reason
    assert "allowed: role program-officer of kemnaker may request-extract" in decisions[Rule.ALLOWED].reason


def test_refused_unless_answers_the_policy_reason_in_the_callers_language(signed: Policy) -> None:
    from p3ke_platform.refusal import Refused

    decision = request(signed, at=AFTER_EXPIRY)
    with pytest.raises(Refused) as caught:
        Refused.unless(decision)
    refused = caught.value
    assert (refused.status, refused.rule, refused.code) == (403, "expired", "expired")
    assert refused.reason == decision.reason  # the audit log keeps both languages
    reference = "PKS 003/PKS/DEP.1/KEMENKO/PMK/02/2023 / 71668/KS.06/II/2023"
    assert refused.text().startswith(f"Perjanjian {reference} berakhir pada 2025-02-28")
    assert refused.text("en").startswith(f"the agreement {reference} expired on 2025-02-28")
    Refused.unless(request(signed))  # allowed: nothing raised
