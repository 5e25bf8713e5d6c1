"""The ROPA (UU PDP Art. 31) and the DPIA (Art. 34) as PDFs in Indonesian, from a stored version's JSON
(service_layer/processing_records.py): the same facts as the JSON, laid out with reportlab through
p3ke_platform.pdf like the services' other documents. Each page names the document, its version and the digests
of the terms and of the retention schedule it was built from, so a printed page can be matched with its version in
the history. The retention schedule is printed as a table, one row per kind of data."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from p3ke_audit.adapters.subject_response_pdf import HEAD_BG, wib
from p3ke_platform.pdf import FooterDrawer, page_total_canvas
from p3ke_platform.pdf import escape_markup as _esc

HEADINGS = {
    "ropa": ("CATATAN KEGIATAN PEMROSESAN DATA PRIBADI", "Pengendali Data Pribadi", "Kegiatan Pemrosesan",
             "Langkah Pengamanan", "Retensi", "Angka dari Log Pemrosesan"),
    "dpia": ("PENILAIAN DAMPAK PELINDUNGAN DATA PRIBADI", "Deskripsi Pemrosesan", "Kebutuhan dan Proporsionalitas",
             "Penilaian Risiko", "Langkah Pengamanan", "Kesimpulan dan Risiko Residual", "Angka dari Log Pemrosesan"),
}
"""The headings each PDF carries (tests look for them)."""
REASONS = {"first": "penerbitan pertama", "terms-changed": "ketentuan perjanjian berubah",
           "schedule-changed": "jadwal retensi berubah", "requested": "atas permintaan"}
SCHEDULE_HEADER = ["Jenis data", "Masa simpan", "Mulai dihitung sejak", "Batas berakhirnya perjanjian",
                   "Dasar hukum"]
"""The columns of the retention schedule's table (tests look for them)."""
OUTCOMES = {"allowed": "diizinkan", "denied": "ditolak"}
PAGE_W = A4[0] - 30 * mm

_BASE = ParagraphStyle("base", fontName="Helvetica", fontSize=9, leading=12)
_S = {
    "title": ParagraphStyle("title", parent=_BASE, fontName="Helvetica-Bold", fontSize=13, leading=17,
                            alignment=TA_CENTER),
    "subtitle": ParagraphStyle("subtitle", parent=_BASE, alignment=TA_CENTER),
    "h1": ParagraphStyle("h1", parent=_BASE, fontName="Helvetica-Bold", fontSize=11, leading=15, spaceBefore=8,
                         spaceAfter=3, textColor=HEAD_BG),
    "h2": ParagraphStyle("h2", parent=_BASE, fontName="Helvetica-Bold", spaceBefore=5, spaceAfter=2),
    "body": ParagraphStyle("body", parent=_BASE, spaceAfter=3),
    "notice": ParagraphStyle("notice", parent=_BASE, backColor=colors.HexColor("#fff4d6"), borderPadding=4,
                             spaceBefore=3, spaceAfter=6),
    "cell": ParagraphStyle("cell", parent=_BASE, fontSize=7.5, leading=9.5),
    "head": ParagraphStyle("head", parent=_BASE, fontName="Helvetica-Bold", fontSize=7.5, leading=9,
                           textColor=colors.white),
}


def _p(text: str, style: str = "body") -> Paragraph:
    return Paragraph(text, _S[style])


def _table(header: list[str], rows: list[list[str]], widths: list[float]) -> Table:
    data = [[_p(h, "head") for h in header]] + [[_p(_esc(v), "cell") for v in r] for r in rows]
    table = Table(data, colWidths=[w * mm for w in widths], repeatRows=1)
    table.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, 0), HEAD_BG), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#b8c2d0"))]))
    return table


def _footer(label: str) -> FooterDrawer:
    def draw(c: Canvas, page: int, total: int) -> None:
        c.setFont("Helvetica", 7.5)
        c.setFillColor(colors.HexColor("#555555"))
        c.drawString(15 * mm, 8 * mm, label)
        c.drawRightString(A4[0] - 15 * mm, 8 * mm, f"halaman {page} dari {total}")

    return draw


