"""The report figures, as pure Python: grouping cells, derived ratios, periods, and the small-cell
suppression of what is published.

Definitions (the same in the JSON report, the CSV export, the charts and the M&E PDF):
- delivered: persons handed over in signed handovers (their BAST's month is the period);
- served: persons reported in current feedback batches without errors, each counted once (not a
  duplicate, a valid NIK), whatever their match class; attributed to the handover's period;
- coverage: served persons who were in the handover's extract / delivered;
- share of desil 1: served persons in desil 1 / served persons (those not in P3KE have no desil);
- time to feedback: days from the BAST's signing to the first batch of the handover;
- overdue: a signed handover without any batch after the configured number of days.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from p3ke_feedback.domain.vocabulary import MatchClass, Status

Granularity = Literal["month", "quarter", "year", "all"]
Level = Literal["national", "province", "regency"]
LEVEL_DIGITS: dict[str, int] = {"national": 0, "province": 2, "regency": 4}
DESIL_KEYS = ("1", "2", "3", "4", "0")  # "0": not known (not in P3KE)
CLASS_KEYS: tuple[str, ...] = tuple(c.value for c in MatchClass)
STATUS_KEYS: tuple[str, ...] = tuple(s.value for s in Status)
_CLASS_COLUMNS = tuple((k, f"cls_{k}") for k in CLASS_KEYS)
_STATUS_COLUMNS = tuple((k, f"st_{k}") for k in STATUS_KEYS)


def bucket(period: str, granularity: Granularity) -> str:
    """A month `YYYY-MM` in the requested granularity: `YYYY-MM`, `YYYY-Qn`, `YYYY` or `all` (a period
    already in that granularity stays as it is)."""
    if granularity == "month" or period == "all" or (granularity == "year" and len(period) == 4):
        return period
    if granularity == "quarter":
        return f"{period[:4]}-Q{(int(period[5:7]) - 1) // 3 + 1}"
    if granularity == "year":
        return period[:4]
    return "all"


def ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


@dataclass
class DesilFigures:
    delivered: int = 0
    served: int = 0
    served_in_extract: int = 0


@dataclass
class Figures:
    delivered: int = 0
    served: int = 0
    served_in_extract: int = 0
    served_desil_1: int = 0
    rows: int = 0
    rejected: int = 0
    benefit_value: int = 0
    by_class: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CLASS_KEYS, 0))
    by_status: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUS_KEYS, 0))
    by_desil: dict[str, DesilFigures] = field(default_factory=lambda: {k: DesilFigures() for k in DESIL_KEYS})

    @property
    def coverage(self) -> float | None:
        return ratio(self.served_in_extract, self.delivered)

    @property
    def share_desil_1(self) -> float | None:
        return ratio(self.served_desil_1, self.served)

    def add_cell(self, desil: int, cell: Mapping[str, Any]) -> None:
        """Add one cell (the measures of report_cells) of the given desil."""
        delivered, served, in_extract = int(cell["delivered"]), int(cell["served"]), int(cell["served_in_extract"])
        self.delivered += delivered
        self.served += served
        self.served_in_extract += in_extract
        if desil == 1:
            self.served_desil_1 += served
        self.rows += int(cell["rows"])
        self.rejected += int(cell["rejected"])
        self.benefit_value += int(cell["benefit_value"])
        by_class, by_status = self.by_class, self.by_status
        for key, column in _CLASS_COLUMNS:
            by_class[key] += int(cell[column])
        for key, column in _STATUS_COLUMNS:
            by_status[key] += int(cell[column])
        d = self.by_desil[str(desil) if 0 <= desil <= 4 else "0"]
        d.delivered += delivered
        d.served += served
        d.served_in_extract += in_extract

    def add(self, other: Figures) -> None:
        for name in ("delivered", "served", "served_in_extract", "served_desil_1", "rows", "rejected",
                     "benefit_value"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for k, v in other.by_class.items():
            self.by_class[k] += v
        for k, v in other.by_status.items():
            self.by_status[k] += v
        for k, d in other.by_desil.items():
            mine = self.by_desil[k]
            mine.delivered += d.delivered
            mine.served += d.served
            mine.served_in_extract += d.served_in_extract


@dataclass
class Row:
    program: str
    period: str
    region: str
    region_name: str
    figures: Figures


@dataclass
class Timeliness:
    program: str
    period: str
    handovers: int = 0
    with_feedback: int = 0
    overdue: int = 0
    awaiting: int = 0  # no feedback yet, not overdue
    days: list[float] = field(default_factory=list)

    @property
    def median_days(self) -> float | None:
        return round(statistics.median(self.days), 1) if self.days else None

    @property
    def mean_days(self) -> float | None:
        return round(statistics.fmean(self.days), 1) if self.days else None

    @property
    def max_days(self) -> float | None:
        return round(max(self.days), 1) if self.days else None


@dataclass(frozen=True)
class OverdueHandover:
    handover_id: str
    bast_number: str | None
    program: str
    signed_at: datetime
    days_without_feedback: int


@dataclass
class Report:
    generated_at: datetime
    program: str | None
    start: str | None
    end: str | None
    level: Level
    granularity: Granularity
    overdue_days: int
    rows: list[Row]
    totals: list[Row]  # per program, all periods and regions of the report
    timeliness: list[Timeliness]
    overdue: list[OverdueHandover]
    unsettled_handovers: int = 0  # handovers whose delivered counts are not in the figures yet


def group(cells: Iterable[Mapping[str, Any]], granularity: Granularity, level: Level, names: Any) -> list[Row]:
    """Cells (program, period, region prefix, desil + measures) into report rows."""
    rows: dict[tuple[str, str, str], Row] = {}
    for cell in cells:
        key = (cell["program"], bucket(cell["period"], granularity), cell["region"])
        row = rows.get(key)
        if row is None:
            name = "Nasional" if level == "national" else names(key[2])
            row = rows[key] = Row(key[0], key[1], key[2], name, Figures())
        row.figures.add_cell(int(cell["desil"]), cell)
    return [rows[k] for k in sorted(rows)]


def totals(rows: Iterable[Row]) -> list[Row]:
    out: dict[str, Row] = {}
    for row in rows:
        total = out.setdefault(row.program, Row(row.program, "all", "", "Nasional", Figures()))
        total.figures.add(row.figures)
    return [out[k] for k in sorted(out)]


# --- publication: aggregates only, small cells suppressed -----------------------------------------

PUBLISHED_MEASURES = ("delivered", "served", "served_in_extract")


def suppress_group(values: dict[str, int], total: int, min_cell: int) -> tuple[dict[str, int | None], int | None]:
    """Primary suppression of counts 1..min_cell-1, then secondary: a total shown with exactly one
    suppressed part would reveal it, so the next smallest part (or the total) is suppressed too."""
    shown: dict[str, int | None] = {k: (None if 0 < v < min_cell else v) for k, v in values.items()}
    shown_total: int | None = None if 0 < total < min_cell else total
    hidden = [k for k, v in shown.items() if v is None]
    if shown_total is not None and len(hidden) == 1:
        others = sorted((v, k) for k, v in shown.items() if v)
        if others:
            shown[others[0][1]] = None
        else:
            shown_total = None
    return shown, shown_total


@dataclass
class PublishedCell:
    desil: str  # "1".."4", "0" (not in P3KE) or "all"
    delivered: int | None
    served: int | None
    served_in_extract: int | None
    coverage: float | None


@dataclass
class PublishedRow:
    program: str
    period: str
    region: str
    region_name: str
    cells: list[PublishedCell]
    share_desil_1: float | None


def publish_row(row: Row, min_cell: int) -> PublishedRow:
    by_desil = row.figures.by_desil
    shown: dict[str, dict[str, int | None]] = {k: {} for k in (*DESIL_KEYS, "all")}
    for measure in PUBLISHED_MEASURES:
        parts, total = suppress_group({k: getattr(d, measure) for k, d in by_desil.items()},
                                      getattr(row.figures, measure), min_cell)
        for k, v in parts.items():
            shown[k][measure] = v
        shown["all"][measure] = total
    cells = []
    for k in (*DESIL_KEYS, "all"):
        s = shown[k]
        delivered, served_in_extract = s["delivered"], s["served_in_extract"]
        coverage = (ratio(served_in_extract, delivered) if delivered is not None and served_in_extract is not None
                    else None)
        cells.append(PublishedCell(k, delivered, s["served"], served_in_extract, coverage))
    d1, total = shown["1"]["served"], shown["all"]["served"]
    share = ratio(d1, total) if d1 is not None and total is not None else None
    return PublishedRow(row.program, row.period, row.region, row.region_name, cells, share)
