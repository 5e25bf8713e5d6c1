"""The agreement's word on each step of a handover that moves data, asked at that step's moment.

Delivery acts for party 1 (Art. 4(1): party 1 decides what leaves) with its own service account, as targeting
does: it prepares the package (`prepare-extract`) and releases it (`release-package`); party 2's officer
receives it (`download-package`, asked in release.py with the caller's own roles). Each question names the
handover's program, purpose and fields, so a program the parties added lawfully (written approval, Art. 10(2);
addendum, Art. 14) passes exactly when the policy says so, and an expired agreement stops the first step it
reaches. A refusal is audited (`refusal` of the `handover`, outcome denied, the reason Indonesian first).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from p3ke_delivery.domain.refusals import Step, refusal
from p3ke_delivery.service_layer.context import DeliveryContext
from p3ke_platform.agreement import Decision
from p3ke_platform.unit_of_work import UnitOfWork
from p3ke_schemas import Actor

SERVICE_SUBJECT = "urn:p3ke:service:delivery"
SERVICE_ROLES = ("data-steward",)
"""The role of party 1 that prepares and releases packages (the agreement's `roles`)."""


class StepRefused(Exception):
    """The policy refused a step; `reason` is what the handover and the audit log say (Indonesian first)."""

    def __init__(self, decision: Decision, reason: str) -> None:
        super().__init__(reason)
        self.decision = decision
        self.reason = reason
        self.rule = decision.rule


def service_actor(ctx: DeliveryContext, at: datetime) -> Actor:
    """Delivery's service account, of party 1 as the terms on the day name it."""
    org = ctx.policy.terms_at(at).party(1).org
    return Actor(org=org, subject=SERVICE_SUBJECT, roles=list(SERVICE_ROLES), service_account=True)  # type: ignore[arg-type]


def check(ctx: DeliveryContext, action: str, step: Step, *, program: str, purpose: str | None,
          fields: Iterable[str], at: datetime, org: str | None = None,
          roles: Iterable[str] = SERVICE_ROLES) -> Decision:
    """Ask the policy whether `org` with `roles` (default: delivery itself, for party 1) may do `action` now;
    raise StepRefused if not."""
    org = org or ctx.policy.terms_at(at).party(1).org
    decision = ctx.policy.decide(org, roles, action, program, list(fields), at=at, purpose=purpose)
    if not decision.allowed:
        raise StepRefused(decision, refusal(step, decision, ctx.policy.terms_at(at), program=program, purpose=purpose))
    return decision


def record_refusal(ctx: DeliveryContext, uow: UnitOfWork, refused: StepRefused, *, handover_id: str,
                   agreement_id: str, program: str, purpose: str | None, record_count: int, at: datetime) -> None:
    """The refused step in the audit log, in the transaction that records the handover's status."""
    uow.record_access(actor=service_actor(ctx, at), action="refusal", resource_type="handover",
                      resource_id=handover_id, outcome="denied", reason=refused.reason, at=at,
                      record_count=record_count, agreement_id=agreement_id, program=program, purpose=purpose)
