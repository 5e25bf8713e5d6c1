"""Plumbing for the PDFs the services lay out with reportlab: text made safe for paragraph markup, a
canvas whose footers know the total page count ("halaman 2 dari 7"), and the mark of a test document.

A document made while the agreement's example records are loaded (P3KE_AGREEMENT_INCLUDE_EXAMPLES, a terms
version such as `pks-p3ke-2023+example-add-1`) is not an official document and must say so on every page:
`marked_as_test` draws a diagonal *CONTOH / BUKAN DOKUMEN RESMI* across each page and a caption naming the
example terms (`common:test_document`) above it. Every document (BAST, disposal certificate, M&E report) uses it,
so they all look the same.

reportlab is a dependency of the services that write PDFs, not of the platform: it is imported when a
canvas class is made.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from p3ke_platform.i18n import Lang, t

if TYPE_CHECKING:
    from reportlab.pdfgen.canvas import Canvas

_MM = 72 / 25.4  # points per millimetre (reportlab.lib.units.mm, without importing reportlab here)

FooterDrawer = Callable[["Canvas", int, int], None]
"""Draws one page's footer on the canvas, given the page number and the total number of pages."""

TEST_MARK_RGB = (0.70, 0.08, 0.12)
"""The colour of the test-document mark (a dark red, drawn translucent over the page)."""


def escape_markup(text: str) -> str:
    """`text` as literal text inside reportlab paragraph markup (`&`, `<` and `>` escaped)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def page_total_canvas(draw_footer: FooterDrawer, name: str = "PageTotalCanvas") -> type[Canvas]:
    """A canvas class (for `doc.build(..., canvasmaker=...)`) that keeps every page until the document is
    complete, then calls `draw_footer(canvas, page, total)` on each page before writing it out."""
    from reportlab.pdfgen.canvas import Canvas

    class PageTotalCanvas(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                draw_footer(self, self.getPageNumber(), total)
                super().showPage()
            super().save()

    PageTotalCanvas.__name__ = PageTotalCanvas.__qualname__ = name
    return PageTotalCanvas


def test_document_caption(example_terms: str, lang: Lang = "id") -> str:
    """`CONTOH / BUKAN DOKUMEN RESMI: dibuat dari ketentuan contoh <terms>` (`common:test_document`)."""
    return t("common", "test_document", lang, terms=example_terms)


def draw_test_watermark(c: Canvas, example_terms: str) -> None:
    """Draw the test-document mark on the canvas's current page: `CONTOH / BUKAN DOKUMEN RESMI` diagonally across
    the page, translucent so the text under it stays legible, and at the top the caption naming the example terms
    the document was made from, in Indonesian then English."""
    width, height = c._pagesize
    mark = t("common", "test_document.mark", "id")
    c.saveState()
    c.setFillColorRGB(*TEST_MARK_RGB)
    c.setFillAlpha(0.16)
    c.translate(width / 2, height / 2)
    c.rotate(math.degrees(math.atan2(height, width)))
    size = min(44.0, 0.62 * math.hypot(width, height) / max(1.0, c.stringWidth(mark, "Helvetica-Bold", 1)))
    c.setFont("Helvetica-Bold", size)
    # a marked span with an empty ActualText: text extraction (poppler, screen readers, copy and paste) skips the
    # diagonal letters, which would otherwise be scattered among the page's lines; the caption says it in words
    c.addLiteral("/Span <</ActualText ()>> BDC")
    c.drawCentredString(0, -size / 3, mark)
    c.addLiteral("EMC")
    c.restoreState()
    c.saveState()
    c.setFillColorRGB(*TEST_MARK_RGB)
    c.setFont("Helvetica-Bold", 7.5)
    c.drawCentredString(width / 2, height - 9 * _MM, test_document_caption(example_terms, "id"))
    c.setFont("Helvetica", 6.5)
    c.drawCentredString(width / 2, height - 12 * _MM, test_document_caption(example_terms, "en"))
    c.restoreState()


def marked_as_test(draw_footer: FooterDrawer, example_terms: str | None) -> FooterDrawer:
    """`draw_footer`, and on every page the test-document mark (`draw_test_watermark`) when `example_terms` names
    the example terms the document was made from; `draw_footer` itself when it is None (a real document)."""
    if not example_terms:
        return draw_footer

    def draw(c: Canvas, page: int, total: int) -> None:
        draw_footer(c, page, total)
        draw_test_watermark(c, example_terms)

    return draw
