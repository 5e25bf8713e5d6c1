"""The BAST (Berita Acara Serah Terima, Art. 6(1)) as a PDF in Indonesian, laid out as an official
document, with an empty signature field for each party.

reportlab lays out the text; pyHanko then adds the two signature form fields where the layout put
the signature boxes, and writes the result as a single-revision PDF. Each party's signatory later
fills their own field with a PAdES signature in an incremental update (`p3ke bast sign`).

It shows what was asked on the page the signatories sign (a summary kept together with the signature
boxes): the request id, the verified requester and the path the request came by, the recipient it named,
the purpose (its title as the agreement or the written approval words it, with its code), the justification,
the criteria in words, the reference date, the fields, the record count and the extract's SHA-256.

No personal data of data subjects appears here: counts, ids, checksums, the officials' account ids,
and the names of the officials who sign (public officials, as printed in the agreement).

Made while the agreement's example records are loaded (`example_terms` set), it is a test document: every page
carries the *CONTOH / BUKAN DOKUMEN RESMI* mark (p3ke_platform.pdf.marked_as_test) with the example terms named
in its caption, and the legal text does not quote the example version as if it were the agreement's.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.flowables import HRFlowable

from p3ke_delivery.domain.bahasa import angka, hari_tanggal_terbilang, tanggal, terbilang
from p3ke_delivery.domain.model import PARTY_NAMES, SIGNATURE_FIELDS
from p3ke_platform.pdf import FooterDrawer, marked_as_test, page_total_canvas
from p3ke_platform.pdf import escape_markup as _esc

SIGNATURE_BOX = (72 * mm, 30 * mm)


@dataclass(frozen=True)
class PartyOnBast:
    number: int
    name: str
    unit: str
    address: str
    agreement_number: str
    signatory_name: str
    signatory_position: str
    signatory_acting_for: str


@dataclass(frozen=True)
class BastContent:
    number: str
    issued_on: date
    place: str
    agreement_title: str
    agreement_signed_on: date
    terms_version: str
    parties: tuple[PartyOnBast, PartyOnBast]
    program_code: str
    program_title: str
    program_article: str
    handover_id: str
    request_id: str
    extract_id: str
    dataset_version_id: str | None
    record_count: int
    fields: tuple[str, ...]
    counts_by_desil: dict[str, int]
    package_name: str
    package_size: int
    package_sha256: str
    extract_sha256: str
    files: tuple[str, ...] = field(default=())
    # what the request asked, already in words (None/empty for a handover opened before extract-prepared
    # carried it: the rows are then left out)
    requester: str | None = None
    recipient: str | None = None
    request_path: str | None = None
    justification: str | None = None
    purpose: str | None = None
    """The request's purpose in words, `<title> (kode <code>)`."""
    criteria: str | None = None
    reference_date: date | None = None
    requested_fields: tuple[str, ...] = ()
    example_terms: str | None = None
    """The example terms the BAST was made from (`Agreement.example_terms`): a test document; None: a real one."""



def parties_on_paper(terms: Any, signatories: tuple[Any, Any]) -> tuple[PartyOnBast, PartyOnBast]:
    """Both parties as the agreement's `terms` name them, each with its signatory (`Signatory` of the terms),
    as a BAST or a disposal certificate prints them."""
    found = []
    for number, sig, agreement_number in ((1, signatories[0], terms.numbers.party_1),
                                          (2, signatories[1], terms.numbers.party_2)):
        party = terms.party(number)
        found.append(PartyOnBast(number=number, name=party.name, unit=party.unit, address=party.address,
                                 agreement_number=agreement_number, signatory_name=sig.name,
                                 signatory_position=sig.position, signatory_acting_for=sig.acting_for))
    return found[0], found[1]

# --- styles ------------------------------------------------------------------------------------