def _header(doc: dict[str, Any]) -> list[Flowable]:
    agreement, issue = doc["agreement"], doc["issue"]
    return [
        _p(HEADINGS[doc["document"]][0], "title"),
        _p(_esc(doc["law_id"]), "subtitle"),
        Spacer(1, 3 * mm),
        _p(f"<b>Perjanjian:</b> {_esc(agreement['reference'])} – {_esc(agreement['title'])}"),
        _p(f"<b>Versi dokumen:</b> {issue['version']} &nbsp; <b>Diterbitkan:</b> {wib(issue['issued_at'])} oleh "
           f"{_esc(issue['issued_by'])} ({REASONS.get(issue['reason'], issue['reason'])})"),
        _p(f"<b>Ketentuan yang berlaku:</b> versi {_esc(agreement['terms_version'])}, berlaku "
           f"{agreement['first_day']} s.d. {agreement['last_day']} (status: {_esc(agreement['status'])}); SHA-256 "
           f"berkas ketentuan: {_esc(agreement['terms_sha256'] or '-')}"),
        _p(f"<b>Jadwal retensi:</b> SHA-256 berkas jadwal: {_esc(issue.get('schedule_sha256') or '-')}"),
    ]


def _sentence(text: str) -> str:
    """`text` with its first letter in capitals (names such as P3KE_RETENTION_SCHEDULE kept as they are)."""
    return text[:1].upper() + text[1:]


def _schedule(retention: dict[str, Any] | None) -> list[Flowable]:
    """The retention schedule, one row per kind of data (nothing for versions issued before it was stated)."""
    if not retention or not retention.get("rules"):
        return []
    title = f": {_esc(retention['schedule_title'])}" if retention.get("schedule_title") else ""
    rows = [[f"{r['kind_id']} ({r['kind']}); dimusnahkan oleh layanan {r['owner']}", r["period_id"],
             r["starts_id"] + ("; tidak sebelum berita acara pemusnahan pihak kedua diterima"
                               if r["until_certificate"] else ""),
             r["cap_id"], r["basis_id"]] for r in retention["rules"]]
    return [_p(f"Jadwal retensi yang berlaku{title}. SHA-256 berkas jadwal: "
               f"{_esc(retention['schedule_sha256'] or '-')}.", "h2"),
            _table(SCHEDULE_HEADER, rows, [34, 18, 38, 30, 60])]


def _safeguards(doc: dict[str, Any]) -> Table:
    rows = [[s["title_id"], s["description_id"] + (f" Status: {s['status_id']}." if s.get("status_id") else ""),
             s["implemented_in"]] for s in doc["safeguards"]]
    return _table(["Langkah pengamanan", "Uraian", "Diterapkan di"], rows, [38, 105, 37])


def _figures(doc: dict[str, Any]) -> list[Flowable]:
    fig = doc["figures"]
    intro = _p(f"Akses atas data pribadi yang tercatat dalam log audit dari {wib(fig['period_from'])} sampai "
               f"{wib(fig['period_to'])}: {fig['total_accesses']} akses, {fig['total_records']} rekaman.")
    if not fig["rows"]:
        return [intro, _p("Belum ada akses yang tercatat dalam periode ini.")]
    rows = [[r["program"] or "(tanpa program)", r["action"], OUTCOMES.get(r["outcome"], r["outcome"]),
             str(r["accesses"]), str(r["records"])] for r in fig["rows"]]
    return [intro, _table(["Program", "Tindakan", "Hasil", "Jumlah akses", "Jumlah rekaman"], rows,
                          [62, 34, 28, 28, 28])]


