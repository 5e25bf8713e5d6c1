"""When party 2's disposal certificate is owed, and the words of its refusals (domain.disposal_certificate), and its
PDF (adapters.disposal_pdf): Indonesian text, one empty PAdES field for PIHAK KEDUA."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import enumerate_sig_fields

from p3ke_delivery.adapters.disposal_pdf import DisposalContent, render
from p3ke_delivery.domain import disposal_certificate as rules
from p3ke_platform.agreement.policy import WIB
from p3ke_platform.refusal import messages
from tests.unit.delivery.support import CONTENT

NOW = datetime(2027, 1, 10, 3, tzinfo=UTC)
END = rules.agreement_ends_at(date(2027, 2, 28), WIB)
M = messages("delivery")


def test_the_agreement_ends_at_the_start_of_the_day_after_its_last_day() -> None:
    assert END == datetime(2027, 3, 1, tzinfo=WIB) == datetime(2027, 2, 28, 17, tzinfo=UTC)


def test_nothing_is_owed_before_a_trigger_and_the_earlier_trigger_counts() -> None:
    assert rules.due_of(None, END, NOW, 30) is None
    assert rules.status_of(None, None, NOW) is None
    ended = NOW - timedelta(days=3)
    due = rules.due_of(ended, END, NOW, 30)
    assert due == rules.Due("purpose-ended", ended, ended + timedelta(days=30))
    after_end = END + timedelta(days=5)
    assert rules.due_of(None, END, after_end, 30) == rules.Due("agreement-ended", END, END + timedelta(days=30))
    late_purpose = END + timedelta(days=2)  # declared after the agreement had already ended
    assert rules.due_of(late_purpose, END, after_end, 30).reason == "agreement-ended"  # type: ignore[union-attr]


def test_due_then_overdue_then_certified_whatever_the_clock() -> None:
    due = rules.Due("purpose-ended", NOW, NOW + timedelta(days=30))
    assert rules.status_of(due, None, NOW + timedelta(days=30)) == "disposal-due"
    assert rules.status_of(due, None, NOW + timedelta(days=30, seconds=1)) == "disposal-overdue"
    assert rules.status_of(due, NOW, NOW + timedelta(days=400)) == "disposal-certified"
    assert rules.status_of(None, NOW, NOW) == "disposal-certified"  # destroyed before it was owed


def test_free_text_with_a_nik_is_refused_and_refusals_are_in_the_language_asked_for() -> None:
    assert rules.text_problem("notes", "laptop petugas dan cadangan") is None
    problem = rules.text_problem("notes", "NIK 3201014101900001 ikut dihapus")
    assert problem is not None and problem.key == "disposal.personal_number"
    assert "3201014101900001" not in problem.both()
    assert problem.render("id").startswith("notes memuat angka 16 digit") and "hapus angka itu" in problem.render("id")
    assert problem.render("en").startswith("notes holds a 16-digit number") and "remove it" in problem.render("en")
    assert rules.text_problem("notes", "nomor 12345678901234567") is None  # 17 digits: not a NIK
    message = rules.upload_refusal("not-this-bast", "the signed document is not the BAST issued")
    text = message.render("id")
    assert text.startswith("Berita acara pemusnahan tidak diterima: ") and "unduh berkasnya" in text
    assert " / " not in text and message.render("en").startswith("the disposal certificate is not accepted: ")
    assert "BAST issued" not in message.both()  # the BAST verifier's words are not about this document
    assert rules.upload_refusal("no-such-rule", "x").render("id").startswith(
        "Berita acara pemusnahan tidak diterima: tanda tangan tidak dapat diterima; tandatangani lagi")
    # the verifier's detail is its own catalogue message: rendered in the same language, not "id / en" inside
    inner = M("certificate.revocation_unknown", serial="1a2b", issuer="CN=CA")
    detailed = rules.upload_refusal("certificate-revoked", inner)
    assert detailed.render("id").endswith(f"status serah terima tidak berubah. Rincian: {inner.render('id')}")
    assert detailed.render("en").endswith(f"the handover's status is unchanged. Detail: {inner.render('en')}")
    assert inner.render("en") not in detailed.render("id")


def test_the_pdf_has_one_empty_field_for_pihak_kedua() -> None:
    content = DisposalContent(
        number="001/BAP-P3KE/PK/I/2027", issued_on=date(2027, 1, 10), place="Jakarta",
        agreement_title=CONTENT.agreement_title, agreement_signed_on=CONTENT.agreement_signed_on,
        terms_version=CONTENT.terms_version, parties=CONTENT.parties, handover_id=CONTENT.handover_id,
        bast_number=CONTENT.number, bast_signed_on=date(2026, 11, 26), program_code="padat_karya",
        program_title="Program padat karya", package_name=CONTENT.package_name, package_sha256=CONTENT.package_sha256,
        record_count=1234, extract_sha256=CONTENT.extract_sha256, items=rules.ITEMS, method="crypto-shredding",
        destroyed_at=datetime(2027, 1, 9, 14, 30, tzinfo=WIB), reason="purpose-ended")
    pdf = render(content)
    fields = [(name, value) for name, value, _ in enumerate_sig_fields(PdfFileReader(io.BytesIO(pdf)))]
    assert fields == [("TTD_PIHAK_KEDUA", None)]
    assert render(replace(content, reason=None, notes="tanpa catatan")).startswith(b"%PDF-")