_BASE = ParagraphStyle("base", fontName="Times-Roman", fontSize=11, leading=14.5, alignment=TA_JUSTIFY)
_S = {
    "kop": ParagraphStyle("kop", parent=_BASE, fontName="Times-Bold", fontSize=10.5, leading=13,
                          alignment=TA_CENTER),
    "kop_small": ParagraphStyle("kop_small", parent=_BASE, fontSize=8.5, leading=10.5, alignment=TA_CENTER),
    "title": ParagraphStyle("title", parent=_BASE, fontName="Times-Bold", fontSize=12.5, leading=16,
                            alignment=TA_CENTER),
    "number": ParagraphStyle("number", parent=_BASE, fontSize=11.5, alignment=TA_CENTER, spaceBefore=2),
    "body": ParagraphStyle("body", parent=_BASE, spaceAfter=5),
    "pasal": ParagraphStyle("pasal", parent=_BASE, fontName="Times-Bold", alignment=TA_CENTER,
                            spaceBefore=8, spaceAfter=0, keepWithNext=True),
    "pasal_title": ParagraphStyle("pasal_title", parent=_BASE, fontName="Times-Bold", alignment=TA_CENTER,
                                  spaceAfter=4, keepWithNext=True),
    "cell": ParagraphStyle("cell", parent=_BASE, fontSize=10, leading=12.5, alignment=TA_LEFT),
    "cell_bold": ParagraphStyle("cell_bold", parent=_BASE, fontName="Times-Bold", fontSize=10, leading=12.5,
                                alignment=TA_LEFT),
    "mono": ParagraphStyle("mono", parent=_BASE, fontName="Courier", fontSize=8.1, leading=11,
                           alignment=TA_LEFT),
    "sign": ParagraphStyle("sign", parent=_BASE, alignment=TA_CENTER, leading=14),
    "sign_name": ParagraphStyle("sign_name", parent=_BASE, fontName="Times-Bold", alignment=TA_CENTER),
    "caption": ParagraphStyle("caption", parent=_BASE, fontName="Helvetica", fontSize=6.5, leading=9,
                              alignment=TA_CENTER, textColor=colors.HexColor("#8a8a8a")),
    "small": ParagraphStyle("small", parent=_BASE, fontSize=8.5, leading=10.5, textColor=colors.HexColor("#444444")),
}


def _p(text: str, style: str = "body") -> Paragraph:
    return Paragraph(text, _S[style])


# --- the signature boxes: where they land on the page is where pyHanko puts the fields -----------

class SignatureBox(Flowable):
    """A framed, empty box for one party's electronic signature; remembers where it was drawn."""

    def __init__(self, party: int, placed: dict[int, tuple[int, tuple[float, float, float, float]]]) -> None:
        super().__init__()
        self.party = party
        self.width, self.height = SIGNATURE_BOX
        self._placed = placed

    def draw(self) -> None:
        c = self.canv
        c.saveState()
        c.setStrokeColor(colors.HexColor("#8a8a8a"))
        c.setDash(2, 2)
        c.setLineWidth(0.6)
        c.rect(0, 0, self.width, self.height)
        c.restoreState()
        x, y = c.absolutePosition(0, 0)
        self._placed[self.party] = (c.getPageNumber() - 1, (x, y, x + self.width, y + self.height))


def _footer(label: str) -> FooterDrawer:
    """Writes `Halaman x dari y` and the document's label (`BAST Nomor ...`) in a page's footer (the disposal
    certificate, adapters/disposal_pdf.py, shares it)."""

    def draw(c: Canvas, page: int, total: int) -> None:
        width, _ = A4
        c.saveState()
        c.setStrokeColor(colors.HexColor("#777777"))
        c.setLineWidth(0.4)
        c.line(20 * mm, 16 * mm, width - 20 * mm, 16 * mm)
        c.setFont("Times-Roman", 8.5)
        c.setFillColor(colors.HexColor("#444444"))
        c.drawString(20 * mm, 12 * mm, label)
        c.drawRightString(width - 20 * mm, 12 * mm, f"Halaman {page} dari {total}")
        c.drawCentredString(width / 2, 8 * mm, "Dokumen elektronik. RAHASIA: memuat rujukan data pribadi "
                                               "(Pasal 10 Perjanjian Kerja Sama).")
        c.restoreState()

    return draw


def terms_in_words(version: str, example_terms: str | None) -> str:
    """The terms a document was made under, for its legal text: `versi ketentuan <version>`; for example terms
    not the version (an example is not the agreement) but that they are example terms, named in the mark."""
    if example_terms:
        return ("ketentuan contoh yang bukan ketentuan Perjanjian Kerja Sama, sebagaimana disebut pada tanda "
                "CONTOH di setiap halaman")
    return f"versi ketentuan <font face='Courier' size='9'>{_esc(version)}</font>"


# --- the document ------------------------------------------------------------------------------

