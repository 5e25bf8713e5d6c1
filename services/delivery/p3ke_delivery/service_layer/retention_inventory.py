"""What delivery keeps, for the retention schedule (`p3ke_platform.retention`), read from delivery's own tables:

- each handover's package (`handovers/<id>/<package>.zip`, the ZIP encrypted under the handover's data key) is a
  `package` (resource `package`, the handover's id, as the audit log's `download` records name it); its events
  are the handover's milestones (`milestones.py`): `package-downloaded` (the first download), `handover-revoked`,
  `purpose-ended`;
- its subject-reference file (`handovers/<id>/subject-refs.txt`, the keyed references of the persons the package
  holds, written while it was built; `adapters/subjects.py`) is a `subject-references` (resource
  `subject-references`, the handover's id). `indexed-disposed`: when the package it indexes was disposed of (the
  disposal job's `done` row), or, for a package that left without one, when the handover was revoked (revocation
  deletes the package and destroys its key) or ended without being built. `disposal-certified`: when party 2's
  disposal certificate was accepted (`disposal_certificates.py`); a handover that was never signed released
  nothing, so no certificate is owed: its references may go as soon as the package has.

Files no longer on disk are not listed: a disposed artefact leaves the inventory. The BAST and the disposal
certificate PDFs name no data subject and are kept as the record of the handover.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from p3ke_delivery.adapters import subjects
from p3ke_delivery.adapters.orm import disposal, disposal_certificates, handovers
from p3ke_delivery.domain.model import ENDED, Status
from p3ke_delivery.service_layer.context import DeliveryContext
from p3ke_platform.retention import Artefact, Kind, Trigger

PACKAGE = "package"
"""The package's resource type, as the audit log's `download` and `erase` records name it."""
SUBJECT_REFERENCES = "subject-references"
"""The subject-reference file's resource type."""


def _utc(at: datetime | None) -> datetime | None:
    """Times as stored (SQLite gives them back without a zone: they were written in UTC)."""
    if at is None:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _rows(ctx: DeliveryContext) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]], dict[str, datetime]]:
    h, c, d = handovers.c, disposal_certificates.c, disposal.disposals.c
    with ctx.sessions() as session:
        rows = [dict(r) for r in session.execute(select(
            h.handover_id, h.status, h.package_file, h.package_sha256, h.downloaded_at, h.revoked_at, h.signed_at,
            h.updated_at).order_by(h.created_at, h.handover_id)).mappings()]
        certs = {r["handover_id"]: dict(r) for r in session.execute(select(
            c.handover_id, c.purpose_ended_at, c.certified_at)).mappings()}
        disposed = {r[0]: _utc(r[1]) for r in session.execute(select(d.resource_id, d.disposed_at).where(
            d.resource_type == PACKAGE, d.state == "done"))}
    return rows, certs, {k: v for k, v in disposed.items() if v is not None}


def _package_gone_at(ctx: DeliveryContext, row: dict[str, Any], disposed: dict[str, datetime]) -> datetime | None:
    """When the package the references index left (None: it is still kept, or the handover is still open)."""
    handover_id = row["handover_id"]
    if handover_id in disposed:
        return disposed[handover_id]
    if row["package_file"] and ctx.storage.located(handover_id, row["package_file"]).is_file():
        return None
    if row["status"] == Status.REVOKED:
        return _utc(row["revoked_at"])
    if row["status"] in ENDED:  # failed or refused: no package was ever released
        return _utc(row["updated_at"])
    return None


def _artefacts(ctx: DeliveryContext) -> Iterator[Artefact]:
    rows, certs, disposed = _rows(ctx)
    for row in rows:
        handover_id = row["handover_id"]
        cert = certs.get(handover_id, {})
        if row["package_file"]:
            path = ctx.storage.located(handover_id, row["package_file"])
            if path.is_file():
                events = {Trigger.PACKAGE_DOWNLOADED: _utc(row["downloaded_at"]),
                          Trigger.HANDOVER_REVOKED: _utc(row["revoked_at"]),
                          Trigger.PURPOSE_ENDED: _utc(cert.get("purpose_ended_at"))}
                yield Artefact(kind=Kind.PACKAGE, resource_type=PACKAGE, resource_id=handover_id, path=path,
                               sha256=row["package_sha256"], events={t: at for t, at in events.items() if at})
        refs = ctx.storage.located(handover_id, subjects.REFS_FILE)
        if refs.is_file():
            gone = _package_gone_at(ctx, row, disposed)
            certified = _utc(cert.get("certified_at"))
            if certified is None and row["signed_at"] is None and gone is not None:
                certified = gone  # never signed: nothing was handed over, no certificate is owed
            events = {Trigger.INDEXED_DISPOSED: gone, Trigger.DISPOSAL_CERTIFIED: certified}
            yield Artefact(kind=Kind.SUBJECT_REFERENCES, resource_type=SUBJECT_REFERENCES, resource_id=handover_id,
                           path=refs, events={t: at for t, at in events.items() if at})


def artefacts(ctx: DeliveryContext) -> list[Artefact]:
    """Every package and subject-reference file delivery keeps, with its life events."""
    return list(_artefacts(ctx))
