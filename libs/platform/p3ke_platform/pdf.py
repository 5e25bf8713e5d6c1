"""Plumbing for the PDFs the services lay out with reportlab: text made safe for paragraph markup, and
a canvas whose footers know the total page count ("halaman 2 dari 7").

reportlab is a dependency of the services that write PDFs, not of the platform: it is imported when a
canvas class is made.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reportlab.pdfgen.canvas import Canvas

FooterDrawer = Callable[["Canvas", int, int], None]
"""Draws one page's footer on the canvas, given the page number and the total number of pages."""


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