def _ropa(doc: dict[str, Any]) -> list[Flowable]:
    h = HEADINGS["ropa"]
    story: list[Flowable] = [_p(h[1], "h1"), _table(
        ["Pihak", "Instansi", "Unit dan alamat", "Peran"],
        [[f"{c['party']} ({c['org']})", c["name"], f"{c['unit']}, {c['address']}", c["role_id"]]
         for c in doc["controllers"]], [22, 55, 60, 43])]
    story.append(_p(h[2], "h1"))
    story.append(_p(f"Satu kegiatan pemrosesan untuk setiap program × tujuan: {len(doc['activities'])} kegiatan."))
    for i, a in enumerate(doc["activities"], start=1):
        story.append(_p(f"{i}. {_esc(a['program_title_id'])} – {_esc(a['purpose_title_id'])} "
                        f"(<font face='Courier'>{_esc(a['id'])}</font>)", "h2"))
        data = "; ".join(f"{c['title_id']}: {', '.join(c['fields'])}" for c in a["personal_data"])
        rows = [["Tujuan", f"{a['purpose_title_id']} ({a['purpose']})"],
                ["Dasar hukum", "; ".join(a["legal_basis"])],
                ["Pengendali (menyediakan)", a["provided_by"]],
                ["Penerima", "; ".join(a["recipients"])],
                ["Subjek data", a["data_subjects_id"]],
                ["Data pribadi", data + ("" if a["specific_personal_data"] else
                                         ". Tidak ada data pribadi yang bersifat spesifik.")],
                ["Transfer ke luar negeri", a["transfers_note_id"]],
                ["Retensi", f"{a['retention']['status_id']}"
                            + (" (tabel per jenis data: bagian Retensi)" if a["retention"].get("rules") else "")],
                ["Langkah pengamanan", ", ".join(a["safeguards"])],
                ["Akses tercatat", f"{sum(f['accesses'] for f in a['figures'])} akses untuk program ini"]]
        story.append(_table(["Unsur", "Keterangan"], rows, [40, 140]))
    story += [_p(h[3], "h1"), _safeguards(doc), _p(h[4], "h1"),
              _p(f"<b>{_esc(_sentence(doc['retention']['status_id']))}.</b> {_esc(doc['retention']['rule_id'])}",
                 "notice"),
              *_schedule(doc["retention"]),
              _p(h[5], "h1"), *_figures(doc)]
    return story


def _dpia(doc: dict[str, Any]) -> list[Flowable]:
    h = HEADINGS["dpia"]
    story: list[Flowable] = [_p(h[1], "h1"), _p(_esc(doc["description_id"]))]
    story += [_p("Penilaian ini wajib karena:", "h2"), *(_p(f"• {_esc(t)}") for t in doc["mandatory_because_id"])]
    story.append(_p(f"Kegiatan pemrosesan yang dinilai: {_esc(', '.join(doc['activities']))}.", "cell"))
    story += [_p(h[2], "h1"), *(_p(f"• {_esc(t)}") for t in doc["necessity_id"]), *_schedule(doc.get("retention"))]
    story.append(_p(h[3], "h1"))
    rows = [[r["title_id"], r["description_id"], f"{r['likelihood']} / {r['severity']}: {r['level']}",
             ", ".join(r["measures"]), f"{r['residual_likelihood']} / {r['residual_severity']}: "
             f"{r['residual_level']}"] for r in doc["risks"]]
    story.append(_table(["Risiko", "Uraian", "Kemungkinan / dampak: tingkat", "Langkah", "Risiko residual"], rows,
                        [30, 62, 26, 36, 26]))
    story += [_p(h[4], "h1"), _safeguards(doc), _p(h[5], "h1"),
              _p(f"<b>Risiko residual tertinggi: {_esc(doc['residual_level'])}.</b> {_esc(doc['conclusion_id'])}",
                 "notice"),
              _p(h[6], "h1"), *_figures(doc)]
    return story


_BODIES: dict[str, Callable[[dict[str, Any]], list[Flowable]]] = {"ropa": _ropa, "dpia": _dpia}


def render(doc: dict[str, Any]) -> bytes:
    """The PDF of a stored ROPA or DPIA version (its JSON, parsed)."""
    kind, issue = doc["document"], doc["issue"]
    buffer = io.BytesIO()
    pdf = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=14 * mm,
                            bottomMargin=16 * mm, title=f"{doc['title_id']} versi {issue['version']}",
                            author="Layanan audit P3KE", creator="p3ke-audit")
    story = _header(doc) + _BODIES[kind](doc)
    digest = (doc["agreement"]["terms_sha256"] or "-")[:12]
    schedule = (issue.get("schedule_sha256") or "-")[:12]
    label = f"{doc['title_id']} – versi {issue['version']} – ketentuan {digest} – jadwal retensi {schedule}"
    pdf.build(story, canvasmaker=page_total_canvas(_footer(label), "Canvas"))
    return buffer.getvalue()
