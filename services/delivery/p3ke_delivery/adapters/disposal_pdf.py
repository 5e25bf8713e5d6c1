"""Party 2's disposal certificate (*Berita Acara Pemusnahan Data P3KE*) as a PDF in Indonesian, laid out like the
BAST (its letterhead, tables, footer and signature box, from adapters.bast_pdf), with one empty signature field
for PIHAK KEDUA's signatory: `TTD_PIHAK_KEDUA`, the same field as on the BAST, so `p3ke bast sign --party 2` signs
it and adapters.pdf_signatures verifies the upload.

It states which handover's data was destroyed (the handover, the BAST number, the program, the package's name
and SHA-256, the record count, the extract's SHA-256), what was destroyed and how (the method party 2 gives),
when, and why it was owed. No personal data of data subjects: ids, counts, checksums, and the name of the
official who signs (a public official, as printed in the agreement). Times are Jakarta time (WIB). Made while the
agreement's example records are loaded, it is marked as a test document on every page, as the BAST is.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, SimpleDocTemplate, Spacer, Table, TableStyle

from p3ke_delivery.adapters.bast_pdf import (
    PartyOnBast,
    SignatureBox,
    _esc,
    _footer,
    _letterhead,
    _numbered,
    _p,
    _party_block,
    _rows_table,
    _with_signature_fields,
    terms_in_words,
)
from p3ke_delivery.domain.bahasa import angka, hari_tanggal_terbilang, tanggal, terbilang, waktu
from p3ke_delivery.domain.disposal_certificate import ITEM_WORDS, REASON_WORDS
from p3ke_delivery.domain.model import PARTY_NAMES
from p3ke_platform.pdf import marked_as_test, page_total_canvas

PARTY_2 = 2


@dataclass(frozen=True)
class DisposalContent:
    number: str
    issued_on: date
    place: str
    agreement_title: str
    agreement_signed_on: date
    terms_version: str
    parties: tuple[PartyOnBast, PartyOnBast]
    handover_id: str
    bast_number: str
    bast_signed_on: date | None
    program_code: str
    program_title: str
    package_name: str
    package_sha256: str
    record_count: int
    extract_sha256: str
    items: tuple[str, ...]
    method: str
    destroyed_at: datetime
    """Printed in Jakarta time (WIB), whatever its time zone (a naive value is taken as Jakarta time)."""
    reason: str | None = None
    """Why it was owed (`purpose-ended`, `agreement-ended`), or None when party 2 destroyed before either."""
    notes: str | None = None
    example_terms: str | None = None
    """The example terms it was made from (`Agreement.example_terms`): a test document; None: a real one."""


def _title(content: DisposalContent) -> list[Flowable]:
    return [
        _p("BERITA ACARA PEMUSNAHAN", "title"),
        _p("DATA PENSASARAN PERCEPATAN PENGHAPUSAN KEMISKINAN EKSTREM (P3KE)", "title"),
        _p(f"YANG DITERIMA BERDASARKAN BERITA ACARA SERAH TERIMA NOMOR {_esc(content.bast_number)}", "title"),
        _p(f"NOMOR: {_esc(content.number)}", "number"),
        Spacer(1, 5 * mm),
    ]


def _opening(content: DisposalContent) -> list[Flowable]:
    p1, p2 = content.parties
    acting = _p(f"dalam hal ini bertindak untuk dan atas nama {_esc(p2.signatory_acting_for)}, selanjutnya disebut "
                f"<b>{PARTY_NAMES[PARTY_2]}</b>.", "body")
    inner = Table([[_party_block(p2)], [acting]], colWidths=[162 * mm])
    inner.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0), ("TOPPADDING", (0, 0), (-1, -1), 0)]))
    why = (f", karena {REASON_WORDS[content.reason]}" if content.reason in REASON_WORDS else "")
    return [
        _p(f"Pada hari ini, {hari_tanggal_terbilang(content.issued_on)}, bertempat di {_esc(content.place)}, yang "
           f"bertanda tangan di bawah ini:"),
        _numbered(1, inner),
        _p(f"Berdasarkan Perjanjian Kerja Sama antara {_esc(p1.name)} dengan {_esc(p2.name)} Nomor "
           f"{_esc(p1.agreement_number)} dan Nomor {_esc(p2.agreement_number)} tanggal "
           f"{tanggal(content.agreement_signed_on)} tentang {_esc(content.agreement_title)} "
           f"({terms_in_words(content.terms_version, content.example_terms)}), Pasal 16 ayat (2) dan Pasal 43 "
           f"sampai dengan Pasal 44 Undang-Undang Nomor 27 Tahun 2022 tentang Pelindungan Data Pribadi{why}, "
           f"PIHAK KEDUA menyatakan telah memusnahkan Data P3KE yang diterimanya dari PIHAK KESATU, dengan "
           f"rincian sebagai berikut:"),
    ]


def _handover_table(content: DisposalContent) -> Table:
    signed = tanggal(content.bast_signed_on) if content.bast_signed_on else "-"
    return _rows_table([
        ("Nomor BAST", _p(f"<font face='Courier' size='9'>{_esc(content.bast_number)}</font> "
                          f"(ditandatangani {signed})", "cell")),
        ("Nomor serah terima", _p(f"<font face='Courier' size='9'>{_esc(content.handover_id)}</font>", "cell")),
        ("Program", _p(f"{_esc(content.program_title)}; kode <font face='Courier' size='9'>"
                       f"{_esc(content.program_code)}</font>", "cell")),
        ("Jumlah data", _p(f"<b>{angka(content.record_count)}</b> ({terbilang(content.record_count)}) record orang "
                           f"(by name by address)", "cell")),
        ("Nama berkas paket", _p(f"<font face='Courier' size='9'>{_esc(content.package_name)}</font>", "cell")),
        ("Sidik SHA-256 paket", _p(content.package_sha256, "mono")),
        ("Sidik SHA-256 ekstrak", _p(content.extract_sha256, "mono")),
    ])


def _disposal_table(content: DisposalContent) -> Table:
    items = "<br/>".join(f"- {_esc(ITEM_WORDS[i])}" for i in content.items)
    rows = [
        ("Yang dimusnahkan", _p(items, "cell")),
        ("Cara pemusnahan", _p(_esc(content.method), "cell")),
        ("Waktu pemusnahan", _p(waktu(content.destroyed_at), "cell")),
    ]
    if content.notes:
        rows.append(("Keterangan", _p(_esc(content.notes), "cell")))
    return _rows_table(rows)


def _statements(content: DisposalContent) -> list[Flowable]:
    return [
        _p("Dengan ini PIHAK KEDUA menyatakan bahwa:"),
        _numbered(1, _p("seluruh data tersebut di atas, termasuk setiap salinannya, telah dimusnahkan sehingga tidak "
                        "dapat dipulihkan kembali, dan tidak ada lagi data tersebut yang disimpan, dikuasai atau "
                        "diproses oleh PIHAK KEDUA atau pihak lain atas nama PIHAK KEDUA;", "body")),
        _numbered(2, _p("kewajiban menjaga kerahasiaan data dan informasi yang diperoleh berdasarkan Perjanjian Kerja "
                        "Sama tetap berlaku setelah pemusnahan ini (Pasal 10 Perjanjian Kerja Sama);", "body")),
        _numbered(3, _p("pernyataan ini dibuat dengan sebenar-benarnya dan dapat diperiksa oleh PIHAK KESATU maupun "
                        "pemeriksa yang berwenang.", "body")),
        Spacer(1, 2 * mm),
        _p("Demikian Berita Acara Pemusnahan ini dibuat dalam bentuk dokumen elektronik dan ditandatangani secara "
           "elektronik oleh PIHAK KEDUA."),
    ]


def _signature(content: DisposalContent, placed: dict[int, tuple[int, tuple[float, float, float, float]]]
               ) -> Flowable:
    party = content.parties[1]
    cell = [
        _p(f"<b>{PARTY_NAMES[PARTY_2]},</b>", "sign"),
        _p(_esc(party.signatory_position), "sign"),
        Spacer(1, 2 * mm),
        SignatureBox(PARTY_2, placed),
        _p(f"tanda tangan elektronik {PARTY_NAMES[PARTY_2]} (PAdES)", "caption"),
        _p(f"<u>{_esc(party.signatory_name)}</u>", "sign_name"),
    ]
    table = Table([["", cell]], colWidths=[85 * mm, 85 * mm])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("ALIGN", (0, 0), (-1, -1), "CENTER")]))
    return KeepTogether([Spacer(1, 6 * mm), _p(f"{_esc(content.place)}, {tanggal(content.issued_on)}", "sign"),
                         Spacer(1, 3 * mm), table])


def render(content: DisposalContent) -> bytes:
    """The certificate as a single-revision PDF with one empty signature field, PIHAK KEDUA's."""
    placed: dict[int, tuple[int, tuple[float, float, float, float]]] = {}
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=16 * mm, bottomMargin=22 * mm,
        title=f"Berita Acara Pemusnahan {content.number}", author="P3KE delivery service",
        subject=f"Berita Acara Pemusnahan Data P3KE, serah terima {content.handover_id}",
        keywords=f"P3KE, pemusnahan, {content.handover_id}, {content.program_code}", creator="p3ke-delivery",
        lang="id-ID")
    story = [*_letterhead(content.parties), *_title(content), *_opening(content),
             _p("<b>A. Data yang diterima</b>"), _handover_table(content), Spacer(1, 3 * mm),
             _p("<b>B. Pemusnahan</b>"), _disposal_table(content), Spacer(1, 3 * mm), *_statements(content),
             _signature(content, placed)]
    footer = marked_as_test(_footer(f"Berita Acara Pemusnahan Nomor {content.number}"), content.example_terms)
    doc.build(story, canvasmaker=page_total_canvas(footer, "DisposalCanvas"))
    if set(placed) != {PARTY_2}:
        raise RuntimeError("the layout did not place PIHAK KEDUA's signature box")
    return _with_signature_fields(buffer.getvalue(), placed)
