"""The yearly monitoring and evaluation report (PKS Art. 7) as a PDF in Indonesian: tables and charts
of what was handed over, who was served, how the data balikan matched, and how timely it came.

reportlab lays out the document; charts are the same PNGs the API serves (adapters.charts). Aggregates
only: no names, no NIKs; handovers are named by their BAST numbers. Confidential to the two parties
(Art. 10(3)): every page says so. Figures are as the report's reader may see them (`Report.shown`): for
party 2 the match classes are merged and small cells suppressed, shown as "x".

It ends with an approval block (*Pengesahan*): for each party who prepared the report (its liaison office,
Art. 13) and who approves it (its signatory in the agreement), each with name, NIP, date and a signature line.
Every word a reader sees is Indonesian, statuses included. Made while the agreement's example records are loaded
(`Parties.example_terms`), it is marked as a test document on every page (p3ke_platform.pdf.marked_as_test).
"""

from __future__ import annotations

import io
import statistics
from dataclasses import dataclass
from datetime import date
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Image, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.flowables import HRFlowable

from p3ke_feedback.adapters import charts
from p3ke_feedback.domain.bahasa import angka, desimal, periode, persen, rupiah, tanggal
from p3ke_feedback.domain.report import DESIL_KEYS, Figures, Report
from p3ke_feedback.domain.vocabulary import (
    PROGRAM_TITLES_ID,
    STATUSES,
    HandoverClass,
    MatchClass,
    MatchView,
    Status,
    class_labels_id,
)
from p3ke_platform.pdf import FooterDrawer, marked_as_test, page_total_canvas
from p3ke_platform.pdf import escape_markup as _esc


@dataclass(frozen=True)
class Official:
    """Who prepares or approves the report for a party: a position, and the name when the agreement prints it
    (else written in by hand, with the NIP and the date)."""

    position: str
    name: str | None = None


@dataclass(frozen=True)
class Parties:
    reference: str  # both PKS numbers
    title: str
    party_1: str
    party_1_unit: str
    party_2: str
    party_2_unit: str
    prepared_by: tuple[Official, Official] = (Official("Pejabat penghubung PIHAK KESATU"),
                                              Official("Pejabat penghubung PIHAK KEDUA"))
    """Per party, who prepares the report: its liaison office (Art. 13)."""
    approved_by: tuple[Official, Official] = (Official("Penanda tangan PIHAK KESATU"),
                                              Official("Penanda tangan PIHAK KEDUA"))
    """Per party, who approves it: its signatory in the agreement."""
    example_terms: str | None = None
    """The example terms it was made from (`Agreement.example_terms`): a test document; None: a real one."""

    @classmethod
    def of(cls, terms: Any, *, example_terms: str | None = None) -> Parties:
        """The parties as the agreement's `terms` (p3ke_platform.agreement.Terms) name them: each party's liaison
        office (Art. 13) prepares the report, its signatory approves it."""
        p1, p2 = terms.party(1), terms.party(2)

        def preparer(party: int) -> Official:
            office = next((o for o in terms.liaison_officers if o.party == party), None)
            return Official(f"{office.position} (pejabat penghubung)") if office else cls.prepared_by[party - 1]

        def approver(party: int) -> Official:
            signatory = next((s for s in terms.signatories if s.party == party), None)
            return Official(signatory.position, signatory.name) if signatory else cls.approved_by[party - 1]

        return cls(reference=terms.reference, title=" ".join(terms.title.split()), party_1=p1.name,
                   party_1_unit=p1.unit, party_2=p2.name, party_2_unit=p2.unit,
                   prepared_by=(preparer(1), preparer(2)), approved_by=(approver(1), approver(2)),
                   example_terms=example_terms)


