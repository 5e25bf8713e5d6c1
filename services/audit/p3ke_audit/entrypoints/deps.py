"""What the audit API (api.py) and its web page (web.py) share: the service context, the auditor role,
the recording of compliance queries and of refused callers, and the integrity status.

Only the `compliance-auditor` role is served (both orgs). A caller without it is refused with 403 and
the attempt is itself recorded in the log (a `data-access` event, outcome denied); every allowed query
that returns log entries is recorded too (`record_query`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from sqlalchemy import select

from p3ke_audit.adapters.orm import verifications
from p3ke_audit.adapters.tree_store import StoredCheckpoint, TreeStore
from p3ke_audit.config import AuditSettings
from p3ke_audit.entrypoints.dto import CheckpointOut, IntegrityOut, VerificationOut, WitnessesOut, WitnessOut
from p3ke_audit.service_layer.context import AuditContext
from p3ke_audit.service_layer.witnessed import WitnessingStatus, verified_cosignatures, witnessing_status
from p3ke_platform.api import refusal_answer, service_context
from p3ke_platform.auth import Principal, PrincipalDep
from p3ke_platform.refusal import Refused, messages

ROLE = "compliance-auditor"
M = messages("audit")  # reasons in the caller's language (PO domain `audit`)

Ctx = Annotated[AuditContext, Depends(service_context)]


def record_query(ctx: AuditContext, principal: Principal, *, resource_id: str, count: int = 0,
                 action: str = "query", what: dict[str, str] | None = None, niks: Iterable[str] = ()) -> None:
    """An allowed compliance query, recorded in the log like any access (the data subjects asked for
    by their keyed hashes only), in its own transaction."""
    purpose = f"compliance query {json.dumps(what, sort_keys=True)}"[:2000] if what else None
    with ctx.unit_of_work() as uow:
        uow.record_access(actor=principal.actor(), action=action, resource_type="audit-log", resource_id=resource_id,
                          record_count=count, purpose=purpose, subject_niks=niks)


def refuse(ctx: AuditContext, principal: Principal, request: Request) -> HTTPException:
    """A caller without the auditor role: the attempt recorded (denied, with the reason), and the 403."""
    return refusal_answer(ctx, principal, Refused(403, M("role.auditor", roles=ROLE), rule="role"),
                          action="query", resource_type="audit-log", resource_id=request.url.path)


def auditor(request: Request, ctx: Ctx, principal: PrincipalDep) -> Principal:
    if ROLE not in principal.roles:
        raise refuse(ctx, principal, request)
    return principal


Auditor = Annotated[Principal, Depends(auditor)]


def checkpoint_out(session: Any, settings: AuditSettings, cp: StoredCheckpoint) -> CheckpointOut:
    """A checkpoint with its verified cosignatures and whether they make a quorum."""
    found = verified_cosignatures(TreeStore(session), cp, [e.witness for e in settings.audit_witnesses])
    return CheckpointOut.of(cp, found, settings.witness_quorum)


def integrity_status(session: Any, settings: AuditSettings, status: WitnessingStatus | None = None) -> IntegrityOut:
    """The tree size, the latest signed checkpoint (with its cosignatures), the last full verification and
    how much of the log is witnessed (`status`: the witnessing status if the caller has it already)."""
    status = status or witnessing_status(session, settings)
    cp = status.latest_checkpoint
    last = session.execute(select(verifications).order_by(verifications.c.id.desc()).limit(1)).mappings().first()
    return IntegrityOut(tree_size=status.tree_size,
                        latest_checkpoint=checkpoint_out(session, settings, cp) if cp else None,
                        last_verification=VerificationOut(**last) if last else None,
                        witnessed=status.latest_is_witnessed, latest_witnessed_size=status.latest_witnessed_size,
                        unwitnessed_entries=status.unwitnessed_entries)


def witnesses_status(session: Any, settings: AuditSettings, status: WitnessingStatus | None = None) -> WitnessesOut:
    """Every configured witness's state, and how much of the log a quorum of them cosigned."""
    status = status or witnessing_status(session, settings)
    witnessed = status.latest_witnessed
    return WitnessesOut(
        quorum=status.quorum, tree_size=status.tree_size,
        latest_checkpoint_size=status.latest_checkpoint.tree_size if status.latest_checkpoint else None,
        latest_witnessed_size=status.latest_witnessed_size,
        latest_witnessed_at=max(c.signed_at for c in witnessed.cosignatures) if witnessed else None,
        latest_witnessed_by=sorted(c.witness.name for c in witnessed.cosignatures) if witnessed else [],
        unwitnessed_entries=status.unwitnessed_entries,
        witnesses=[WitnessOut(**w.__dict__) for w in status.witnesses])
