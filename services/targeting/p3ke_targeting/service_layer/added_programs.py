"""Eligibility for a program the parties added lawfully (written approval of party 1, Art. 10(2); addendum,
Art. 14): the rules file has the four programs of Art. 3; a program without an entry there is selected by the
eligibility its approval or addendum states (`Policy.eligibility_for`), checked against the rules file's
vocabularies when the request is decided, so an unknown column or value is a clear refusal, not an empty list."""

from __future__ import annotations

from datetime import datetime

from p3ke_targeting.domain.eligibility import ProgramRule
from p3ke_targeting.domain.selection import Invalid
from p3ke_targeting.service_layer.context import Context


def added_rule(ctx: Context, program: str, at: datetime, purpose: str | None) -> ProgramRule | None:
    """The rule for `program` from the agreement when the rules file has none (None: the file has one, or the
    agreement states none, which `resolve` refuses). Raises Invalid when the stated eligibility is unusable."""
    if ctx.rules.rule_for(program) is not None:
        return None
    eligibility = ctx.policy.eligibility_for(program, at, purpose)
    if eligibility is None:
        return None
    source = next((f"written approval {a.id}" for a in ctx.policy.agreement.approvals
                   if a.program == program and a.eligibility == eligibility), f"the terms of program {program}")
    try:
        return ctx.rules.added_rule(program, eligibility.model_dump(mode="json"), source)
    except ValueError as exc:
        raise Invalid(str(exc)) from None