_BASE = ParagraphStyle("base", fontName="Helvetica", fontSize=9.5, leading=13, alignment=TA_JUSTIFY)
_S = {
    "kop": ParagraphStyle("kop", parent=_BASE, fontName="Helvetica-Bold", fontSize=9, leading=11.5,
                          alignment=TA_CENTER, textColor=colors.HexColor("#1f3b63")),
    "title": ParagraphStyle("title", parent=_BASE, fontName="Helvetica-Bold", fontSize=15, leading=19,
                            alignment=TA_CENTER, spaceBefore=6),
    "subtitle": ParagraphStyle("subtitle", parent=_BASE, fontSize=10.5, leading=14, alignment=TA_CENTER),
    "h1": ParagraphStyle("h1", parent=_BASE, fontName="Helvetica-Bold", fontSize=11.5, leading=15,
                         spaceBefore=10, spaceAfter=4, textColor=colors.HexColor("#1f3b63"), keepWithNext=True),
    "body": ParagraphStyle("body", parent=_BASE, spaceAfter=4),
    "bullet": ParagraphStyle("bullet", parent=_BASE, leftIndent=12, bulletIndent=2, spaceAfter=2),
    "cell": ParagraphStyle("cell", parent=_BASE, fontSize=8, leading=10, alignment=0),
    "cellr": ParagraphStyle("cellr", parent=_BASE, fontSize=8, leading=10, alignment=TA_RIGHT),
    "head": ParagraphStyle("head", parent=_BASE, fontName="Helvetica-Bold", fontSize=7, leading=8.5,
                           alignment=TA_CENTER, textColor=colors.white),
    "caption": ParagraphStyle("caption", parent=_BASE, fontSize=8, leading=10, alignment=TA_CENTER,
                              textColor=colors.HexColor("#555555"), spaceAfter=6),
    "note": ParagraphStyle("note", parent=_BASE, fontSize=7.5, leading=9.5, textColor=colors.HexColor("#555555")),
    "sign": ParagraphStyle("sign", parent=_BASE, alignment=TA_CENTER, leading=12.5),
    "sign_small": ParagraphStyle("sign_small", parent=_BASE, fontSize=8.5, leading=11, alignment=TA_CENTER),
    "sign_caption": ParagraphStyle("sign_caption", parent=_BASE, fontSize=7, leading=9, alignment=TA_CENTER,
                                   textColor=colors.HexColor("#777777")),
    "sign_left": ParagraphStyle("sign_left", parent=_BASE, fontSize=8.5, leading=12, alignment=0, leftIndent=8 * mm),
}
HEAD_BG = colors.HexColor("#1f3b63")
ZEBRA = colors.HexColor("#eef2f7")


def _p(text: str, style: str = "body") -> Paragraph:
    return Paragraph(text, _S[style])


def _program(code: str) -> str:
    return PROGRAM_TITLES_ID.get(code, code)


SUPPRESSED = "x"


def _n(f: Figures, key: str) -> str:
    """A count as shown: "x" when suppressed (party 2's small cells)."""
    value = f.shown(key)
    return SUPPRESSED if value is None else angka(value)


def _table(header: list[str], rows: list[list[str]], widths: list[float], numeric_from: int = 1,
           total: bool = False) -> Table:
    data = [[_p(h, "head") for h in header]]
    for r in rows:
        data.append([_p(_esc(v), "cell" if i < numeric_from else "cellr") for i, v in enumerate(r)])
    table = Table(data, colWidths=[w * mm for w in widths], repeatRows=1)
    style = [("BACKGROUND", (0, 0), (-1, 0), HEAD_BG), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
             ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#b8c2d0")),
             ("TOPPADDING", (0, 0), (-1, -1), 2.2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2.2)]
    for i in range(1, len(data)):
        if i % 2 == 0:
            style.append(("BACKGROUND", (0, i), (-1, i), ZEBRA))
    if total and len(data) > 1:
        style += [("BACKGROUND", (0, len(data) - 1), (-1, len(data) - 1), colors.HexColor("#d6deea")),
                  ("LINEABOVE", (0, len(data) - 1), (-1, len(data) - 1), 0.8, HEAD_BG)]
    table.setStyle(TableStyle(style))
    return table


def _chart(name: str, report: Report, width_mm: float = 165) -> Image:
    png = charts.render(name, report, "png")
    image = Image(io.BytesIO(png))
    scale = width_mm * mm / image.imageWidth
    image.drawWidth, image.drawHeight = image.imageWidth * scale, image.imageHeight * scale
    return image


def _footer(label: str) -> FooterDrawer:
    """Marks a page confidential and numbers it ("halaman 2 dari 7")."""

    def draw(c: Canvas, page: int, total: int) -> None:
        c.setFont("Helvetica", 7.5)
        c.setFillColor(colors.HexColor("#8c1f28"))
        c.drawString(18 * mm, 10 * mm, "RAHASIA – hanya untuk PARA PIHAK (Pasal 10 PKS)")
        c.setFillColor(colors.HexColor("#555555"))
        c.drawRightString(A4[0] - 18 * mm, 10 * mm, f"{label} – halaman {page} dari {total}")

    return draw


