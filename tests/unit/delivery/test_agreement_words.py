"""What the BAST and a refused handover say about the agreement: the program and purpose in words (the four of
Art. 3, one an addendum added, one a written approval covers) and the policy's refusal, Indonesian first."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from p3ke_delivery.domain.agreed_program import describe
from p3ke_delivery.domain.refusals import refusal
from p3ke_platform.agreement import BUNDLED_DIR, Policy, load_agreement

ADDENDUM = """
kind: addendum
schema_version: 1
id: add-bsu
agreement_id: pks-p3ke-2023
number: ADD-2/TEST/2024
title: Program bantuan subsidi upah
signed_on: 2024-01-05
effective_from: 2024-02-01
changes:
  add_programs:
    - code: bantuan_subsidi_upah
      article: 3(e)
      title: Wage subsidy
      title_id: Program bantuan subsidi upah
      fields: [nik, nama]
      purposes:
        - {code: penyaluran_bsu, title_id: Penyaluran bantuan subsidi upah, title: Paying the wage subsidy}
"""

APPROVAL = """
kind: written-approval
schema_version: 1
id: appr-magang
agreement_id: pks-p3ke-2023
document: B-9/DEP.1/KEMENKO/PMK/05/2024
dated: 2024-05-20
granted_by: kemenkopmk
granted_to: kemnaker
program: pemagangan
fields: [nik, nama]
purpose: seleksi_magang
purpose_title_id: Seleksi calon peserta pemagangan
eligibility:
  summary: usia muda / young people
  age: {min: 18, max: 30}
valid_from: 2024-06-01
last_day: 2024-12-31
"""


def policy(tmp_path: Path, **records: str) -> Policy:
    shutil.copy(BUNDLED_DIR / "pks-p3ke-2023.yaml", tmp_path / "pks-p3ke-2023.yaml")
    for name, text in records.items():
        (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")
    return Policy(load_agreement(tmp_path))


def test_programs_and_purposes_in_words(tmp_path: Path) -> None:
    p = policy(tmp_path, addendum=ADDENDUM, approval=APPROVAL)
    day = date(2024, 7, 1)
    four = describe(p, "padat_karya", "seleksi_calon_peserta", day)
    assert (four.title, four.article, four.purpose) == (
        "Program padat karya", "3(b)", "Seleksi calon peserta program (kode seleksi_calon_peserta)")
    added = describe(p, "bantuan_subsidi_upah", "penyaluran_bsu", day)
    assert (added.title, added.article, added.purpose) == (
        "Program bantuan subsidi upah", "3(e)", "Penyaluran bantuan subsidi upah (kode penyaluran_bsu)")
    approved = describe(p, "pemagangan", "seleksi_magang", day)
    assert approved.title == "Seleksi calon peserta pemagangan"
    assert approved.article == ("10 ayat (2), persetujuan tertulis PIHAK KESATU Nomor B-9/DEP.1/KEMENKO/PMK/05/2024 "
                                "tanggal 20-05-2024")
    assert approved.purpose == "Seleksi calon peserta pemagangan (kode seleksi_magang)"
    # a purpose or program the agreement does not (or no longer) defines is shown by its code
    assert describe(p, "pemagangan", "seleksi_magang", date(2025, 1, 1)).purpose == "kode seleksi_magang"
    gone = describe(p, "bantuan_lain", None, day)
    assert (gone.title, gone.article, gone.purpose) == ("bantuan_lain", "-", None)


def test_refusals_say_why_in_indonesian_then_the_policys_reason(tmp_path: Path) -> None:
    p = policy(tmp_path)
    after = date(2025, 3, 10)  # the signed PKS's last day is 2025-02-28
    expired = p.decide("kemenkopmk", ["data-steward"], "prepare-extract", "padat_karya", at=after)
    text = refusal("prepare", expired, p.terms_at(after), program="padat_karya")
    assert text.startswith("Ditolak: Perjanjian Kerja Sama sudah berakhir: hari terakhir berlakunya 28 Februari 2025 "
                           "(Pasal 8 ayat (1))"), text
    assert text.endswith(f" / the agreement does not allow this handover now: {expired.reason}")
    early = date(2023, 1, 1)
    not_yet = p.decide("kemenkopmk", ["data-steward"], "release-package", "padat_karya", at=early)
    text = refusal("release", not_yet, p.terms_at(early), program="padat_karya")
    assert text.startswith("Ditolak: Perjanjian Kerja Sama belum berlaku; berlaku mulai "), text
    assert "kata sandinya tidak diserahkan. / the agreement does not allow releasing this package" in text
    fields = p.decide("kemnaker", ["program-officer"], "download-package", "padat_karya", ["nik", "alamat"],
                      at=date(2024, 6, 1))
    text = refusal("prepare", fields, p.terms_at(date(2024, 6, 1)), program="padat_karya")
    assert text.startswith("Ditolak: elemen data ekstrak melebihi yang boleh diterima program 'padat_karya' "
                           "(Pasal 10 ayat (1), minimisasi data)"), text
