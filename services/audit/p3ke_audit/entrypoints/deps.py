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
from p3ke_audit.entrypoints.dto import CheckpointOut, IntegrityOut, VerificationOut
from p3ke_audit.service_layer import proofs
from p3ke_audit.service_layer.context import AuditContext
from p3ke_platform.api import refusal_answer, service_context
from p3ke_platform.auth import Principal, PrincipalDep
from p3ke_platform.refusal import Refused

ROLE = "compliance-auditor"

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
    answer = refusal_answer(ctx, principal, Refused(403, f"requires the {ROLE} role", rule="role"),
                            action="query", resource_type="audit-log", resource_id=request.url.path)
    return HTTPException(answer.status_code, f"requires one of the roles: {ROLE}", headers=answer.headers)


def auditor(request: Request, ctx: Ctx, principal: PrincipalDep) -> Principal:
    if ROLE not in principal.roles:
        raise refuse(ctx, principal, request)
    return principal


Auditor = Annotated[Principal, Depends(auditor)]


def integrity_status(session: Any) -> IntegrityOut:
    """The tree size, the latest signed checkpoint and the last full verification."""
    cp = proofs.latest_checkpoint(session)
    last = session.execute(select(verifications).order_by(verifications.c.id.desc()).limit(1)).mappings().first()
    return IntegrityOut(tree_size=proofs.tree_size(session), latest_checkpoint=CheckpointOut.of(cp) if cp else None,
                        last_verification=VerificationOut(**last) if last else None)
