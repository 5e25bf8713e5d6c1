"""Re-key delivery's subject-reference files after a rotation of the subject hash key
(`p3ke delivery rekey-subject-refs`).

A handover's `subject-refs.txt` (the keyed references of the persons its package holds, one a line) keeps the key
it was written with (`handovers.subject_key_id`; NULL: `k1`). Given a pairs file of `p3ke subject-keys pairs`
(old key -> new key), every such file still under the old key is rewritten under the new one: its references mapped
through the pairs in DuckDB, in the file's order, written under a temporary name (mode 0600), flushed and renamed
over the file, then the handover's `subject_key_id` updated. A file with a reference the pairs do not hold is
refused and left as it was (that person's downloads would drop out of their trail). Restartable: a file an
interrupted run rewrote but did not record is recognised (all its references are new ones) and only recorded.

Only references cross; the log names handovers, keys and counts, never a reference.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import func, select, update

from p3ke_delivery.adapters import subjects
from p3ke_delivery.adapters.orm import handovers
from p3ke_delivery.service_layer.context import DeliveryContext
from p3ke_platform.duckdb_engine import sql_path
from p3ke_platform.logging import get_logger
from p3ke_platform.shared_files import publish_file, temp_for
from p3ke_platform.subject_keys import (
    LEGACY_KEY_ID,
    REFUSED,
    Mapped,
    RefPairs,
    RekeyReport,
    check_new_key,
    rekey_files,
)

log = get_logger(__name__)

DUCKDB_THREADS = 2
DUCKDB_MEMORY = "1GB"
"""Bounds of the join of a file's references with the pairs (DuckDB spills to `<storage dir>/tmp` beyond them)."""


def _targets(ctx: DeliveryContext, old_key_id: str) -> list[tuple[str, Path]]:
    """(handover id, subject-reference file) of every handover whose file was written with `old_key_id`."""
    h = handovers.c
    with ctx.sessions() as session:
        ids = session.scalars(select(h.handover_id)
                              .where(func.coalesce(h.subject_key_id, LEGACY_KEY_ID) == old_key_id)
                              .order_by(h.created_at, h.handover_id)).all()
    return [(str(i), ctx.storage.located(str(i), subjects.REFS_FILE)) for i in ids]


def rekey_subject_refs(ctx: DeliveryContext, pairs_file: Path, *, dry_run: bool = False) -> RekeyReport:
    """Re-key every subject-reference file kept under the pairs' old key to their new key; one outcome per
    handover whose record names the old key (`absent` where no file was kept). Raises KeyRingError on a malformed
    pairs file or a new key outside the ring."""
    s = ctx.settings
    with ctx.duckdb.connect(DUCKDB_THREADS, DUCKDB_MEMORY, s.storage_dir / "tmp") as con:
        pairs = RefPairs(con, pairs_file)
        check_new_key(s.subject_key_ring, pairs.header)
        old, new = pairs.header.old_key_id, pairs.header.new_key_id

        def read(p: RefPairs, path: Path) -> Mapped:
            return p.map_lines(path)

        def write(path: Path) -> None:
            temp = temp_for(path)
            try:
                con.execute(f"COPY (SELECT ref FROM rekeyed ORDER BY ord) TO '{sql_path(temp)}' "
                            "(FORMAT csv, HEADER false, QUOTE '')")
                if not temp.exists():  # no reference: DuckDB may write nothing
                    temp.touch()
                os.chmod(temp, 0o600)
                publish_file(temp, path)
            finally:
                temp.unlink(missing_ok=True)

        def record(handover_id: str) -> None:
            with ctx.sessions() as session, session.begin():
                session.execute(update(handovers).where(
                    handovers.c.handover_id == handover_id,
                    func.coalesce(handovers.c.subject_key_id, LEGACY_KEY_ID) == old,
                ).values(subject_key_id=new))
            log.info("subject references re-keyed", handover_id=handover_id, old_key_id=old, new_key_id=new)

        report = rekey_files(pairs, _targets(ctx, old), read=read, write=write, record=record, dry_run=dry_run)
    for o in report.files:
        if o.outcome == REFUSED:
            log.warning("subject references not re-keyed: references without a pair", handover_id=o.resource_id,
                        old_key_id=old, new_key_id=new, missing=o.missing)
    return report