def _letterhead(parties: tuple[PartyOnBast, PartyOnBast]) -> list[Flowable]:
    p1, p2 = parties
    head = Table([[
        [_p(p1.name.upper(), "kop"), _p("REPUBLIK INDONESIA", "kop"), _p(_esc(p1.address), "kop_small")],
        [_p(p2.name.upper(), "kop"), _p("REPUBLIK INDONESIA", "kop"), _p(_esc(p2.address), "kop_small")],
    ]], colWidths=[85 * mm, 85 * mm])
    head.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                              ("LINEAFTER", (0, 0), (0, 0), 0.5, colors.HexColor("#999999"))]))
    return [head, Spacer(1, 2 * mm), HRFlowable(width="100%", thickness=2.2, color=colors.black, spaceAfter=1),
            HRFlowable(width="100%", thickness=0.6, color=colors.black, spaceAfter=6 * mm)]


def _title(content: BastContent) -> list[Flowable]:
    p1, p2 = content.parties
    return [
        _p("BERITA ACARA SERAH TERIMA", "title"),
        _p("DATA PENSASARAN PERCEPATAN PENGHAPUSAN KEMISKINAN EKSTREM (P3KE)", "title"),
        _p(f"ANTARA<br/>{_esc(p1.name.upper())}<br/>DENGAN<br/>{_esc(p2.name.upper())}", "title"),
        _p(f"NOMOR: {_esc(content.number)}", "number"),
        Spacer(1, 5 * mm),
    ]


def _party_block(party: PartyOnBast) -> Table:
    rows = [
        ["Nama", ":", _p(f"<b>{_esc(party.signatory_name)}</b>", "cell")],
        ["Jabatan", ":", _p(_esc(party.signatory_position), "cell")],
        ["Instansi", ":", _p(f"{_esc(party.unit)}, {_esc(party.name)}", "cell")],
        ["Alamat", ":", _p(_esc(party.address), "cell")],
    ]
    table = Table(rows, colWidths=[22 * mm, 4 * mm, 134 * mm])
    table.setStyle(TableStyle([("FONT", (0, 0), (1, -1), "Times-Roman", 10), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 1), ("TOPPADDING", (0, 0), (-1, -1), 1),
                               ("LEFTPADDING", (0, 0), (0, -1), 0)]))
    return table


def _numbered(number: int, flowable: Flowable) -> Table:
    table = Table([[f"{number}.", flowable]], colWidths=[8 * mm, 162 * mm])
    table.setStyle(TableStyle([("FONT", (0, 0), (0, 0), "Times-Roman", 11), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("LEFTPADDING", (0, 0), (-1, -1), 0), ("TOPPADDING", (0, 0), (0, 0), 1)]))
    return table


def _parties(content: BastContent) -> list[Flowable]:
    p1, p2 = content.parties
    out: list[Flowable] = [_p(f"Pada hari ini, {hari_tanggal_terbilang(content.issued_on)}, bertempat di "
                              f"{_esc(content.place)}, yang bertanda tangan di bawah ini:")]
    for party in (p1, p2):
        acting = _p(f"dalam hal ini bertindak untuk dan atas nama {_esc(party.signatory_acting_for)}, "
                    f"selanjutnya disebut <b>{PARTY_NAMES[party.number]}</b>.", "body")
        inner = Table([[_party_block(party)], [acting]], colWidths=[162 * mm])
        inner.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0), ("TOPPADDING", (0, 0), (-1, -1), 0)]))
        out.append(_numbered(party.number, inner))
    out.append(_p("<b>PIHAK KESATU</b> dan <b>PIHAK KEDUA</b> yang selanjutnya secara bersama-sama disebut "
                  "<b>PARA PIHAK</b>."))
    out.append(_p(
        f"Berdasarkan Perjanjian Kerja Sama antara {_esc(p1.name)} dengan {_esc(p2.name)} Nomor "
        f"{_esc(p1.agreement_number)} dan Nomor {_esc(p2.agreement_number)} tanggal "
        f"{tanggal(content.agreement_signed_on)} tentang {_esc(content.agreement_title)} (selanjutnya "
        f"disebut Perjanjian Kerja Sama), dengan ketentuan yang berlaku pada tanggal Berita Acara ini "
        f"({terms_in_words(content.terms_version, content.example_terms)}), PARA PIHAK "
        f"sepakat melaksanakan serah terima Data P3KE sebagaimana dimaksud dalam Pasal 6 ayat (1) Perjanjian "
        f"Kerja Sama, dengan ketentuan sebagai berikut:"))
    return out