def _summary_rows(report: Report) -> list[list[str]]:
    figures = {t.program: t.figures for t in report.totals}
    times: dict[str, list[Any]] = {}
    for t in report.timeliness:
        agg = times.setdefault(t.program, [0, 0, 0, []])
        agg[0] += t.handovers
        agg[1] += t.with_feedback
        agg[2] += t.overdue
        agg[3].extend(t.days)
    rows, grand = [], Figures.empty(report.view)
    for program in sorted(set(figures) | set(times)):
        exact = figures.get(program, Figures.empty(report.view))
        f = report.shown(exact)
        handovers, with_feedback, overdue, days = times.get(program, [0, 0, 0, []])
        median = statistics.median(days) if days else None
        rows.append([_program(program), _n(f, "delivered"), _n(f, "served"), _n(f, "served_in_extract"),
                     persen(f.coverage), persen(f.share_desil_1), angka(handovers), angka(with_feedback),
                     desimal(median), angka(overdue)])
        grand.add(exact)
    if len(rows) > 1:
        g = report.shown(grand)
        rows.append(["Jumlah", _n(g, "delivered"), _n(g, "served"), _n(g, "served_in_extract"),
                     persen(g.coverage), persen(g.share_desil_1), angka(sum(v[0] for v in times.values())),
                     angka(sum(v[1] for v in times.values())), "", angka(sum(v[2] for v in times.values()))])
    return rows


def _suppression_note(report: Report) -> str:
    if report.min_cell is None:
        return ""
    return (f" <i>{SUPPRESSED}</i>: disamarkan, kurang dari {report.min_cell} orang atau agar sel kecil tidak dapat "
            f"dihitung dari jumlahnya.")


def _observations(report: Report) -> list[str]:
    notes = []
    for t in report.totals:
        exact, f = t.figures, report.shown(t.figures)
        parts = []
        if exact.delivered:
            parts.append(f"dari {_n(f, 'delivered')} orang yang diserahkan, {_n(f, 'served_in_extract')} dilaporkan "
                         f"telah dilayani (cakupan {persen(f.coverage)})")
        outside = MatchClass.IN_P3KE_NOT_DELIVERED.value
        if exact.by_class.get(outside, 0):
            parts.append(f"{_n(f, f'class:{outside}')} penerima terdapat dalam Data P3KE tetapi tidak termasuk data "
                         f"yang diserahkan (perlu dikonfirmasi apakah penyasaran di luar serah terima disengaja)")
        absent = MatchClass.NOT_IN_P3KE.value
        if exact.by_class.get(absent, 0):
            parts.append(f"{_n(f, f'class:{absent}')} penerima tidak terdapat dalam Data P3KE (kemungkinan "
                         f"kesalahan inklusi; perlu verifikasi oleh PIHAK KEDUA)")
        beyond = HandoverClass.NOT_IN_HANDOVER.value
        if exact.by_class.get(beyond, 0):
            parts.append(f"{_n(f, f'class:{beyond}')} penerima tidak termasuk data yang diserahkan pada BAST terkait "
                         f"(perlu dikonfirmasi dengan PIHAK KESATU)")
        invalid = MatchClass.INVALID_NIK.value
        if exact.by_class.get(invalid, 0):
            parts.append(f"{_n(f, f'class:{invalid}')} baris tanpa NIK yang sah tidak dapat dicocokkan")
        if parts:
            notes.append(f"<b>{_esc(_program(t.program))}</b>: " + "; ".join(parts) + ".")
    overdue = sum(t.overdue for t in report.timeliness)
    if overdue:
        notes.append(f"{angka(overdue)} serah terima belum disertai data balikan lebih dari {report.overdue_days} "
                     f"hari setelah BAST ditandatangani (Pasal 4 ayat (2) dan Pasal 5 ayat (1)).")
    if report.unsettled_handovers:
        notes.append(f"{angka(report.unsettled_handovers)} serah terima belum dapat dihitung jumlah data yang "
                     f"diserahkan (berkas ekstrak atau snapshot belum tersedia bagi layanan).")
    return notes or ["Belum ada serah terima atau data balikan pada periode ini."]


