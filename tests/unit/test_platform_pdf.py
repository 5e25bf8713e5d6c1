"""p3ke_platform.pdf: markup-safe text, and footers that know how many pages the document has."""

from __future__ import annotations

import io

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

from p3ke_platform.pdf import escape_markup, page_total_canvas


def test_escape_markup_keeps_text_literal() -> None:
    assert escape_markup("A & B <b>x</b> > 1") == "A &amp; B &lt;b&gt;x&lt;/b&gt; &gt; 1"
    assert escape_markup("&amp;") == "&amp;amp;"
    assert escape_markup("plain") == "plain"


def test_every_page_gets_its_number_and_the_total() -> None:
    calls: list[tuple[int, int]] = []

    def footer(c: Canvas, page: int, total: int) -> None:
        calls.append((page, total))
        c.drawString(20, 20, f"halaman {page} dari {total}")

    style = ParagraphStyle("p")
    story = [Paragraph(escape_markup("Satu & <dua>"), style), PageBreak(), Paragraph("Dua", style), PageBreak(),
             Paragraph("Tiga", style)]
    buffer = io.BytesIO()
    canvas_class = page_total_canvas(footer, "TestCanvas")
    SimpleDocTemplate(buffer, pagesize=A4, pageCompression=0).build(story, canvasmaker=canvas_class)
    assert canvas_class.__name__ == "TestCanvas" and issubclass(canvas_class, Canvas)
    assert calls == [(1, 3), (2, 3), (3, 3)]
    pdf = buffer.getvalue()
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") >= 3
    for page in (1, 2, 3):
        assert f"halaman {page} dari 3".encode() in pdf


def test_each_class_is_independent() -> None:
    first = page_total_canvas(lambda c, page, total: None)
    second = page_total_canvas(lambda c, page, total: None)
    assert first is not second and first.__name__ == "PageTotalCanvas"
