"""The BAST and the disposal certificate as an official accepts them, read back with poppler's pdftotext as a
reader sees them: times in WIB (the disposal time, the signature stamp), the test-document mark on every page
whenever the agreement's example records are loaded (and never otherwise), the example version kept out of the
legal text, and party 2's agency named in full, from the agreement's own records."""

from __future__ import annotations

import dataclasses
import io
import re
from datetime import UTC, date, datetime
from pathlib import Path

from pyhanko.pdf_utils.reader import PdfFileReader

from p3ke_delivery.adapters.bast_pdf import BastContent, parties_on_paper, render
from p3ke_delivery.adapters.disposal_pdf import DisposalContent
from p3ke_delivery.adapters.disposal_pdf import render as render_disposal
from p3ke_delivery.adapters.signing import sign_bast
from p3ke_delivery.domain import disposal_certificate as rules
from p3ke_delivery.domain.bahasa import waktu
from p3ke_platform.agreement import Agreement, load_agreement
from tests.unit.delivery.support import CONTENT, SIG_1, make_dev_ca, signer
from tests.unit.delivery.test_request_details import pdf_pages

CAPTION = "CONTOH / BUKAN DOKUMEN RESMI: dibuat dari ketentuan contoh"
MARK = "CONTOH / BUKAN DOKUMEN RESMI"
FULL_UNIT = "Badan Perencanaan dan Pengembangan Ketenagakerjaan"
DAY = date(2026, 6, 12)


def bast_under(agreement: Agreement, day: date = DAY) -> BastContent:
    """The BAST as the preparer fills it from `agreement`'s terms of `day` (preparation._bast_content)."""
    terms = agreement.terms_at(day)
    signatories = tuple(next(s for s in terms.signatories if s.party == n) for n in (1, 2))
    return dataclasses.replace(CONTENT, issued_on=day, parties=parties_on_paper(terms, signatories),  # type: ignore[arg-type]
                               agreement_title=terms.title, terms_version=terms.version,
                               example_terms=agreement.example_terms(terms))


def disposal_of(bast: BastContent, destroyed_at: datetime) -> DisposalContent:
    return DisposalContent(
        number="001/BAP-P3KE/PK/VI/2026", issued_on=DAY, place="Jakarta", agreement_title=bast.agreement_title,
        agreement_signed_on=bast.agreement_signed_on, terms_version=bast.terms_version, parties=bast.parties,
        handover_id=bast.handover_id, bast_number=bast.number, bast_signed_on=date(2026, 3, 2),
        program_code=bast.program_code, program_title=bast.program_title, package_name=bast.package_name,
        package_sha256=bast.package_sha256, record_count=bast.record_count, extract_sha256=bast.extract_sha256,
        items=rules.ITEMS, method="crypto-shredding", destroyed_at=destroyed_at, reason="purpose-ended",
        example_terms=bast.example_terms)


def test_waktu_is_jakarta_time() -> None:
    assert waktu(datetime(2026, 6, 12, 7, 5, tzinfo=UTC)) == "12 Juni 2026 pukul 14.05 WIB"
    assert waktu(datetime(2026, 6, 12, 19, 30, tzinfo=UTC)) == "13 Juni 2026 pukul 02.30 WIB"  # the next day
    assert waktu(datetime(2026, 6, 12, 14, 5)) == "12 Juni 2026 pukul 14.05 WIB"  # naive: already Jakarta time


def test_under_example_terms_every_page_is_marked_and_the_legal_text_quotes_no_example(tmp_path: Path) -> None:
    content = bast_under(load_agreement(None, include_examples=True))
    assert content.terms_version == "pks-p3ke-2023+example-add-1"
    pages = pdf_pages(render(content), tmp_path)
    assert len(pages) >= 2
    for page in pages:
        assert page.startswith(f"{CAPTION} pks-p3ke-2023+example-add-1"), page[:200]
        assert "EXAMPLE / NOT AN OFFICIAL DOCUMENT: made from the example terms pks-p3ke-2023+example-add-1" in page
        assert page.count(MARK) == 1, page  # the caption; the diagonal mark is drawn, not read out
    legal = " ".join(p.replace(f"{CAPTION} pks-p3ke-2023+example-add-1", "") for p in pages)
    assert "example-add-1" not in legal.replace("made from the example terms pks-p3ke-2023+example-add-1", "")
    assert "(ketentuan contoh yang bukan ketentuan Perjanjian Kerja Sama, sebagaimana disebut pada tanda CONTOH di " \
           "setiap halaman)" in legal


