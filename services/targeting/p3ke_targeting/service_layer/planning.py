"""Planning: how many people a set of criteria would reach, as aggregate counts only.

Like the P3KE portal's aggregate download: counts by region and desil, no names, and every cell
below the minimum (10 by default) suppressed so nobody can be singled out. No exact total is given
either, since a total minus the shown cells would reveal a lone suppressed cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session

from p3ke_platform import duckdb_engine
from p3ke_schemas import ExtractCriteria
from p3ke_targeting.adapters import duckdb_selection
from p3ke_targeting.domain.layout import REGION_LEVELS
from p3ke_targeting.domain.selection import resolve
from p3ke_targeting.service_layer.context import Context
from p3ke_targeting.service_layer.extracts import dataset_row, delivered_count, ledgers_for, usable_snapshot


@dataclass(frozen=True)
class Cell:
    region: str
    desil: int
    count: int | None  # None when suppressed
    suppressed: bool


@dataclass(frozen=True)
class Plan:
    dataset_version_id: str
    program: str
    rules_version: str
    reference_date: date
    group_by: str
    min_cell: int
    cells: list[Cell]
    total_shown: int
    suppressed_cells: int
    excludes_earlier_recipients: bool
    matched: int  # for the audit record only, never returned


def suppress(rows: list[tuple[str, int, int]], min_cell: int) -> list[Cell]:
    return [Cell(region, desil, None, True) if n < min_cell else Cell(region, desil, n, False)
            for region, desil, n in rows]


def plan(ctx: Context, session: Session, *, program: str, criteria: ExtractCriteria,
         dataset_version_id: str | None, group_by: str, today: date) -> Plan:
    """Raises Invalid (bad criteria, unknown dataset) or SnapshotError."""
    dataset = dataset_row(session, dataset_version_id)
    selection = resolve(criteria, program, ctx.rules, ctx.region_codes, default_reference=today)
    snapshot = usable_snapshot(ctx, dataset, sorted(selection.columns))
    s = ctx.settings
    ledgers: list[Path] = []
    excluding = selection.exclude_delivered
    if excluding:
        if delivered_count(session, program) <= s.targeting_plan_exclusion_max:
            ledgers, _ = ledgers_for(ctx, session, program)
        else:
            excluding = False
    with duckdb_engine.connect(s.targeting_duckdb_threads, s.targeting_duckdb_memory, Path(s.data_dir) / "tmp") as con:
        rows = duckdb_selection.plan_counts(con, snapshot=snapshot, selection=selection,
                                            digits=REGION_LEVELS[group_by], hash_key=s.subject_hash_key,
                                            ledgers=ledgers)
    cells = suppress(rows, s.targeting_min_cell)
    return Plan(dataset_version_id=dataset["dataset_version_id"], program=program,
                rules_version=ctx.rules.rules_version, reference_date=selection.reference_date, group_by=group_by,
                min_cell=s.targeting_min_cell, cells=cells, total_shown=sum(c.count or 0 for c in cells),
                suppressed_cells=sum(c.suppressed for c in cells), excludes_earlier_recipients=excluding,
                matched=sum(n for _, _, n in rows))
