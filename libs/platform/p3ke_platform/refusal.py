"""A request the agreement or the rules do not allow, as every service raises it.

`Refused` carries the HTTP status, the precise reason (ids, numbers and dates, never personal data: it
goes to the caller and into the audit log) and the rule that refused. The API turns it into an audited
answer in one place (`p3ke_platform.api.audited_refusal`).
"""

from __future__ import annotations

from typing import Protocol


class Decision(Protocol):
    allowed: bool
    reason: str
    rule: str


class Refused(Exception):
    def __init__(self, status: int, reason: str, *, rule: str = "refused") -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.rule = rule

    @classmethod
    def unless(cls, decision: Decision, status: int = 403) -> None:
        """Raise the policy's refusal, with its reason and rule, unless the decision allows."""
        if not decision.allowed:
            raise cls(status, decision.reason, rule=decision.rule)