def test_example_records_loaded_beside_real_terms_still_mark_the_document(tmp_path: Path) -> None:
    content = bast_under(load_agreement(None, include_examples=True), date(2024, 6, 12))  # before the example
    assert content.terms_version == "pks-p3ke-2023"
    [first, *_] = pdf_pages(render(content), tmp_path)
    assert first.startswith(f"{CAPTION} pks-p3ke-2023 + example-add-1, example-appr-pemagangan")


def test_under_the_signed_pks_there_is_no_mark_and_party_2s_agency_is_named_in_full(tmp_path: Path) -> None:
    content = bast_under(load_agreement(None), date(2024, 6, 12))
    assert content.example_terms is None
    text = " ".join(pdf_pages(render(content), tmp_path))
    assert "CONTOH" not in text and "EXAMPLE" not in text
    assert "versi ketentuan pks-p3ke-2023)" in text
    assert (f"dalam hal ini bertindak untuk dan atas nama {FULL_UNIT}, Kementerian Ketenagakerjaan, selanjutnya "
            f"disebut PIHAK KEDUA") in text
    assert text.count(f"{FULL_UNIT}, Kementerian Ketenagakerjaan") == 2  # the Instansi row and the acting line
    assert not re.search(r"Badan Perencanaan dan Pengembangan(?! Ketenagakerjaan)", text), text


def test_every_version_of_the_terms_names_party_2s_agency_in_full() -> None:
    agreement = load_agreement(None, include_examples=True)
    for _, terms in agreement.timeline():
        party = terms.party(2)
        [signatory] = [s for s in terms.signatories if s.party == 2]
        for words in (party.unit, signatory.position, signatory.acting_for):
            found = re.findall(r"Badan Perencanaan dan Pengembangan\b[^,]*", words)
            assert found and all(f == FULL_UNIT or f.endswith(FULL_UNIT) for f in found), words


def test_the_disposal_certificate_prints_wib_and_is_marked_under_example_terms(tmp_path: Path) -> None:
    bast = bast_under(load_agreement(None, include_examples=True))
    pdf = render_disposal(disposal_of(bast, datetime(2026, 6, 12, 7, 5, tzinfo=UTC)))  # given in UTC
    pages = pdf_pages(pdf, tmp_path)
    text = " ".join(pages)
    assert "Waktu pemusnahan 12 Juni 2026 pukul 14.05 WIB" in text
    assert "UTC" not in text and "07.05" not in text
    assert all(p.startswith(f"{CAPTION} pks-p3ke-2023+example-add-1") for p in pages)
    real = bast_under(load_agreement(None), date(2024, 6, 12))
    plain = " ".join(pdf_pages(render_disposal(disposal_of(real, datetime(2024, 6, 12, 7, 5, tzinfo=UTC))),
                               tmp_path))
    assert "CONTOH" not in plain and "versi ketentuan pks-p3ke-2023)" in plain
    assert f"atas nama {FULL_UNIT}, Kementerian Ketenagakerjaan" in plain


def _stamp_text(pdf: bytes) -> str:
    """The text shown by the signature's visible stamp (its appearance streams)."""
    reader = PdfFileReader(io.BytesIO(pdf))
    shown = []
    for sig in reader.embedded_signatures:
        stack = [sig.sig_field["/AP"]["/N"]]
        while stack:
            stream = stack.pop().get_object()
            shown.append(stream.data.decode("latin-1"))
            stack += [x for x in stream.get("/Resources", {}).get("/XObject", {}).values()]
    strings = " ".join(re.findall(r"\(((?:[^()\\]|\\.)*)\)", " ".join(shown)))
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), strings)  # PDF octal escapes: \072 is ':'


def test_the_signature_stamp_shows_the_signing_time_in_wib(tmp_path: Path) -> None:
    make_dev_ca(tmp_path / "ca")
    before = datetime.now(UTC)
    signed = sign_bast(render(CONTENT), signer(tmp_path / "ca", SIG_1), party=1)
    stamp = _stamp_text(signed)
    assert "Ditandatangani secara elektronik oleh:" in stamp, stamp
    assert re.search(r"Waktu: \d{1,2} \w+ \d{4} pukul \d\d\.\d\d WIB", stamp), stamp
    day = waktu(before).removesuffix(" WIB")[:-5]  # `12 Juni 2026 pukul `: the day, in Jakarta time
    assert day in stamp or waktu(datetime.now(UTC)).removesuffix(" WIB")[:-5] in stamp, stamp
    assert "UTC" not in stamp
