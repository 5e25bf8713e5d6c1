"""What targeting keeps, for the retention schedule (`p3ke_platform.retention`): each accepted extract's two files,
with the times of their life events, read from targeting's own tables.

- the extract (`extracts/<extract id>.parquet`, the selected persons with the allowed fields) is an `extract`
  (resource `extract`, as the audit log's `select` record names it); its events are the milestones of the handover
  made from it, as delivery reported them (`handover-milestone`: `package-downloaded`, `handover-revoked`,
  `purpose-ended`; see `milestones.py`);
- its recipient ledger (`targeting/delivered/<extract id>.parquet`, the keyed references of the selected persons,
  kept apart from the extract because it outlives it: it keeps a person from being selected twice for one program)
  is a `selection-ledger` (resource `selection-ledger`, the extract's id); no event of its own: the agreement's
  end (added by the schedule) makes it due.
Files no longer on disk are not listed: a disposed artefact leaves the inventory.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from p3ke_platform.retention import Artefact, Kind, Trigger
from p3ke_targeting.adapters.orm import extract_milestones, extracts
from p3ke_targeting.service_layer.context import Context
from p3ke_targeting.service_layer.extracts import LEDGER_RESOURCE as LEDGER

EXTRACT = "extract"
"""The extract's resource type, as the audit log's `select` and `erase` records name it (the ledger's: LEDGER)."""


def _utc(at: datetime) -> datetime:
    """Times as stored (SQLite gives them back without a zone: they were written in UTC)."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def milestones(ctx: Context) -> dict[str, dict[Trigger, datetime]]:
    """The recorded milestones of every extract: extract id -> trigger -> when."""
    m = extract_milestones.c
    out: dict[str, dict[Trigger, datetime]] = defaultdict(dict)
    with ctx.sessions() as session:
        for extract_id, milestone, at in session.execute(select(m.extract_id, m.milestone, m.occurred_at)):
            out[extract_id][Trigger(milestone)] = _utc(at)
    return out


def _artefacts(ctx: Context) -> Iterator[Artefact]:
    e = extracts.c
    with ctx.sessions() as session:
        rows = session.execute(select(e.extract_id, e.file_uri, e.file_sha256, e.ledger_uri, e.ledger_sha256)
                               .order_by(e.created_at, e.extract_id)).all()
    events = milestones(ctx)
    for extract_id, file_uri, file_sha, ledger_uri, ledger_sha in rows:
        path = Path(file_uri)
        if path.is_file():
            yield Artefact(kind=Kind.EXTRACT, resource_type=EXTRACT, resource_id=extract_id, path=path,
                           sha256=file_sha, events=dict(events.get(extract_id, {})))
        ledger = Path(ledger_uri)
        if ledger.is_file():
            yield Artefact(kind=Kind.SELECTION_LEDGER, resource_type=LEDGER, resource_id=extract_id, path=ledger,
                           sha256=ledger_sha)


def artefacts(ctx: Context) -> list[Artefact]:
    """Every extract file and recipient ledger targeting keeps, with its life events."""
    return list(_artefacts(ctx))
