"""Reports for both parties, read from the running aggregates (one grouped query) and the handovers, in the
reader's view (`service_layer.views`): party 2's with the match classes merged, persons not handed over
without a desil, and small cells suppressed where shown (`Report.shown`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from p3ke_feedback.adapters.orm import report_cells, signed_handovers
from p3ke_feedback.domain.cells import REPORT_MEASURES
from p3ke_feedback.domain.model import aware
from p3ke_feedback.domain.report import (
    LEVEL_DIGITS,
    Granularity,
    Level,
    OverdueHandover,
    Report,
    Timeliness,
    bucket,
    group,
    totals,
)
from p3ke_feedback.domain.vocabulary import MatchView
from p3ke_feedback.service_layer.context import Context


@dataclass(frozen=True)
class ReportQuery:
    program: str | None = None
    start: str | None = None  # first month, YYYY-MM (inclusive)
    end: str | None = None  # last month, YYYY-MM (inclusive)
    level: Level = "province"
    granularity: Granularity = "month"
    region: str | None = None  # only this region (code prefix)


def _cells(session: Session, q: ReportQuery) -> list[dict[str, object]]:
    c = report_cells.c
    digits = LEVEL_DIGITS[q.level]
    region = func.substr(c.region, 1, digits) if digits else literal("")
    conditions = []
    if q.program:
        conditions.append(c.program == q.program)
    if q.start:
        conditions.append(c.period >= q.start)
    if q.end:
        conditions.append(c.period <= q.end)
    if q.region:
        conditions.append(c.region.like(q.region + "%"))
    period: Any = c.period  # months are bucketed in SQL, so Python adds one row per cell of the answer
    if q.granularity == "year":
        period = func.substr(c.period, 1, 4)
    elif q.granularity == "all":
        period = literal("all")
    stmt = (select(c.program, period.label("period"), region.label("region"), c.desil,
                   *(func.sum(c[m]).label(m) for m in REPORT_MEASURES))
            .where(*conditions).group_by(c.program, period, region, c.desil))
    result = session.execute(stmt)
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result]


def _handovers(session: Session, q: ReportQuery) -> list[dict[str, object]]:
    h = signed_handovers.c
    conditions = [h.period.is_not(None)]
    if q.program:
        conditions.append(h.program == q.program)
    if q.start:
        conditions.append(h.period >= q.start)
    if q.end:
        conditions.append(h.period <= q.end)
    stmt = select(h.handover_id, h.bast_number, h.program, h.period, h.signed_at, h.first_feedback_at,
                  h.delivered_state).where(*conditions).order_by(h.signed_at)
    return [dict(r) for r in session.execute(stmt).mappings()]


def _timeliness(handovers: list[dict[str, object]], q: ReportQuery, now: datetime,
                overdue_days: int) -> tuple[list[Timeliness], list[OverdueHandover]]:
    out: dict[tuple[str, str], Timeliness] = {}
    overdue: list[OverdueHandover] = []
    for h in handovers:
        key = (str(h["program"]), bucket(str(h["period"]), q.granularity))
        t = out.setdefault(key, Timeliness(*key))
        t.handovers += 1
        signed = aware(h["signed_at"])  # type: ignore[arg-type]
        first = h["first_feedback_at"]
        if first is not None:
            t.with_feedback += 1
            t.days.append(max(0.0, (aware(first) - signed).total_seconds() / 86400))  # type: ignore[arg-type]
            continue
        age = (now - signed).days
        if age > overdue_days:
            t.overdue += 1
            overdue.append(OverdueHandover(str(h["handover_id"]), h["bast_number"], str(h["program"]),  # type: ignore[arg-type]
                                           signed, age))
        else:
            t.awaiting += 1
    return [out[k] for k in sorted(out)], sorted(overdue, key=lambda o: -o.days_without_feedback)


def build(ctx: Context, session: Session, q: ReportQuery, view: MatchView = MatchView.P3KE) -> Report:
    cells = _cells(session, q)
    rows = group(cells, q.granularity, q.level, ctx.regions.name, view)
    handovers = _handovers(session, q)
    now = ctx.clock()
    timeliness, overdue = _timeliness(handovers, q, now, ctx.settings.feedback_overdue_days)
    unsettled = sum(1 for h in handovers if h["delivered_state"] != "settled")
    return Report(generated_at=now, program=q.program, start=q.start, end=q.end, level=q.level,
                  granularity=q.granularity, overdue_days=ctx.settings.feedback_overdue_days, rows=rows,
                  totals=totals(rows), timeliness=timeliness, overdue=overdue, unsettled_handovers=unsettled,
                  view=view, min_cell=None if view == MatchView.P3KE else ctx.settings.feedback_min_cell)
