"""The running aggregates: report cells (program x period x regency x desil), kept up to date in the
same transaction as the change that moves them.

Why database rows and not faust tables: every change that moves a figure already commits in a
database transaction (a handover settled by the inbox, a batch stored by the API), and the inbox makes
that transaction exactly-once; adding to the cells there keeps them exactly-once too, with no
changelog topics to create, secure and replay. The API process reads them with one indexed query, on
SQLite and PostgreSQL alike, while a faust table lives in the worker process only. Additions are
`INSERT ... ON CONFLICT DO UPDATE SET x = x + excluded.x`, safe under concurrent transactions.

`recompute` rebuilds the same figures from what is stored (delivered cells of settled handovers, the
matched-rows files of current batches), so a test or an operator can check the running totals.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from p3ke_feedback.adapters.orm import (
    batch_cells,
    delivered_cells,
    feedback_batches,
    promotions,
    report_cells,
    signed_handovers,
)
from p3ke_feedback.domain.cells import CELL_MEASURES, REPORT_MEASURES
from p3ke_platform.duckdb_engine import sql_path

KEY = ("program", "period", "region", "desil")


def _upsert_add(session: Session, table: Table, keys: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table)
    measures = [c for c in rows[0] if c not in keys]
    stmt = stmt.on_conflict_do_update(index_elements=list(keys),
                                      set_={m: table.c[m] + stmt.excluded[m] for m in measures})
    session.execute(stmt, rows)


def add_delivered(session: Session, program: str, period: str, cells: Iterable[tuple[str, int, int]]) -> None:
    rows = [{"program": program, "period": period, "region": r, "desil": d, "delivered": n} for r, d, n in cells]
    _upsert_add(session, report_cells, KEY, rows)


def add_batch(session: Session, program: str, period: str, cells: Iterable[Mapping[str, Any]], sign: int = 1) -> None:
    """Add (sign 1) or take away (sign -1) a batch's cells."""
    rows = [{"program": program, "period": period, "region": c["region"], "desil": int(c["desil"]),
             **{m: sign * int(c[m]) for m in CELL_MEASURES}} for c in cells]
    _upsert_add(session, report_cells, KEY, rows)


def add_batch_cells(session: Session, batch_id: str, cells: Iterable[Mapping[str, Any]]) -> None:
    rows = [{"batch_id": batch_id, "region": c["region"], "desil": int(c["desil"]),
             **{m: int(c[m]) for m in CELL_MEASURES}} for c in cells]
    _upsert_add(session, batch_cells, ("batch_id", "region", "desil"), rows)


def promotion_delta(region: str, desil: int, base_class: str, status: str | None,
                    benefit: int | None) -> dict[str, Any]:
    """What counting a stored duplicate changes in its cell: one duplicate fewer, one served more."""
    delta: dict[str, Any] = {"region": region, "desil": desil, **dict.fromkeys(CELL_MEASURES, 0)}
    delta["cls_duplicate"] = -1
    delta[f"cls_{base_class}"] += 1
    delta["served"] = 1
    delta["served_in_extract"] = int(base_class == "in_extract")
    if status:
        delta[f"st_{status}"] = 1
    delta["benefit_value"] = benefit or 0
    return delta


def batch_cell_rows(session: Session, batch_id: str) -> list[dict[str, Any]]:
    return [dict(r) for r in session.execute(select(batch_cells).where(batch_cells.c.batch_id == batch_id)).mappings()]


def current_cells(session: Session) -> dict[tuple[Any, ...], dict[str, int]]:
    """The running aggregates as stored (cells that are all zero left out)."""
    out: dict[tuple[Any, ...], dict[str, int]] = {}
    for row in session.execute(select(report_cells)).mappings():
        values = {m: int(row[m]) for m in REPORT_MEASURES}
        if any(values.values()):
            out[tuple(row[k] for k in KEY)] = values
    return out


def recompute(session: Session, storage: Path) -> dict[tuple[Any, ...], dict[str, int]]:
    """The same figures rebuilt from the stored rows: delivered cells of settled handovers, and the
    matched-rows files of the current batches, grouped again with DuckDB."""
    out: dict[tuple[Any, ...], dict[str, int]] = {}

    def cell(key: tuple[Any, ...]) -> dict[str, int]:
        return out.setdefault(key, dict.fromkeys(REPORT_MEASURES, 0))

    delivered = session.execute(
        select(signed_handovers.c.program, signed_handovers.c.period, delivered_cells.c.region,
               delivered_cells.c.desil, delivered_cells.c.delivered)
        .join(delivered_cells, delivered_cells.c.handover_id == signed_handovers.c.handover_id)
        .where(signed_handovers.c.delivered_state == "settled")).all()
    for program, period, region, desil, n in delivered:
        cell((program, period, region, int(desil)))["delivered"] += int(n)
    batches = session.execute(select(feedback_batches.c.batch_id, feedback_batches.c.program,
                                     feedback_batches.c.period, feedback_batches.c.directory)
                              .where(feedback_batches.c.status == "current")).all()
    promoted = session.execute(select(promotions.c.batch_id, promotions.c.row)).all()
    if batches:
        import duckdb
        import pyarrow as pa

        con = duckdb.connect()
        try:
            files = {str(storage / d / "rows.parquet"): (b, p, per) for b, p, per, d in batches}
            con.register("batch_files", pa.table({"filename": list(files), "batch_id": [v[0] for v in files.values()],
                                                  "program": [v[1] for v in files.values()],
                                                  "period": [v[2] for v in files.values()]}))
            con.register("promoted", pa.table({"batch_id": [b for b, _ in promoted],
                                               "row": pa.array([int(r) for _, r in promoted], pa.int64())}))
            classes = ", ".join(f"count(*) FILTER (class = '{c}') AS cls_{c}"
                                for c in (m[4:] for m in CELL_MEASURES if m.startswith("cls_")))
            statuses = ", ".join(f"count(*) FILTER (served AND status = '{s}') AS st_{s}"
                                 for s in (m[3:] for m in CELL_MEASURES if m.startswith("st_")))
            paths = ", ".join(f"'{sql_path(Path(p))}'" for p in files)
            relation = con.sql(f"""
                WITH r AS (
                    SELECT f.program, f.period, r.region, r.desil, r.rejected, r.status, r.nilai_manfaat,
                           CASE WHEN p.row IS NOT NULL THEN r.base_class ELSE r.class END AS class,
                           r.served OR p.row IS NOT NULL AS served
                    FROM read_parquet([{paths}], filename=true) r JOIN batch_files f ON f.filename = r.filename
                    LEFT JOIN promoted p ON p.batch_id = f.batch_id AND p.row = r.row)
                SELECT program, period, region, CAST(desil AS INTEGER) AS desil, count(*) AS rows,
                       count(*) FILTER (rejected) AS rejected, {classes}, count(*) FILTER (served) AS served,
                       count(*) FILTER (served AND class = 'in_extract') AS served_in_extract, {statuses},
                       coalesce(sum(nilai_manfaat) FILTER (served), 0) AS benefit_value
                FROM r GROUP BY ALL""")
            names = relation.columns
            for row in relation.fetchall():
                values = dict(zip(names, row, strict=True))
                target = cell((values["program"], values["period"], values["region"], values["desil"]))
                for m in CELL_MEASURES:
                    target[m] += int(values[m])
        finally:
            con.close()
    return {k: v for k, v in out.items() if any(v.values())}

