"""Report charts as PNG or SVG, drawn with matplotlib's Agg backend (no display, no pyplot state).

Labels are Indonesian, like the M&E report that embeds them. Charts show aggregates only, as the report's
reader may see them (`Report.shown`: party 2's small cells suppressed, drawn as nothing).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from typing import Literal

import matplotlib

matplotlib.use("Agg")  # before anything imports pyplot: never a display backend in a service

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from p3ke_feedback.domain.report import DESIL_KEYS, Figures, Report
from p3ke_feedback.domain.vocabulary import PROGRAM_TITLES_ID, MatchView, class_labels_id

ChartFormat = Literal["png", "svg"]
CHARTS = ("coverage", "desil", "classes", "timeliness")
MEDIA_TYPES = {"png": "image/png", "svg": "image/svg+xml"}
_lock = threading.Lock()  # matplotlib's font cache and text layout are not thread-safe
COLORS = {"delivered": "#c9d6e8", "served": "#1f4e8c", "1": "#8c1f28", "2": "#d0612a", "3": "#e8b44a",
          "4": "#8fb573", "0": "#9a9a9a"}
DESIL_LABELS = {"1": "Desil 1", "2": "Desil 2", "3": "Desil 3", "4": "Desil 4", "0": "Tidak di P3KE"}
DESIL_0_HANDOVER = "Di luar data diserahkan / tanpa desil"
CLASS_COLORS = {"in_extract": "#1f4e8c", "in_p3ke_not_delivered": "#e8b44a", "not_in_p3ke": "#8c1f28",
                "not_in_handover": "#d0612a", "invalid_nik": "#9a9a9a", "duplicate": "#c9d6e8"}


def desil_labels(report: Report) -> dict[str, str]:
    return DESIL_LABELS if report.view == MatchView.P3KE else {**DESIL_LABELS, "0": DESIL_0_HANDOVER}


def _program_label(code: str) -> str:
    return PROGRAM_TITLES_ID.get(code, code)


def _render(fig: Figure, fmt: ChartFormat) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=150, bbox_inches="tight", metadata={"Date": None} if fmt == "svg" else None)
    return buffer.getvalue()


def _empty(ax: object, text: str = "Belum ada data untuk periode ini") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=11, color="#666666")  # type: ignore[attr-defined]
    ax.set_axis_off()  # type: ignore[attr-defined]


def _by_region(report: Report, top: int) -> list[tuple[str, Figures]]:
    merged: dict[str, tuple[str, Figures]] = {}
    for row in report.rows:
        merged.setdefault(row.region, (row.region_name, row.figures.like()))[1].add(row.figures)
    ranked = sorted(merged.values(), key=lambda nf: -(nf[1].delivered or nf[1].served))
    return [(name, report.shown(f)) for name, f in ranked[:top]]


def coverage(report: Report, fmt: ChartFormat, top: int = 15) -> bytes:
    """Delivered and served (in the extract) per region, with the coverage."""
    regions = _by_region(report, top)
    fig = Figure(figsize=(8, 0.42 * max(len(regions), 4) + 1.2))
    ax = fig.add_subplot()
    if not regions:
        _empty(ax)
    else:
        names = [n[:28] for n, _ in regions][::-1]
        delivered = [f.delivered for _, f in regions][::-1]
        served = [f.served_in_extract for _, f in regions][::-1]
        shares = [f.coverage for _, f in regions][::-1]
        ys = range(len(names))
        ax.barh(ys, delivered, color=COLORS["delivered"], label="Diserahkan (BAST)")
        ax.barh(ys, served, height=0.5, color=COLORS["served"], label="Dilayani, dari data yang diserahkan")
        for y, (d, s, share) in enumerate(zip(delivered, served, shares, strict=True)):
            if share is not None:
                ax.text(max(d, s), y, f"  {100 * share:.1f}%", va="center", fontsize=8)
        ax.set_yticks(list(ys), names, fontsize=8)
        ax.set_xlabel("Jumlah orang")
        ax.legend(loc="lower right", fontsize=8)
        ax.spines[["top", "right"]].set_visible(False)
    ax.set_title("Cakupan: data diserahkan dan penerima yang dilayani", fontsize=11)
    return _render(fig, fmt)


def desil(report: Report, fmt: ChartFormat) -> bytes:
    """Served persons by desil, per program (stacked)."""
    fig = Figure(figsize=(8, 4))
    ax = fig.add_subplot()
    if not report.totals or not any(t.figures.served for t in report.totals):
        _empty(ax)
    else:
        programs = [(t.program, report.shown(t.figures)) for t in report.totals]
        labels = [_program_label(p) for p, _ in programs]
        left = [0] * len(programs)
        names = desil_labels(report)
        for key in DESIL_KEYS:
            values = [f.by_desil[key].served for _, f in programs]
            ax.barh(labels, values, left=left, color=COLORS[key], label=names[key])
            left = [a + b for a, b in zip(left, values, strict=True)]
        for y, (_, f) in enumerate(programs):
            share = f.share_desil_1
            if share is not None:
                ax.text(left[y], y, f"  desil 1: {100 * share:.1f}%", va="center", fontsize=8)
        ax.set_xlabel("Penerima yang dilayani (orang)")
        ax.legend(fontsize=8, ncol=5, loc="upper center", bbox_to_anchor=(0.5, -0.18), frameon=False)
        ax.spines[["top", "right"]].set_visible(False)
    ax.set_title("Penerima manfaat menurut desil kesejahteraan", fontsize=11)
    return _render(fig, fmt)


def classes(report: Report, fmt: ChartFormat) -> bytes:
    """Rows of data balikan by match class, per program (stacked)."""
    fig = Figure(figsize=(8, 4))
    ax = fig.add_subplot()
    if not report.totals or not any(t.figures.rows for t in report.totals):
        _empty(ax)
    else:
        labels = [_program_label(t.program) for t in report.totals]
        shown = [report.shown(t.figures) for t in report.totals]
        left = [0] * len(labels)
        for cls, label in class_labels_id(report.view).items():
            values = [f.by_class[cls] for f in shown]
            ax.barh(labels, values, left=left, color=CLASS_COLORS[cls], label=label)
            left = [a + b for a, b in zip(left, values, strict=True)]
        ax.set_xlabel("Baris data balikan")
        ax.legend(fontsize=7.5, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.18), frameon=False)
        ax.spines[["top", "right"]].set_visible(False)
    ax.set_title("Hasil pencocokan data balikan", fontsize=11)
    return _render(fig, fmt)


def timeliness(report: Report, fmt: ChartFormat) -> bytes:
    """Handovers with feedback, awaiting it, overdue; per program."""
    merged: dict[str, list[int]] = {}
    for t in report.timeliness:
        counts = merged.setdefault(t.program, [0, 0, 0])
        counts[0] += t.with_feedback
        counts[1] += t.awaiting
        counts[2] += t.overdue
    fig = Figure(figsize=(8, 3.6))
    ax = fig.add_subplot()
    if not merged:
        _empty(ax, "Belum ada serah terima untuk periode ini")
    else:
        labels = [_program_label(p) for p in merged]
        left = [0] * len(labels)
        series = (("Sudah ada data balikan", "#1f4e8c"), ("Menunggu", "#e8b44a"),
                  (f"Terlambat (> {report.overdue_days} hari)", "#8c1f28"))
        for i, (label, color) in enumerate(series):
            values = [c[i] for c in merged.values()]
            ax.barh(labels, values, left=left, color=color, label=label)
            left = [a + b for a, b in zip(left, values, strict=True)]
        ax.set_xlabel("Jumlah serah terima (BAST)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=8, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.22), frameon=False)
        ax.spines[["top", "right"]].set_visible(False)
    ax.set_title("Ketepatan waktu data balikan", fontsize=11)
    return _render(fig, fmt)


_CHARTS: dict[str, Callable[[Report, ChartFormat], bytes]] = {
    "coverage": coverage, "desil": desil, "classes": classes, "timeliness": timeliness,
}


def render(name: str, report: Report, fmt: ChartFormat) -> bytes:
    # a fixed salt: the same figures give the same SVG (its element ids are otherwise random)
    with _lock, matplotlib.rc_context({"svg.fonttype": "none", "font.family": "DejaVu Sans", "svg.hashsalt": "p3ke"}):
        return _CHARTS[name](report, fmt)
