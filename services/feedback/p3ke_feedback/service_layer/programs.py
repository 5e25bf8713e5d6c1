"""Which programs feedback accepts: the programs of the agreement's terms (Art. 3, and those an addendum
added, Art. 14), and any program a handover was signed for (one party 1 approved in writing, Art. 10(2):
its extract was allowed and its BAST signed, so its data balikan and reports follow, even after the
approval's window, as the duties of Art. 7 outlive it)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from p3ke_feedback.adapters.orm import signed_handovers
from p3ke_feedback.service_layer.context import Context
from p3ke_platform.refusal import Refused, messages

M = messages("feedback")


def in_terms(ctx: Context, program: str) -> bool:
    return ctx.policy.terms_at(ctx.clock()).program(program) is not None


def policy_scope(ctx: Context, program: str | None) -> str | None:
    """The program to ask the agreement's policy about for a feedback action (submit-feedback, read-reports,
    publish-report): a program of the terms itself; None for one added by written approval, whose scope was
    decided when its extract was prepared (feedback then requires a signed handover of that program)."""
    return program if program is None or in_terms(ctx, program) else None


def require_known(ctx: Context, session: Session, program: str) -> None:
    """Refuse (404) a program that is neither in the terms nor the program of a handover feedback knows."""
    if in_terms(ctx, program):
        return
    signed = session.scalar(select(signed_handovers.c.handover_id).where(
        signed_handovers.c.program == program).limit(1))
    if signed is None:
        codes = ", ".join(p.code for p in ctx.policy.terms_at(ctx.clock()).programs)
        raise Refused(404, M("program.unknown", program=program, programs=codes), rule="program-unknown")
