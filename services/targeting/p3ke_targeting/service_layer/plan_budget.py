"""The per-caller budget of protected planning queries (`P3KE_TARGETING_PLAN_QUERIES_PER_DAY` per Jakarta day).

Even with cell-key perturbation, an unlimited number of queries is an unlimited number of chances to combine
answers; so each caller of party 2 has a daily budget, charged before a query is computed (a query that then
fails validation still counts: it was asked). One row per caller and day; the charge is a single conditional
UPDATE (`used < limit`), so two concurrent queries cannot both take the last unit, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from p3ke_platform.agreement import WIB
from p3ke_platform.auth import Principal
from p3ke_platform.refusal import Refused, messages
from p3ke_targeting.adapters.orm import plan_budget
from p3ke_targeting.service_layer.context import Context

RULE = "plan-budget"
M = messages("targeting")


@dataclass(frozen=True)
class Charged:
    used: int
    limit: int
    day: date

    def describe(self) -> str:
        return f"planning budget {self.used}/{self.limit} used on {self.day} (Jakarta day)"


def charge(ctx: Context, principal: Principal, day: date, now: datetime) -> Charged:
    """Take one query from the caller's budget for `day`, or raise `Refused` (429) when it is spent."""
    limit = ctx.settings.targeting_plan_queries_per_day
    for attempt in range(2):  # a concurrent first query of the day may insert the row between our update and insert
        try:
            with ctx.unit_of_work() as uow:
                used = _take(uow.session, principal, day, now, limit)
        except IntegrityError:
            if attempt:
                raise
            continue
        if used is not None:
            return Charged(used, limit, day)
        break
    tomorrow = datetime.combine(day + timedelta(days=1), datetime.min.time(), WIB)
    raise Refused(429, M("plan.budget_spent", limit=limit, day=day.isoformat(), retry_at=tomorrow.isoformat()),
                  rule=RULE)


def _take(session: Session, principal: Principal, day: date, now: datetime, limit: int) -> int | None:
    """The caller's count for the day after taking one, or None when none is left."""
    key = ((plan_budget.c.caller_org == principal.org) & (plan_budget.c.caller_subject == principal.subject)
           & (plan_budget.c.day == day))
    taken = session.execute(update(plan_budget).where(key & (plan_budget.c.used < limit))
                            .values(used=plan_budget.c.used + 1, updated_at=now)).rowcount
    if taken:
        return int(session.scalar(select(plan_budget.c.used).where(key)) or 0)
    if limit <= 0 or session.scalar(select(plan_budget.c.used).where(key)) is not None:
        return None
    session.execute(insert(plan_budget).values(caller_org=principal.org, caller_subject=principal.subject, day=day,
                                               used=1, updated_at=now))
    return 1