def _pasal(number: int, title: str) -> list[Flowable]:
    return [_p(f"Pasal {number}", "pasal"), _p(title.upper(), "pasal_title")]


def _data_table(content: BastContent) -> Table:
    desil = ", ".join(f"desil {k}: {angka(v)}" for k, v in sorted(content.counts_by_desil.items()))
    rows: list[tuple[str, Flowable]] = [
        ("Program", _p(f"{_esc(content.program_title)} (Pasal {_article(content.program_article)}); "
                       f"kode <font face='Courier' size='9'>{_esc(content.program_code)}</font>", "cell")),
        ("Nomor serah terima", _p(f"<font face='Courier' size='9'>{_esc(content.handover_id)}</font>", "cell")),
        ("Nomor permintaan", _p(f"<font face='Courier' size='9'>{_esc(content.request_id)}</font>", "cell")),
        ("Nomor ekstrak", _p(f"<font face='Courier' size='9'>{_esc(content.extract_id)}</font>", "cell")),
        ("Versi dataset P3KE", _p(f"<font face='Courier' size='9'>{_esc(content.dataset_version_id or '-')}"
                                  f"</font>", "cell")),
        ("Jumlah data", _p(f"<b>{angka(content.record_count)}</b> ({terbilang(content.record_count)}) "
                           f"record orang (by name by address)", "cell")),
        ("Sebaran desil", _p(desil or "-", "cell")),
        ("Elemen data", _p(", ".join(_esc(f) for f in content.fields) + f" ({len(content.fields)} kolom)", "cell")),
        ("Bentuk", _p("Satu berkas ZIP terenkripsi AES-256 berisi data dalam format CSV dan XLSX serta "
                      "manifest (JSON) yang memuat daftar elemen, jumlah, dan sidik SHA-256 setiap berkas", "cell")),
        ("Nama berkas", _p(f"<font face='Courier' size='9'>{_esc(content.package_name)}</font> "
                           f"({angka(content.package_size)} bita)", "cell")),
        ("Sidik SHA-256 paket", _p(content.package_sha256, "mono")),
        ("Sidik SHA-256 ekstrak", _p(content.extract_sha256, "mono")),
    ]
    return _rows_table(rows)


def _rows_table(rows: list[tuple[str, Flowable]]) -> Table:
    table = Table([[_p(label, "cell_bold"), value] for label, value in rows], colWidths=[42 * mm, 120 * mm])
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#555555")),
        ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#efefef")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]))
    return table


def _asked_summary(content: BastContent) -> list[Flowable]:
    """What the request asked and what is handed over for it, right above the signature boxes (kept on
    their page): what the signatories sign for. Empty for a handover whose extract-prepared did not
    report the request."""
    if not content.requester:
        return []
    rows: list[tuple[str, Flowable]] = [
        ("Nomor permintaan", _p(f"<font face='Courier' size='9'>{_esc(content.request_id)}</font>", "cell"))]
    rows += _request_rows(content)
    if not content.requested_fields:
        rows.append(("Elemen data", _p(", ".join(_esc(f) for f in content.fields), "cell")))
    rows += [
        ("Jumlah data", _p(f"<b>{angka(content.record_count)}</b> ({terbilang(content.record_count)}) record orang",
                           "cell")),
        ("Sidik SHA-256 ekstrak", _p(content.extract_sha256, "mono")),
    ]
    return [_p("PARA PIHAK menandatangani Berita Acara ini untuk serah terima atas permintaan berikut:"),
            _numbered_table(_rows_table(rows)), Spacer(1, 2 * mm)]


def _request_rows(content: BastContent) -> list[tuple[str, Flowable]]:
    """What the request asked, as far as extract-prepared reported it."""
    rows: list[tuple[str, Flowable]] = []
    if content.requester:
        rows.append(("Pemohon (terverifikasi)", _p(_esc(content.requester), "cell")))
    if content.request_path:
        rows.append(("Jalur permintaan", _p(_esc(content.request_path), "cell")))
    if content.requester:
        to = content.recipient or "pemohon tersebut di atas"
        rows.append(("Penerima kata sandi dan tautan unduhan", _p(_esc(to), "cell")))
    if content.purpose:
        rows.append(("Tujuan penggunaan", _p(_esc(content.purpose), "cell")))
    if content.justification:
        rows.append(("Alasan permintaan", _p(_esc(content.justification), "cell")))
    if content.criteria:
        rows.append(("Kriteria", _p(_esc(content.criteria), "cell")))
    if content.reference_date:
        rows.append(("Tanggal acuan usia", _p(f"{tanggal(content.reference_date)} "
                                              f"({content.reference_date.isoformat()})", "cell")))
    if content.requested_fields:
        rows.append(("Elemen data yang diminta", _p(", ".join(_esc(f) for f in content.requested_fields)
                                                    + f" ({len(content.requested_fields)} kolom)", "cell")))
    return rows


