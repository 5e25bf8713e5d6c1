"""The answer to a data subject's access request (UU PDP Art. 32) as a PDF in Indonesian: the request, how the
identity was checked, and the person's processing trail from the audit log (who accessed their data, when, for
which program and with what outcome), each entry named by its leaf in the log so it can be proven.

Laid out with reportlab through p3ke_platform.pdf, as the services' other documents. A full bundle (scope `full`)
also holds the person's record as each source service keeps it (the snapshot, the extracts, the data balikan): a
section per artefact with its fields as a table. The document says plainly what it does not hold: a trail-only
bundle (the GET endpoints) lacks the records, and a source that could not be asked is named, the bundle marked
incomplete. No full NIK: the person is named by the request number and keyed reference.
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

NOT_INCLUDED_ID = ("data pribadi dari layanan lain belum disertakan: berkas ini hanya memuat jejak pemrosesan data "
                   "Anda dari log audit; data Anda sebagaimana tercatat dalam snapshot Data P3KE, dalam ekstrak yang "
                   "diserahkan, dan dalam data balikan disertakan dalam berkas lengkap (POST "
                   "/v1/subject-requests/{id}/response dengan NIK di badan permintaan)")
NOT_INCLUDED_EN = ("personal data held by other services is not included: this file holds only the processing trail "
                   "of your data from the audit log; your record as held in the P3KE snapshot, in the extracts handed "
                   "over and in the feedback (data balikan) batches is in the full bundle (POST "
                   "/v1/subject-requests/{id}/response with the NIK in the body)")
SOURCE_LABELS = {"ingest": "Data P3KE (snapshot) – layanan ingest",
                 "delivery": "Ekstrak yang diserahkan – layanan delivery",
                 "feedback": "Data balikan – layanan feedback"}
RECORDS_TITLE = "Data pribadi Anda yang disimpan"
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
    "h2": ParagraphStyle("h2", parent=_BASE, fontName="Helvetica-Bold", fontSize=10, leading=13, spaceBefore=6,
                         spaceAfter=2),
    "h3": ParagraphStyle("h3", parent=_BASE, fontName="Helvetica-Bold", fontSize=9, leading=12, spaceBefore=4,
                         spaceAfter=2),
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


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "Ya" if value else "Tidak"
    return str(value)


def _fields_table(fields: dict[str, Any]) -> Table:
    """A record's fields two per row: column, value, column, value."""
    items = [(k.replace("_", " "), _value(v)) for k, v in fields.items()]
    if len(items) % 2:
        items.append(("", ""))
    head = [_p(h, "head") for h in ("Kolom", "Nilai", "Kolom", "Nilai")]
    rows = [[_p(_esc(c), "cell") for c in (*items[i], *items[i + 1])] for i in range(0, len(items), 2)]
    table = Table([head, *rows], colWidths=[w * mm for w in (50, 83, 50, 84)], repeatRows=1)
    table.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, 0), HEAD_BG), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#b8c2d0"))]))
    return table


def _records(document: dict[str, Any]) -> list[Any]:
    """The person's records, a section per source and a sub-section per artefact (full bundles only)."""
    story: list[Any] = [_p(RECORDS_TITLE, "h1")]
    for source in document["records"]:
        story.append(_p(_esc(SOURCE_LABELS.get(source["source"], f"Layanan {source['source']}")), "h2"))
        if source["status"] != "answered":
            story.append(_p(f"<b>Tidak dapat ditanyai:</b> {_esc(source['problem'] or '-')}", "notice"))
            continue
        if not source["records"]:
            story.append(_p("Layanan ini tidak menyimpan data Anda. / This service holds no data about you."))
        for record in source["records"]:
            state = "terkini" if record["current"] else "lama, masih disimpan"
            story += [_p(f"{_esc(record['title'])}", "h3"),
                      _p(f"{_esc(record['resource_type'])} {_esc(record['resource_id'])} · disimpan sejak "
                         f"{wib(record['held_since'])} · {state}"),
                      _fields_table(record["fields"])]
    return story


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
        _p("<b>Status berkas:</b> " + ("LENGKAP / complete" if document["complete"] else
                                       "TIDAK LENGKAP / incomplete")
           + (" – hanya jejak pemrosesan / trail only" if document["scope"] == "trail-only" else "")),
    ]
    missing = document["not_included"]
    if missing:
        story.append(_p(f"<b>Catatan:</b> {_esc(missing['id'])}. / {_esc(missing['en'])}.", "notice"))
    if document["scope"] == "full":
        story += _records(document)
    story += [
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
