"""The answer to a data subject's access request (UU PDP Art. 32) as a PDF in Indonesian: the request, how the
identity was checked, and the person's processing trail from the audit log (who accessed their data, when, for
which program and with what outcome), each entry named by its leaf in the log so it can be proven.

Laid out with reportlab through p3ke_platform.pdf, as the services' other documents. The document says plainly
what it does not hold yet: the person's record as kept in the snapshot, the extracts and the data balikan lives
in other services and is not included. No NIK: the person is named by the request number and keyed reference.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from p3ke_audit.domain.subject_requests import IDENTITY_DOCUMENT_LABELS, KIND_LABELS
from p3ke_platform.agreement import WIB
from p3ke_platform.pdf import FooterDrawer, page_total_canvas
from p3ke_platform.pdf import escape_markup as _esc

NOT_INCLUDED_ID = ("data pribadi dari layanan lain belum disertakan: data Anda sebagaimana tercatat dalam snapshot "
                   "Data P3KE, dalam ekstrak yang diserahkan, dan dalam data balikan disimpan oleh layanan lain dan "
                   "belum termasuk dalam jawaban ini; jawaban ini memuat jejak pemrosesan data Anda dari log audit")
NOT_INCLUDED_EN = ("personal data held by other services is not included yet: your record as held in the P3KE "
                   "snapshot, in the extracts handed over and in the feedback (data balikan) batches lives in other "
                   "services and is not part of this answer; it holds the processing trail of your data from the "
                   "audit log")
ACTIONS = {"read": "membaca", "query": "menelusuri", "export": "mengekspor", "download": "mengunduh",
           "match": "mencocokkan", "upload": "mengunggah", "select": "memilih untuk ekstrak",
           "release-key": "membuka kata sandi paket", "refusal": "percobaan ditolak", "erase": "menghapus"}
OUTCOMES = {"allowed": "diizinkan", "denied": "ditolak"}

_BASE = ParagraphStyle("base", fontName="Helvetica", fontSize=9.5, leading=13)
_S = {
    "title": ParagraphStyle("title", parent=_BASE, fontName="Helvetica-Bold", fontSize=14, leading=18,
                            alignment=TA_CENTER),
    "subtitle": ParagraphStyle("subtitle", parent=_BASE, alignment=TA_CENTER),
    "h1": ParagraphStyle("h1", parent=_BASE, fontName="Helvetica-Bold", fontSize=11, leading=15, spaceBefore=8,
                         spaceAfter=3, textColor=colors.HexColor("#1f3b63")),
    "body": ParagraphStyle("body", parent=_BASE, spaceAfter=4),
    "notice": ParagraphStyle("notice", parent=_BASE, backColor=colors.HexColor("#fff4d6"), borderPadding=4,
                             spaceBefore=4, spaceAfter=8),
    "cell": ParagraphStyle("cell", parent=_BASE, fontSize=7.5, leading=9.5),
    "head": ParagraphStyle("head", parent=_BASE, fontName="Helvetica-Bold", fontSize=7.5, leading=9,
                           textColor=colors.white),
}
HEAD_BG = colors.HexColor("#1f3b63")


def _p(text: str, style: str = "body") -> Paragraph:
    return Paragraph(text, _S[style])


def wib(value: datetime | str | None) -> str:
    """An instant as a Jakarta date and time, e.g. "2026-03-02 10:00 WIB"."""
    if value is None:
        return "-"
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.astimezone(WIB).strftime("%Y-%m-%d %H:%M WIB")


def _footer(label: str) -> FooterDrawer:
    def draw(c: Canvas, page: int, total: int) -> None:
        c.setFont("Helvetica", 7.5)
        c.setFillColor(colors.HexColor("#8c1f28"))
        c.drawString(15 * mm, 8 * mm, "RAHASIA – hanya untuk subjek data yang bersangkutan (UU PDP Pasal 32)")
        c.setFillColor(colors.HexColor("#555555"))
        c.drawRightString(landscape(A4)[0] - 15 * mm, 8 * mm, f"{label} – halaman {page} dari {total}")

    return draw


def _table(rows: list[list[str]]) -> Table:
    header = ["No.", "Waktu", "Pihak", "Pelaku (peran)", "Layanan", "Tindakan", "Data", "Program", "Hasil",
              "Jumlah record", "Entri log"]
    data = [[_p(h, "head") for h in header]] + [[_p(_esc(v), "cell") for v in r] for r in rows]
    table = Table(data, colWidths=[w * mm for w in (10, 30, 22, 40, 20, 30, 44, 28, 17, 16, 14)], repeatRows=1)
    style = [("BACKGROUND", (0, 0), (-1, 0), HEAD_BG), ("VALIGN", (0, 0), (-1, -1), "TOP"),
             ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#b8c2d0"))]
    table.setStyle(TableStyle(style))
    return table


def _row(i: int, e: dict[str, Any], orgs: dict[str, str]) -> list[str]:
    roles = ", ".join(e.get("actor_roles") or [])
    data = f"{e.get('resource_type') or '-'} {e.get('resource_id') or ''}".strip()
    if e.get("bast_number"):
        data += f" (BAST {e['bast_number']})"
    return [str(i), wib(e["occurred_at"]), orgs.get(e.get("actor_org") or "", e.get("actor_org") or "-"),
            f"{e.get('actor_subject') or '-'}" + (f" ({roles})" if roles else ""), e.get("service") or "-",
            ACTIONS.get(e.get("action") or "", e.get("action") or e.get("event_type") or "-"), data,
            e.get("program") or "-", OUTCOMES.get(e.get("outcome") or "", e.get("outcome") or "-"),
            str(e.get("record_count") or 0), str(e.get("leaf_index"))]


def render(document: dict[str, Any]) -> bytes:
    """The PDF of a response document (service_layer.subject_response.document)."""
    request, parties = document["request"], document["parties"]
    orgs = {p["org"]: f"PIHAK {p['label']} ({p['org']})" for p in parties}
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=landscape(A4), leftMargin=15 * mm, rightMargin=15 * mm,
                            topMargin=14 * mm, bottomMargin=16 * mm,
                            title=f"Jawaban permintaan akses data pribadi {request['request_id']}",
                            author="Layanan audit P3KE", creator="p3ke-audit")
    trail = document["trail"]
    story: list[Any] = [
        _p(" – ".join(_esc(p["name"].upper()) for p in parties), "subtitle"),
        _p("JAWABAN ATAS PERMINTAAN AKSES DATA PRIBADI", "title"),
        _p("dan jejak pemrosesannya (Undang-Undang Nomor 27 Tahun 2022 tentang Pelindungan Data Pribadi, Pasal 32)",
           "subtitle"),
        Spacer(1, 3 * mm),
        _p(f"<b>Nomor permintaan:</b> {_esc(request['request_id'])} &nbsp; <b>Jenis:</b> "
           f"{_esc(KIND_LABELS[request['kind']])} &nbsp; <b>Diterima:</b> {wib(request['received_at'])} di "
           f"{_esc(request['office'])} &nbsp; <b>Batas waktu jawaban (3×24 jam):</b> {wib(request['due_at'])}"),
        _p(f"<b>Pemeriksaan identitas:</b> {_esc(IDENTITY_DOCUMENT_LABELS[request['identity_document']])}, diperiksa "
           f"oleh {_esc(request['identity_checked_by'])} ({_esc(request['intake_org'])}) pada "
           f"{wib(request['identity_checked_at'])}. Nomor dokumen tidak dicatat."),
        _p(f"<b>Rujukan subjek data (kunci HMAC, bukan NIK):</b> {_esc(request['subject_ref'])}"),
        _p(f"<b>Dibuat:</b> {wib(document['generated_at'])}"),
        _p(f"<b>Catatan:</b> {_esc(NOT_INCLUDED_ID)}.", "notice"),
        _p("Jejak pemrosesan data pribadi Anda", "h1"),
        _p(f"Setiap akses atas data pribadi Anda yang dicatat dalam log audit yang tidak dapat diubah (append-only, "
           f"pohon Merkle RFC 9162), termasuk percobaan yang ditolak dan penelusuran oleh petugas kepatuhan: "
           f"{len(trail)} entri. Setiap entri dapat dibuktikan terhadap checkpoint log yang ditandatangani melalui "
           f"nomor entrinya (GET /v1/entries/&lt;entri log&gt;)."
           + ("" if document["trail_complete"] else " Jejak ini terpotong pada batas ekspor; mintalah sisanya.")),
    ]
    if trail:
        story.append(_table([_row(i, e, orgs) for i, e in enumerate(trail, start=1)]))
    else:
        story.append(_p("Tidak ada akses atas data pribadi Anda yang tercatat dalam log audit."))
    story += [Spacer(1, 4 * mm),
              _p("Berkas JSON yang menyertai dokumen ini memuat data yang sama dalam bentuk yang dapat dibaca mesin "
                 "(response.json). / The accompanying JSON file holds the same in machine-readable form.", "body")]
    doc.build(story, canvasmaker=page_total_canvas(_footer(f"Permintaan {request['request_id']}"), "Canvas"))
    return buffer.getvalue()