def _ayat(items: list[str]) -> list[Flowable]:
    table = Table([[f"({i})", _p(text, "body")] for i, text in enumerate(items, 1)], colWidths=[10 * mm, 160 * mm])
    table.setStyle(TableStyle([("FONT", (0, 0), (0, -1), "Times-Roman", 11), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("LEFTPADDING", (0, 0), (-1, -1), 0), ("TOPPADDING", (0, 0), (-1, -1), 0),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 0), ("TOPPADDING", (0, 0), (0, -1), 1.5)]))
    return [table]


def _articles(content: BastContent) -> list[Flowable]:
    out: list[Flowable] = [*_pasal(1, "Data yang diserahterimakan"), _p(
        "PIHAK KESATU menyerahkan kepada PIHAK KEDUA, dan PIHAK KEDUA menerima dari PIHAK KESATU, "
        "Data P3KE dengan rincian sebagai berikut:"), _numbered_table(_data_table(content))]
    out += _pasal(2, "Tata cara penyerahan")
    # bound to the requester (or the recipient the request named) when the request says who asked
    whom = ("pemohon terverifikasi atau penerima yang ditunjuk dalam permintaan, sebagaimana tercantum di atas "
            "tanda tangan PARA PIHAK, dan hanya jika perannya diizinkan Perjanjian Kerja Sama") \
        if content.requester else None
    out += _ayat([
        f"Paket data hanya dapat diunduh oleh {whom or 'petugas PIHAK KEDUA yang berwenang'} setelah Berita "
        "Acara ini ditandatangani secara elektronik oleh PARA PIHAK; setiap unduhan dicatat dalam log audit.",
        f"Kata sandi pembuka paket disampaikan satu kali kepada {whom or 'petugas program PIHAK KEDUA'} setelah "
        "penandatanganan, terpisah dari paket, dan penyampaiannya dicatat dalam log audit.",
        "Tautan unduhan berlaku terbatas waktu. PIHAK KESATU dapat mencabut serah terima ini; sejak "
        "pencabutan tidak ada lagi data atau kata sandi yang diserahkan.",
        "Keutuhan paket diperiksa dengan mencocokkan sidik SHA-256 paket di atas; keutuhan setiap berkas "
        "di dalamnya diperiksa dengan sidik yang tercantum dalam manifest.",
    ])
    out += _pasal(3, "Kerahasiaan dan keamanan data dan informasi")
    out += _ayat([
        "PARA PIHAK sepakat untuk menjaga kerahasiaan seluruh data, informasi dan keterangan yang diperoleh "
        "berkaitan dengan Perjanjian Kerja Sama dan Berita Acara ini, termasuk namun tidak terbatas pada "
        "data pribadi dan informasi yang bersifat rahasia lainnya (Pasal 10 ayat (1) Perjanjian Kerja Sama).",
        "PARA PIHAK menjamin data yang diserahterimakan hanya digunakan untuk tujuan pelaksanaan Perjanjian "
        f"Kerja Sama, yaitu program {_esc(content.program_title)}; penggunaan di luar Perjanjian Kerja Sama "
        "oleh PIHAK KEDUA wajib mendapat izin atau persetujuan tertulis dari PIHAK KESATU (Pasal 10 ayat (2)).",
        "PARA PIHAK wajib menjaga kerahasiaan setiap data hasil pelaksanaan Perjanjian Kerja Sama, kecuali "
        "terdapat permintaan pengungkapan dari salah satu PIHAK yang mendapat persetujuan PIHAK lainnya "
        "(Pasal 10 ayat (3)).",
        "Pemrosesan data pribadi tunduk pada Undang-Undang Nomor 27 Tahun 2022 tentang Pelindungan Data "
        "Pribadi; data disimpan hanya selama diperlukan untuk tujuan di atas.",
    ])
    out += _pasal(4, "Pelaporan")
    out.append(_p(
        "PIHAK KEDUA menyampaikan laporan pemanfaatan data secara tertulis kepada PIHAK KESATU dengan "
        "melampirkan data balikan (by name by address) penerima program sebagaimana dimaksud dalam Pasal 4 "
        "ayat (2) dan Pasal 5 ayat (1) Perjanjian Kerja Sama."))
    out.append(Spacer(1, 3 * mm))
    out.append(_p(
        "Demikian Berita Acara Serah Terima ini dibuat dengan sebenar-benarnya dalam bentuk dokumen "
        "elektronik, ditandatangani secara elektronik oleh PARA PIHAK, dan merupakan bagian yang tidak "
        "terpisahkan dari Perjanjian Kerja Sama."))
    return out