DCI_WORDS = {"1 Active": "aktif", "2 Deceased": "meninggal dunia", "3 Graduated": "lulus",
             "4 Suspended": "ditangguhkan"}
"""The DCI enrolment statuses (spdci.org IBR EnrollmentStatusEnum) in Indonesian, with their codes."""


def _status_words() -> str:
    """Each status's Indonesian label with the DCI enrolment status it matches, in Indonesian: `Selesai/lulus
    (status DCI 3, lulus)`; a status without a DCI match says so."""
    parts = []
    for status in Status:
        info = STATUSES[status]
        dci = info.dci_enrollment_status
        match = (f"status DCI {dci.split()[0]}, {DCI_WORDS.get(dci, dci)}" if dci else "tanpa padanan status DCI")
        if info.dci_payment_status:
            match += ", pembayaran berhasil"
        parts.append(f"<i>{_esc(info.label_id)}</i> ({match})")
    return "; ".join(parts)


_BLANK = "...................................."


def _official_cell(role: str, official: Official) -> list[Any]:
    """One signature: the role (`Disusun oleh`), the position, space to sign, the signature line, then the name
    (printed, or a line to write it on), NIP and date lines."""
    name = f"<b>{_esc(official.name)}</b>" if official.name else _BLANK
    return [
        _p(f"{role},", "sign"),
        _p(_esc(official.position), "sign_small"),
        Spacer(1, 15 * mm),
        HRFlowable(width="78%", thickness=0.6, color=colors.black, spaceBefore=0, spaceAfter=2),
        _p("(tanda tangan)", "sign_caption"),
        _p(f"Nama: {name}", "sign_left"),
        _p(f"NIP: {_BLANK}", "sign_left"),
        _p(f"Tanggal: {_BLANK}", "sign_left"),
    ]


def _approval(parties: Parties, generated_on: date) -> KeepTogether:
    """VIII. Pengesahan: per party, who prepared the report and who approves it, each with a signature line."""
    head = [_p(f"<b>PIHAK KESATU</b><br/>{_esc(parties.party_1)}", "sign"),
            _p(f"<b>PIHAK KEDUA</b><br/>{_esc(parties.party_2)}", "sign")]
    rows = [head,
            [_official_cell("Disusun oleh", parties.prepared_by[0]), _official_cell("Disusun oleh",
                                                                                    parties.prepared_by[1])],
            [_official_cell("Disetujui oleh", parties.approved_by[0]),
             _official_cell("Disetujui oleh", parties.approved_by[1])]]
    table = Table(rows, colWidths=[87 * mm, 87 * mm])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("ALIGN", (0, 0), (-1, -1), "CENTER"),
                               ("LINEBELOW", (0, 0), (-1, 0), 0.6, HEAD_BG),
                               ("LINEAFTER", (0, 0), (0, -1), 0.4, colors.HexColor("#b8c2d0")),
                               ("TOPPADDING", (0, 1), (-1, -1), 6), ("BOTTOMPADDING", (0, 1), (-1, -1), 8)]))
    return KeepTogether([
        _p("VIII. Pengesahan", "h1"),
        _p(f"Laporan monitoring dan evaluasi ini disusun dan disetujui oleh PARA PIHAK (Pasal 7 Perjanjian Kerja "
           f"Sama). Disiapkan oleh sistem pada {tanggal(generated_on)}; berlaku setelah ditandatangani PARA PIHAK.",
           "body"),
        table,
    ])


