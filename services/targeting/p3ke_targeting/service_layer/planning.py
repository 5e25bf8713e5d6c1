"""Planning: how many people a set of criteria would reach, as aggregate counts only.

Like the P3KE portal's aggregate download: counts by region and desil, no names. Party 1 (the data provider)
sees exact counts. Party 2 sees protected counts, as statistical offices protect their table builders
(`domain/cell_key.py`): cell-key perturbation, suppression of cells under the minimum after perturbation,
rounding to 5, a limited set of dimensions (`domain/plan_dimensions.py`) and a daily query budget
(`plan_budget.py`). No exact total is given to party 2 either.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session

from p3ke_schemas import ExtractCriteria
from p3ke_targeting.adapters import duckdb_selection
from p3ke_targeting.adapters.duckdb_selection import LedgerGroup
from p3ke_targeting.domain import cell_key
from p3ke_targeting.domain.eligibility import ProgramRule
from p3ke_targeting.domain.layout import REGION_LEVELS
from p3ke_targeting.domain.selection import resolve
from p3ke_targeting.service_layer import working_copies
from p3ke_targeting.service_layer.context import Context
from p3ke_targeting.service_layer.datasets import dataset_row, usable_snapshot
from p3ke_targeting.service_layer.extracts import delivered_count, keyed_ledgers


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
    protection: str  # "exact" (party 1) or "cell-key" (party 2)
    min_cell: int | None
    rounding_base: int | None
    cells: list[Cell]
    total_shown: int
    suppressed_cells: int
    excludes_earlier_recipients: bool
    matched: int  # for the audit record only, never returned to party 2


def record_key_secret(ctx: Context) -> str:
    """The secret behind the record keys: derived from the subject hash key the perturbation was first built with
    (`Settings.perturbation_secret`: key k1, or P3KE_PERTURBATION_KEY), so it is as protected as the audit log's
    subject references, the same across snapshots, processes and rotations of the subject hash key, but not equal
    to it, so a record key cannot be computed from a subject reference."""
    return hashlib.sha256(b"p3ke-targeting-record-key:" + ctx.settings.perturbation_secret.encode()).hexdigest()


def protect(rows: list[tuple[str, int, int, int]], min_cell: int) -> list[Cell]:
    cells = []
    for region, desil, n, ckey in rows:
        shown = cell_key.protect(n, ckey, min_cell)
        cells.append(Cell(region, desil, shown.count, shown.suppressed))
    return cells


def plan(ctx: Context, session: Session, *, program: str, criteria: ExtractCriteria,
         dataset_version_id: str | None, group_by: str, today: date, protected: bool,
         added: ProgramRule | None = None) -> Plan:
    """Raises Invalid (bad criteria, unknown dataset) or SnapshotError."""
    dataset = dataset_row(session, dataset_version_id)
    selection = resolve(criteria, program, ctx.rules, ctx.region_codes, default_reference=today, added=added)
    snapshot = usable_snapshot(ctx, dataset, sorted(selection.columns))
    s = ctx.settings
    ledgers: list[LedgerGroup] = []
    excluding = selection.exclude_delivered
    if excluding:
        if delivered_count(session, program) <= s.targeting_plan_exclusion_max:
            ledgers, _ = keyed_ledgers(ctx, session, program)
        else:
            excluding = False
    bounds = (s.targeting_duckdb_threads, s.targeting_duckdb_memory, Path(s.data_dir) / "tmp")
    with ctx.duckdb.connect(*bounds) as con, working_copies.rows(ctx, con, bounds, dataset) as source:
        rows = duckdb_selection.plan_counts(con, snapshot=snapshot, selection=selection,
                                            digits=REGION_LEVELS[group_by], ledgers=ledgers,
                                            record_key_secret=record_key_secret(ctx) if protected else None,
                                            source=source)
    if protected:
        cells = protect(rows, s.targeting_min_cell)
    else:
        cells = [Cell(region, desil, n, False) for region, desil, n, _ in rows]
    return Plan(dataset_version_id=dataset["dataset_version_id"], program=program,
                rules_version=ctx.rules.rules_version, reference_date=selection.reference_date, group_by=group_by,
                protection="cell-key" if protected else "exact",
                min_cell=s.targeting_min_cell if protected else None,
                rounding_base=cell_key.ROUNDING_BASE if protected else None,
                cells=cells, total_shown=sum(c.count or 0 for c in cells),
                suppressed_cells=sum(c.suppressed for c in cells), excludes_earlier_recipients=excluding,
                matched=sum(n for _, _, n, _ in rows))
