"""The errors of table intake, explained from the ``findings`` message catalogue (Indonesian first).

``NotATable`` (re-exported by ``sources``) and ``LayoutError`` (``layout``) carry a catalogue key
(``file.<reason>``) and its parameters: ``str(exc)`` is the Indonesian message, ``exc.message(lang)`` and
``exc.fix(lang)`` say what is wrong and how to fix it in the language a caller asked for. A plain text (an
error raised without a key, e.g. a bilingual ``HostileArchive``) is shown as it is.

A refusal carries one as its reason with ``refusal_message(...)``: an ``ExplainedMessage`` (a catalogue ``Message``,
``p3ke_platform.refusal``) that the API renders, with how to fix it, in the caller's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from p3ke_platform import i18n
from p3ke_platform.i18n import DEFAULT, Lang
from p3ke_platform.refusal import Message

DOMAIN = "findings"
"""The gettext domain of findings and file-level reasons (``p3ke_platform/locale/<lang>/LC_MESSAGES/findings.po``)."""


def explain(key: str, lang: Lang = DEFAULT, /, **params: Any) -> tuple[str, str]:
    """(message, how to fix it) of a catalogue key; the fix is "" when the catalogue has none."""
    fix = i18n.t(DOMAIN, f"{key}.fix", lang, **params) if i18n.has(DOMAIN, f"{key}.fix") else ""
    return i18n.t(DOMAIN, key, lang, **params), fix


def with_fix(message: str, fix: str, lang: Lang = DEFAULT) -> str:
    """One line for a person: the message, then "Cara memperbaiki: …" ("How to fix: …")."""
    return f"{message}. {i18n.t(DOMAIN, 'how_to_fix', lang)}: {fix}" if fix else message


class Explained(ValueError):
    """An error about a submitted file, explained from the catalogue (``key``) or by a plain text.

    A parameter may itself be ``Explained`` (a reason inside a reason: "individual file x.csv: <why>"): it is
    rendered in the same language, and its fix is the outer one's when the outer key has none. A ``label``
    parameter (``individual``, ``family``) is named from the catalogue (``label.<label>``).
    """

    def __init__(self, text: str | None = None, /, *, key: str | None = None, **params: Any) -> None:
        self.key = key
        self.params = params
        super().__init__(text if text is not None else explain(key or "", DEFAULT, **self._params(DEFAULT))[0])

    def _params(self, lang: Lang) -> dict[str, Any]:
        out = {k: v.message(lang) if isinstance(v, Explained) else v for k, v in self.params.items()}
        if "label" in out and i18n.has(DOMAIN, f"label.{out['label']}"):
            out["label"] = i18n.t(DOMAIN, f"label.{out['label']}", lang)
        return out

    def message(self, lang: Lang = DEFAULT) -> str:
        return explain(self.key, lang, **self._params(lang))[0] if self.key else str(self)

    def fix(self, lang: Lang = DEFAULT) -> str:
        own = explain(self.key, lang, **self._params(lang))[1] if self.key else ""
        if own:
            return own
        return next((v.fix(lang) for v in self.params.values() if isinstance(v, Explained) and v.fix(lang)), "")

    def explained(self, lang: Lang = DEFAULT) -> str:
        """The message and how to fix it, in one line."""
        return with_fix(self.message(lang), self.fix(lang), lang)


class NotATable(Explained):
    """The file cannot be read as a table; the message says why (never a value from the file)."""


@dataclass(frozen=True)
class ExplainedMessage(Message):
    """One or more ``Explained`` reasons as the catalogue message of a refusal: each said with how to fix it, in
    the language asked for, joined by `` | `` (a cause first, then the refusal it leads to). Its key, the error
    answer's code, is the most precise catalogue key of the last reason (``file.xlsx_encrypted`` rather than the
    ``file.refused`` around it)."""

    reasons: tuple[Explained, ...] = ()

    def render(self, lang: Lang = DEFAULT) -> str:
        return " | ".join(reason.explained(lang) for reason in self.reasons)


def _code(reason: Explained) -> str:
    inner = reason.params.get("reason")
    if isinstance(inner, Explained) and inner.key:
        return _code(inner)
    return reason.key or "file.refused"


def refusal_message(*reasons: Explained) -> ExplainedMessage:
    """The reason of a refusal (``Refused(422, refusal_message(exc), rule=...)``) about a submitted file."""
    if not reasons:
        raise ValueError("refusal_message needs at least one reason")
    return ExplainedMessage(DOMAIN, _code(reasons[-1]), {}, reasons)


__all__ = ["DOMAIN", "Explained", "ExplainedMessage", "NotATable", "explain", "refusal_message", "with_fix"]