def render(report: Report, parties: Parties, *, generated_on: date) -> bytes:
    """The M&E report for `report` (province level, the whole period as one bucket)."""
    label = periode(report.start, report.end)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
                            bottomMargin=18 * mm, title=f"Laporan Monitoring dan Evaluasi Data P3KE – {label}",
                            author="Layanan feedback P3KE", subject=parties.reference, creator="p3ke-feedback")
    story: list[Any] = [
        _p(f"{_esc(parties.party_1.upper())}<br/>{_esc(parties.party_2.upper())}", "kop"),
        HRFlowable(width="100%", thickness=1.2, color=HEAD_BG, spaceBefore=3, spaceAfter=6),
        _p("LAPORAN MONITORING DAN EVALUASI", "title"),
        _p("Pemanfaatan Data Pensasaran Percepatan Penghapusan Kemiskinan Ekstrem (Data P3KE)", "subtitle"),
        _p(f"Periode {label}", "subtitle"),
        Spacer(1, 4 * mm),
        _p(f"Berdasarkan Perjanjian Kerja Sama Nomor {_esc(parties.reference)} tentang {_esc(parties.title)} "
           f"(Pasal 7: monitoring dan evaluasi sekurang-kurangnya satu kali dalam satu tahun).", "body"),
        _p("I. Pendahuluan", "h1"),
        _p(f"Laporan ini menyajikan pemanfaatan Data P3KE oleh PIHAK KEDUA ({_esc(parties.party_2_unit)}) yang "
           f"diterima dari PIHAK KESATU ({_esc(parties.party_1_unit)}) melalui serah terima yang dicatat dalam "
           f"Berita Acara Serah Terima (BAST, Pasal 6), serta data balikan berupa daftar penerima program menurut "
           f"nama dan alamat yang disampaikan PIHAK KEDUA (Pasal 4 ayat (2) dan Pasal 5 ayat (1)). Seluruh angka "
           f"merupakan agregat; tidak ada data pribadi dalam laporan ini.", "body"),
        _p("<b>Definisi.</b> <i>Diserahkan</i>: orang dalam data yang diserahkan pada BAST yang ditandatangani dalam "
           "periode. <i>Dilayani</i>: orang dalam data balikan yang sah, dihitung satu kali. <i>Cakupan</i>: "
           "dilayani dari data yang diserahkan dibagi diserahkan. <i>Desil 1</i>: bagian penerima yang dilayani "
           "yang berada pada desil kesejahteraan 1 (kemiskinan ekstrem). <i>Waktu data balikan</i>: hari sejak BAST "
           "ditandatangani sampai data balikan pertama diterima.", "body"),
        _p("II. Ringkasan per program", "h1"),
        _table(["Program", "Diserahkan", "Dilayani", "Dari data diserahkan", "Cakupan", "Desil 1", "BAST",
                "BAST dgn data balikan", "Median hari", "Terlambat"],
               _summary_rows(report), [32, 18, 16, 18, 15, 14, 11, 16, 15, 19], total=len(report.totals) > 1),
        Spacer(1, 2 * mm),
        _p(f"Dicetak {tanggal(generated_on)}. <i>Terlambat</i>: BAST tanpa data balikan lebih dari "
           f"{report.overdue_days} hari.{_suppression_note(report)}", "note"),
    ]
    # III. matching
    labels = class_labels_id(report.view)
    class_rows = [[_program(t.program), *(_n(f, f"class:{c}") for c in labels), _n(f, "rejected")]
                  for t in report.totals for f in [report.shown(t.figures)]]
    matched = ("Setiap baris data balikan dicocokkan dengan data yang diserahkan pada BAST terkait dan dengan Data "
               "P3KE. Penerima di luar data yang diserahkan dapat menunjukkan penyasaran di luar serah terima; "
               "penerima yang tidak terdapat dalam Data P3KE dapat menunjukkan kesalahan inklusi.")
    if report.view == MatchView.HANDOVER:
        matched = ("Setiap baris data balikan dicocokkan dengan data yang diserahkan pada BAST terkait. Penerima di "
                   "luar data yang diserahkan dapat menunjukkan penyasaran di luar serah terima; keanggotaannya "
                   "dalam Data P3KE hanya diketahui PIHAK KESATU.")
    class_width = 112 / len(labels)
    story += [
        _p("III. Hasil pencocokan data balikan", "h1"),
        _p(matched, "body"),
        _table(["Program", *labels.values(), "Baris ditolak"], class_rows,
               [34, *([class_width] * len(labels)), 21]),
        Spacer(1, 3 * mm), KeepTogether([_chart("classes", report, 140),
                                         _p("Grafik 1. Baris data balikan menurut hasil pencocokan.", "caption")]),
    ]
    # IV. regions
    regions: dict[str, tuple[str, Any]] = {}
    for row in report.rows:
        regions.setdefault(row.region, (row.region_name, row.figures.like()))[1].add(row.figures)
    ranked = [(name, report.shown(f)) for name, f in sorted(regions.values(), key=lambda nf: -nf[1].delivered)[:20]]
    story += [
        KeepTogether([_p("IV. Sebaran menurut provinsi", "h1"), _chart("coverage", report, 155),
                      _p("Grafik 2. Data diserahkan dan penerima yang dilayani, 15 provinsi dengan data diserahkan "
                         "terbanyak.", "caption")]),
        _table(["Provinsi", "Diserahkan", "Dilayani", "Dari data diserahkan", "Cakupan", "Desil 1", "Nilai manfaat"],
               [[name, _n(f, "delivered"), _n(f, "served"), _n(f, "served_in_extract"), persen(f.coverage),
                 persen(f.share_desil_1), rupiah(f.shown("benefit_value"))] for name, f in ranked],
               [46, 20, 20, 24, 16, 16, 32]),
    ]
    # V. desil and status
    shown_totals = [(t.program, report.shown(t.figures)) for t in report.totals]
    desil_rows = [[_program(p), *(_n(f, f"desil:{k}:served") for k in DESIL_KEYS), persen(f.share_desil_1)]
                  for p, f in shown_totals]
    status_rows = [[_program(p), *(_n(f, f"status:{s.value}") for s in Status)] for p, f in shown_totals]
    desil_0 = charts.desil_labels(report)["0"]
    story += [
        KeepTogether([_p("V. Penerima menurut desil kesejahteraan dan status", "h1"), _chart("desil", report, 145),
                      _p("Grafik 3. Penerima yang dilayani menurut desil; di dalam setiap program desil 1 "
                         "didahulukan.", "caption")]),
        _table(["Program", "Desil 1", "Desil 2", "Desil 3", "Desil 4", desil_0, "Bagian desil 1"],
               desil_rows, [44, 19, 19, 19, 19, 26, 28]),
        Spacer(1, 4 * mm),
        _table(["Program", *(STATUSES[s].label_id for s in Status)], status_rows, [44, 22, 22, 22, 22, 22, 20]),
        _p(f"Status penerima: {_status_words()}.", "note"),
    ]
    # VI. timeliness
    time_rows = [[_program(t.program), angka(t.handovers), angka(t.with_feedback), desimal(t.median_days),
                  desimal(t.mean_days), desimal(t.max_days), angka(t.awaiting), angka(t.overdue)]
                 for t in report.timeliness]
    overdue_rows = [[o.bast_number or o.handover_id, _program(o.program), tanggal(o.signed_at.date()),
                     angka(o.days_without_feedback)] for o in report.overdue[:40]]
    story += [
        KeepTogether([_p("VI. Ketepatan waktu data balikan", "h1"), _chart("timeliness", report, 145),
                      _p("Grafik 4. Serah terima menurut keadaan data balikannya.", "caption")]),
        _table(["Program", "BAST", "Dengan data balikan", "Median hari", "Rata-rata hari", "Maks. hari",
                "Menunggu", "Terlambat"], time_rows, [46, 14, 22, 18, 19, 17, 18, 18]),
    ]
    if overdue_rows:
        story += [Spacer(1, 3 * mm),
                  _p(f"BAST tanpa data balikan lebih dari {report.overdue_days} hari:", "body"),
                  _table(["Nomor BAST", "Program", "Tanggal BAST", "Hari tanpa data balikan"], overdue_rows,
                         [62, 50, 30, 30], numeric_from=3)]
    story += [
        KeepTogether([_p("VII. Catatan dan tindak lanjut", "h1"),
                      *(Paragraph(n, _S["bullet"], bulletText="•") for n in _observations(report))]),
        Spacer(1, 6 * mm),
        _p("Laporan ini bersifat rahasia bagi PARA PIHAK. Pengungkapan hasil kepada pihak lain hanya dapat dilakukan "
           "atas permintaan salah satu pihak dan persetujuan pihak lainnya (Pasal 10 ayat (3)); yang diumumkan hanya "
           "agregat dengan sel kecil disamarkan.", "note"),
    ]
    story.append(_approval(parties, generated_on))
    footer = marked_as_test(_footer(f"Laporan Monev Data P3KE, {label}"), parties.example_terms)
    doc.build(story, canvasmaker=page_total_canvas(footer, "Canvas"))
    return buffer.getvalue()
