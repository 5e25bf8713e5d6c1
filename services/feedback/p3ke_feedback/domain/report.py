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

Two views (`MatchView`): party 1 sees every match class and the desil of served persons who were not
handed over; party 2 sees `HandoverClass` only, served persons not handed over in desil "0" (no desil
of theirs from the snapshot), and its counts below the minimum cell suppressed as published reports are
(`protect`, which shares `suppress_group` and `suppress_desil` with `publish_row`).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from p3ke_feedback.domain.vocabulary import HANDOVER_CLASS, MatchClass, MatchView, Status, class_keys

Granularity = Literal["month", "quarter", "year", "all"]
Level = Literal["national", "province", "regency"]
LEVEL_DIGITS: dict[str, int] = {"national": 0, "province": 2, "regency": 4}
DESIL_KEYS = ("1", "2", "3", "4", "0")  # "0": not known (not in P3KE; for party 2: not handed over)
CLASS_KEYS: tuple[str, ...] = tuple(c.value for c in MatchClass)
STATUS_KEYS: tuple[str, ...] = tuple(s.value for s in Status)
_CLASS_COLUMNS = tuple((k, f"cls_{k}") for k in CLASS_KEYS)
_HANDOVER_COLUMNS = tuple((HANDOVER_CLASS[MatchClass(k)].value, f"cls_{k}") for k in CLASS_KEYS)
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
    hidden: frozenset[str] = frozenset()
    """Counts suppressed (`protect`): their value here is 0 and `shown` gives None. Keys: a measure name,
    `class:<k>`, `status:<k>`, `desil:<k>:<measure>`."""

    @classmethod
    def empty(cls, view: MatchView = MatchView.P3KE) -> Figures:
        return cls(by_class=dict.fromkeys(class_keys(view), 0))

    def like(self) -> Figures:
        """Empty figures with the same match classes (the same view)."""
        return Figures(by_class=dict.fromkeys(self.by_class, 0))

    def shown(self, key: str) -> int | None:
        """A count as it may be shown: None when suppressed."""
        if key in self.hidden:
            return None
        if key.startswith("class:"):
            return self.by_class[key[6:]]
        if key.startswith("status:"):
            return self.by_status[key[7:]]
        if key.startswith("desil:"):
            _, desil, measure = key.split(":")
            return int(getattr(self.by_desil[desil], measure))
        return int(getattr(self, key))

    @property
    def coverage(self) -> float | None:
        if self.hidden & {"served_in_extract", "delivered"}:
            return None
        return ratio(self.served_in_extract, self.delivered)

    @property
    def share_desil_1(self) -> float | None:
        if self.hidden & {"served_desil_1", "served"}:
            return None
        return ratio(self.served_desil_1, self.served)

    def desil_coverage(self, key: str) -> float | None:
        if self.hidden & {f"desil:{key}:served_in_extract", f"desil:{key}:delivered"}:
            return None
        d = self.by_desil[key]
        return ratio(d.served_in_extract, d.delivered)

    def add_cell(self, desil: int, cell: Mapping[str, Any], view: MatchView = MatchView.P3KE) -> None:
        """Add one cell (the measures of report_cells) of the given desil. In party 2's view (`handover`) the
        classes are merged and a served person not handed over counts in desil "0", whatever the snapshot says."""
        delivered, served, in_extract = int(cell["delivered"]), int(cell["served"]), int(cell["served_in_extract"])
        coarse = view == MatchView.HANDOVER
        self.delivered += delivered
        self.served += served
        self.served_in_extract += in_extract
        if desil == 1:
            self.served_desil_1 += in_extract if coarse else served
        self.rows += int(cell["rows"])
        self.rejected += int(cell["rejected"])
        self.benefit_value += int(cell["benefit_value"])
        by_class, by_status = self.by_class, self.by_status
        for key, column in (_HANDOVER_COLUMNS if coarse else _CLASS_COLUMNS):
            by_class[key] += int(cell[column])
        for key, column in _STATUS_COLUMNS:
            by_status[key] += int(cell[column])
        d = self.by_desil[str(desil) if 0 <= desil <= 4 else "0"]
        d.delivered += delivered
        d.served_in_extract += in_extract
        if coarse:
            d.served += in_extract
            self.by_desil["0"].served += served - in_extract
        else:
            d.served += served

    def add(self, other: Figures) -> None:
        for name in ("delivered", "served", "served_in_extract", "served_desil_1", "rows", "rejected",
                     "benefit_value"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for k, v in other.by_class.items():
            self.by_class[k] = self.by_class.get(k, 0) + v
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
    view: MatchView = MatchView.P3KE
    min_cell: int | None = None  # party 2: counts 1..min_cell-1 suppressed where shown (`shown`); party 1: None

    @property
    def class_keys(self) -> tuple[str, ...]:
        return class_keys(self.view)

    def shown(self, figures: Figures) -> Figures:
        """Figures as this report's reader may see them: exact for party 1, small cells suppressed for party 2.
        Apply it to what is displayed, after any adding up (suppression does not add up)."""
        return figures if self.min_cell is None else protect(figures, self.min_cell)


def group(cells: Iterable[Mapping[str, Any]], granularity: Granularity, level: Level, names: Any,
          view: MatchView = MatchView.P3KE) -> list[Row]:
    """Cells (program, period, region prefix, desil + measures) into report rows, in `view`."""
    rows: dict[tuple[str, str, str], Row] = {}
    for cell in cells:
        key = (cell["program"], bucket(cell["period"], granularity), cell["region"])
        row = rows.get(key)
        if row is None:
            name = "Nasional" if level == "national" else names(key[2])
            row = rows[key] = Row(key[0], key[1], key[2], name, Figures.empty(view))
        row.figures.add_cell(int(cell["desil"]), cell, view)
    return [rows[k] for k in sorted(rows)]


def totals(rows: Iterable[Row]) -> list[Row]:
    out: dict[str, Row] = {}
    for row in rows:
        total = out.setdefault(row.program, Row(row.program, "all", "", "Nasional", row.figures.like()))
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


def suppress_desil(figures: Figures, min_cell: int) -> dict[str, dict[str, int | None]]:
    """The published measures by desil ("1".."4", "0") and "all", small cells suppressed (`suppress_group`)."""
    shown: dict[str, dict[str, int | None]] = {k: {} for k in (*DESIL_KEYS, "all")}
    for measure in PUBLISHED_MEASURES:
        parts, total = suppress_group({k: getattr(d, measure) for k, d in figures.by_desil.items()},
                                      getattr(figures, measure), min_cell)
        for k, v in parts.items():
            shown[k][measure] = v
        shown["all"][measure] = total
    return shown


def protect(figures: Figures, min_cell: int) -> Figures:
    """Figures with counts 1..min_cell-1 suppressed as published reports suppress them (primary and secondary,
    within each group that adds up to a shown total: by desil, by class, by status). A suppressed count is 0
    in the copy and listed in `hidden`; a sum of money over suppressed persons is suppressed with them."""
    hidden: set[str] = set()
    out = Figures(by_class=dict(figures.by_class), by_status=dict(figures.by_status),
                  by_desil={k: DesilFigures(**vars(d)) for k, d in figures.by_desil.items()})
    for k, values in suppress_desil(figures, min_cell).items():
        for measure, v in values.items():
            if v is None:
                hidden.add(measure if k == "all" else f"desil:{k}:{measure}")
    groups = (("class", figures.by_class, figures.rows), ("status", figures.by_status, figures.served))
    for prefix, values, total in groups:
        parts, _ = suppress_group(values, total, min_cell)
        hidden.update(f"{prefix}:{k}" for k, v in parts.items() if v is None)
    for name in ("rows", "rejected"):
        if 0 < getattr(figures, name) < min_cell:
            hidden.add(name)
    if "desil:1:served" in hidden:
        hidden.add("served_desil_1")
    if "served" in hidden:
        hidden.add("benefit_value")
    for name in ("delivered", "served", "served_in_extract", "served_desil_1", "rows", "rejected", "benefit_value"):
        setattr(out, name, 0 if name in hidden else getattr(figures, name))
    for key in hidden:
        if key.startswith("class:"):
            out.by_class[key[6:]] = 0
        elif key.startswith("status:"):
            out.by_status[key[7:]] = 0
        elif key.startswith("desil:"):
            _, desil, measure = key.split(":")
            setattr(out.by_desil[desil], measure, 0)
    out.hidden = frozenset(hidden)
    return out


def publish_row(row: Row, min_cell: int) -> PublishedRow:
    shown = suppress_desil(row.figures, min_cell)
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
