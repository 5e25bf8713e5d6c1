"""A request the agreement or the rules do not allow, as every service raises it.

`Refused` carries the HTTP status, the precise reason (ids, numbers and dates, never personal data: it
goes to the caller and into the audit log) and the rule that refused. The API turns it into an audited
answer in one place (`p3ke_platform.api.audited_refusal`).

The reason is a catalogue `Message` (a domain, a stable English key and its parameters), rendered at the edge
in the caller's language (Indonesian unless English is asked for, `p3ke_platform.api_errors`), while the audit
log keeps one stable text in both languages (`Refused.reason`, "Indonesian / English"):

    M = messages("delivery")
    raise Refused(404, M("handover.not_found", handover=handover_id), rule="not-found")

A plain string still works (`Refused(409, "text")`) for reasons not yet in a catalogue: it is answered as is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from p3ke_platform import i18n


class Decision(Protocol):
    allowed: bool
    reason: str
    rule: str


@dataclass(frozen=True)
class Message:
    """A message of a catalogue, not yet rendered: `domain`, its stable English `key` (also the machine-readable
    code of an error answer) and the `params` its `{placeholders}` take (ids, numbers, dates: no personal data)."""

    domain: str
    key: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def render(self, lang: i18n.Lang = i18n.DEFAULT) -> str:
        """The text in `lang`; a parameter that is itself a `Message` (a phrase) or `Joined` phrases is rendered
        in `lang` too."""
        params = {k: v.render(lang) if isinstance(v, Message | Joined) else v for k, v in self.params.items()}
        return i18n.t(self.domain, self.key, lang, **params)

    def both(self) -> str:
        """Indonesian / English: the one stable text of the audit log and of the logs."""
        return f"{self.render('id')} / {self.render('en')}"

    def __str__(self) -> str:
        return self.both()


@dataclass(frozen=True)
class Joined:
    """A parameter made of several phrases (a list of reasons): each rendered in the language asked, joined by
    `sep`. `lead` goes before them when there are any (`Joined(misses, lead="; ")`: "; a; b", or nothing)."""

    parts: tuple[Message | str, ...]
    sep: str = "; "
    lead: str = ""

    def render(self, lang: i18n.Lang = i18n.DEFAULT) -> str:
        if not self.parts:
            return ""
        return self.lead + self.sep.join(p.render(lang) if isinstance(p, Message) else p for p in self.parts)


def messages(domain: str) -> Callable[..., Message]:
    """`M = messages("delivery")`, then `M("handover.not_found", handover=...)` is that domain's `Message`."""

    def message(key: str, /, **params: Any) -> Message:
        if not i18n.has(domain, key):  # a typo fails where it is raised, in the tests, not in front of a user
            raise i18n.MissingMessage(f"{domain}:{key}")
        return Message(domain, key, params)

    return message


class Refused(Exception):
    def __init__(self, status: int, reason: str | Message | None = None, *, key: str | None = None,
                 domain: str = "platform", params: Mapping[str, Any] | None = None, rule: str = "refused") -> None:
        if reason is None:
            if key is None:
                raise TypeError("Refused needs a reason: a Message, key=... (with domain=...) or a text")
            reason = messages(domain)(key, **(params or {}))
        self.status = status
        self.message: Message | None = reason if isinstance(reason, Message) else None
        self.reason: str = reason.both() if isinstance(reason, Message) else reason
        """The stable text the audit log keeps (both languages for a catalogue message)."""
        self.rule = rule
        super().__init__(self.reason)

    @property
    def code(self) -> str:
        """The machine-readable code of the answer: the message's key, else the rule."""
        return self.message.key if self.message else self.rule

    def text(self, lang: i18n.Lang = i18n.DEFAULT) -> str:
        """The reason in one language (a plain-text reason as it was given)."""
        return self.message.render(lang) if self.message else self.reason

    @classmethod
    def unless(cls, decision: Decision, status: int = 403) -> None:
        """Raise the policy's refusal, with its reason and rule, unless the decision allows. A decision carrying
        a catalogue `message` (the agreement policy's) is refused with it, answered in the caller's language."""
        if not decision.allowed:
            message = getattr(decision, "message", None)
            raise cls(status, message if isinstance(message, Message) else decision.reason, rule=decision.rule)


__all__ = ["Decision", "Joined", "Message", "Refused", "messages"]
