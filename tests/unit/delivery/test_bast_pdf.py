"""The BAST PDF: content, two empty signature fields, a single revision; signed by both parties it
validates with pyHanko's validator (and with poppler's pdfsig, a standard reader, when installed)."""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from p3ke_delivery.adapters.bast_pdf import render
from p3ke_delivery.adapters.certificates import load_trust_anchors
from p3ke_delivery.adapters.signing import SigningError, sign_bast
from tests.unit.delivery.support import CONTENT, SIG_1, SIG_2, make_dev_ca, signer


def text_of(pdf: bytes) -> bytes:
    reader = PdfFileReader(io.BytesIO(pdf))
    out = b""
    for i in range(int(reader.root["/Pages"]["/Count"])):
        contents = reader.find_page_for_modification(i)[0].get_object()["/Contents"]
        streams = contents if isinstance(contents, list) else [contents]
        out += b"".join(s.get_object().data for s in streams)
    return out


def test_bast_content_and_empty_signature_fields() -> None:
    pdf = render(CONTENT)
    reader = PdfFileReader(io.BytesIO(pdf))
    assert reader.xrefs.total_revisions == 1
    fields = {name: value for name, value, _ in enumerate_sig_fields(reader)}
    assert fields == {"TTD_PIHAK_KESATU": None, "TTD_PIHAK_KEDUA": None}
    text = text_of(pdf)
    for expected in (b"BERITA ACARA SERAH TERIMA", b"007/BAST-P3KE/PK/XI/2026", b"003/PKS/DEP.1/KEMENKO/PMK/02/2023",
                     b"71668/KS.06/II/2023", b"Andie Megantara", b"Ismail Pakaya", b"ab" * 32, b"cd" * 32,
                     b"1.234", b"seribu dua ratus tiga puluh empat", b"Pasal 10 ayat \\(1\\)", b"PIHAK KESATU",
                     b"Kamis tanggal dua puluh enam bulan November"):
        assert expected in text, expected
    assert reader.trailer["/Info"]["/Title"] == "BAST 007/BAST-P3KE/PK/XI/2026"


def test_both_signatures_validate_with_pyhanko(tmp_path: Path) -> None:
    ca = tmp_path / "ca"
    make_dev_ca(ca)
    issued = render(CONTENT)
    once = sign_bast(issued, signer(ca, SIG_1), party=1, location="Jakarta")
    twice = sign_bast(once, signer(ca, SIG_2), party=2)
    assert once.startswith(issued) and twice.startswith(once)  # incremental updates, earlier bytes kept
    context = ValidationContext(trust_roots=load_trust_anchors(ca / "ca.pem"), moment=datetime.now(UTC))
    statuses = {s.field_name: validate_pdf_signature(s, context)
                for s in PdfFileReader(io.BytesIO(twice)).embedded_signatures}
    assert set(statuses) == {"TTD_PIHAK_KESATU", "TTD_PIHAK_KEDUA"}
    for status in statuses.values():
        assert status.bottom_line, status.pretty_print_details()
        assert status.trusted and status.intact and status.valid
    assert "Andie Megantara" in statuses["TTD_PIHAK_KESATU"].signing_cert.subject.human_friendly
    with pytest.raises(SigningError, match="already signed"):
        sign_bast(twice, signer(ca, SIG_1), party=1)

    pdfsig = shutil.which("pdfsig")
    if pdfsig:  # poppler's verifier (NSS), independent of pyHanko
        path = tmp_path / "signed.pdf"
        path.write_bytes(twice)
        report = subprocess.run([pdfsig, str(path)], capture_output=True, text=True).stdout
        assert report.count("Signature Validation: Signature is Valid.") == 2, report


def test_signing_refuses_a_pdf_without_bast_fields(tmp_path: Path) -> None:
    ca = tmp_path / "ca"
    make_dev_ca(ca)
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    c = canvas.Canvas(buffer)
    c.drawString(100, 700, "not a BAST")
    c.save()
    with pytest.raises(SigningError, match="no signature field TTD_PIHAK_KEDUA"):
        sign_bast(buffer.getvalue(), signer(ca, SIG_2), party=2)
    with pytest.raises(SigningError, match="not a readable PDF"):
        sign_bast(b"%PDF-1.4 garbage", signer(ca, SIG_2), party=2)
