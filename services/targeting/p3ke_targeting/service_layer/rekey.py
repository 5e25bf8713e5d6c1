"""Re-key targeting's recipient ledgers after a rotation of the subject hash key (`p3ke targeting rekey-ledgers`).

A ledger (`<data dir>/targeting/delivered/<extract id>.parquet`, the keyed references of the persons an extract
selected) keeps the key it was written with (`extracts.ledger_key_id`; NULL: `k1`). Given a pairs file of
`p3ke subject-keys pairs` (old key -> new key), every ledger still kept under the old key is rewritten under the new
one: its references mapped through the pairs in DuckDB, written sorted under a temporary name, flushed and renamed
over the ledger, then the row's `ledger_key_id` and `ledger_sha256` updated. A ledger with a reference the pairs
do not hold is refused and left as it was (its people would lose their exclusion). Restartable: a ledger an
interrupted run rewrote but did not record is recognised (all its references are new ones) and only recorded.

Only references cross; the log names extracts, keys and counts, never a reference.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select, update

from p3ke_platform.duckdb_engine import sql_path
from p3ke_platform.logging import get_logger
from p3ke_platform.shared_files import publish_file, sha256_file, temp_for
from p3ke_platform.subject_keys import (
    LEGACY_KEY_ID,
    Mapped,
    RefPairs,
    RekeyReport,
    check_new_key,
    rekey_files,
)
from p3ke_targeting.adapters.orm import disposal, extracts
from p3ke_targeting.service_layer.context import Context
from p3ke_targeting.service_layer.extracts import LEDGER_RESOURCE

log = get_logger(__name__)


def _targets(ctx: Context, old_key_id: str) -> list[tuple[str, Path]]:
    """(extract id, ledger) of every ledger written with `old_key_id` and not disposed of."""
    d, e = disposal.disposals.c, extracts.c
    disposed = select(d.resource_id).where(d.resource_type == LEDGER_RESOURCE)
    with ctx.sessions() as session:
        rows = session.execute(select(e.extract_id, e.ledger_uri)
                               .where(func.coalesce(e.ledger_key_id, LEGACY_KEY_ID) == old_key_id,
                                      e.extract_id.not_in(disposed))
                               .order_by(e.created_at, e.extract_id)).all()
    return [(str(extract_id), Path(uri)) for extract_id, uri in rows]


def rekey_ledgers(ctx: Context, pairs_file: Path, *, dry_run: bool = False) -> RekeyReport:
    """Re-key every recipient ledger kept under the pairs' old key to their new key; one outcome per ledger.
    Raises KeyRingError on a malformed pairs file or a new key outside the ring."""
    s = ctx.settings
    with ctx.duckdb.connect(s.targeting_duckdb_threads, s.targeting_duckdb_memory, Path(s.data_dir) / "tmp") as con:
        pairs = RefPairs(con, pairs_file)
        check_new_key(s.subject_key_ring, pairs.header)
        old, new = pairs.header.old_key_id, pairs.header.new_key_id
        targets = _targets(ctx, old)
        ledgers = dict(targets)

        def read(p: RefPairs, path: Path) -> Mapped:
            return p.map_parquet(path, "subject_ref")

        def write(path: Path) -> None:
            temp = temp_for(path)
            try:
                con.execute(f"COPY (SELECT ref AS subject_ref FROM rekeyed ORDER BY ref) TO '{sql_path(temp)}' "
                            "(FORMAT parquet, COMPRESSION zstd)")
                publish_file(temp, path)
            finally:
                temp.unlink(missing_ok=True)

        def record(extract_id: str) -> None:
            path = ledgers[extract_id]
            with ctx.sessions() as session, session.begin():
                session.execute(update(extracts).where(
                    extracts.c.extract_id == extract_id,
                    func.coalesce(extracts.c.ledger_key_id, LEGACY_KEY_ID) == old,
                ).values(ledger_key_id=new, ledger_sha256=sha256_file(path)))
            log.info("recipient ledger re-keyed", extract_id=extract_id, old_key_id=old, new_key_id=new)

        report = rekey_files(pairs, targets, read=read, write=write, record=record, dry_run=dry_run)
    for o in report.files:
        if o.outcome == "refused":
            log.warning("recipient ledger not re-keyed: references without a pair", extract_id=o.resource_id,
                        old_key_id=old, new_key_id=new, missing=o.missing)
    return report