def _numbered_table(table: Table) -> Table:
    wrapper = Table([[table]], colWidths=[170 * mm])
    wrapper.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 8 * mm)]))
    return wrapper


def _signatures(content: BastContent, placed: dict[int, Any]) -> Flowable:
    cells = []
    for party in content.parties:
        cells.append([
            _p(f"<b>{PARTY_NAMES[party.number]},</b>", "sign"),
            _p(_esc(party.signatory_position), "sign"),
            Spacer(1, 2 * mm),
            SignatureBox(party.number, placed),
            _p(f"tanda tangan elektronik {PARTY_NAMES[party.number]} (PAdES)", "caption"),
            _p(f"<u>{_esc(party.signatory_name)}</u>", "sign_name"),
        ])
    table = Table([cells], colWidths=[85 * mm, 85 * mm])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("ALIGN", (0, 0), (-1, -1), "CENTER")]))
    return KeepTogether([Spacer(1, 6 * mm), *_asked_summary(content),
                         _p(f"{_esc(content.place)}, {tanggal(content.issued_on)}", "sign"), Spacer(1, 3 * mm), table])


def render(content: BastContent) -> bytes:
    """The BAST as a single-revision PDF with two empty signature fields, one per party."""
    placed: dict[int, tuple[int, tuple[float, float, float, float]]] = {}
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=16 * mm, bottomMargin=22 * mm,
        title=f"BAST {content.number}", author="P3KE delivery service",
        subject=f"Berita Acara Serah Terima Data P3KE, serah terima {content.handover_id}",
        keywords=f"P3KE, BAST, {content.handover_id}, {content.program_code}", creator="p3ke-delivery",
        lang="id-ID")
    story = [*_letterhead(content.parties), *_title(content), *_parties(content), *_articles(content),
             _signatures(content, placed)]
    footer = marked_as_test(_footer(f"BAST Nomor {content.number}"), content.example_terms)
    doc.build(story, canvasmaker=page_total_canvas(footer, "BastCanvas"))
    if set(placed) != {1, 2}:
        raise RuntimeError("the layout did not place both signature boxes")
    return _with_signature_fields(buffer.getvalue(), placed)


def _with_signature_fields(pdf: bytes, placed: dict[int, tuple[int, tuple[float, float, float, float]]]) -> bytes:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.pdf_utils.writer import copy_into_new_writer
    from pyhanko.sign import fields

    writer = copy_into_new_writer(PdfFileReader(io.BytesIO(pdf)))
    for party, (page, (x1, y1, x2, y2)) in sorted(placed.items()):
        fields.append_signature_field(writer, fields.SigFieldSpec(
            sig_field_name=SIGNATURE_FIELDS[party], on_page=page,
            box=(round(x1), round(y1), round(x2), round(y2)),
            readable_field_name=f"Tanda tangan elektronik {PARTY_NAMES[party]}",
            seed_value_dict=fields.SigSeedValueSpec(
                flags=fields.SigSeedValFlags.SUBFILTER,
                subfilters=[fields.SigSeedSubFilter.PADES],
            ),
        ))
    # AppendOnly from the start, as signing would set it: then signing changes nothing but the fields
    fields.ensure_sig_flags(writer, lock_sig_flags=True)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _article(article: str) -> str:
    """`3(b)` -> `3 huruf b`; anything else as written."""
    import re

    match = re.fullmatch(r"(\d+)\(([a-z])\)", article.strip())
    return f"{match.group(1)} huruf {match.group(2)}" if match else article
