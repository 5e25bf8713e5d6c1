"""How a finding about a row of a submitted table is described: code, severity, field; its words come from
the ``findings`` message catalogue.

Each service keeps its own catalogue of checks (a tuple of ``Check``); the checks of a NIK column,
which every intake of Indonesian person records makes the same way, are shared here so that a NIK
damaged by a spreadsheet is named alike wherever it is found.

A check's code is stable English (``nik_scientific``); what a person reads is the gettext catalogue's
(``p3ke_platform/locale/<id|en>/LC_MESSAGES/findings.po``): the message under ``<code>`` and a short *cara
memperbaiki* (how to fix it) under ``<code>.fix``, Indonesian first, English on request.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from p3ke_platform.i18n import DEFAULT, Lang
from p3ke_platform.tabular.errors import DOMAIN, explain, with_fix

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Check:
    """One kind of finding: ``error`` keeps the row out, ``warning`` keeps it (repaired or noted), ``info``
    says what was read."""

    code: str
    severity: Severity
    field: str  # "" = the whole row

    def text(self, lang: Lang = DEFAULT, /, **params: Any) -> str:
        """The message, from the catalogue (``params`` fill its placeholders)."""
        return explain(self.code, lang, **params)[0]

    def fix_text(self, lang: Lang = DEFAULT, /, **params: Any) -> str:
        """How to fix it, from the catalogue."""
        return explain(self.code, lang, **params)[1]

    def explained(self, lang: Lang = DEFAULT, /, **params: Any) -> str:
        return with_fix(self.text(lang, **params), self.fix_text(lang, **params), lang)

    @property
    def message(self) -> str:
        """The message in Indonesian (the default language)."""
        return self.text()

    @property
    def fix(self) -> str:
        """How to fix it, in Indonesian."""
        return self.fix_text()


def by_code(checks: Iterable[Check]) -> dict[str, Check]:
    """The catalogue keyed by code, in the given order; raises ``ValueError`` on a code given twice."""
    out: dict[str, Check] = {}
    for check in checks:
        if check.code in out:
            raise ValueError(f"check {check.code} is defined twice")
        out[check.code] = check
    return out


def error_codes(checks: Iterable[Check]) -> tuple[str, ...]:
    """The codes of the ``error`` checks, in the given order."""
    return tuple(c.code for c in checks if c.severity == "error")


NIK_CHECKS: tuple[Check, ...] = (
    Check("nik_missing", "error", "nik"),
    Check("nik_scientific", "error", "nik"),
    Check("nik_apostrophe", "warning", "nik"),
    Check("nik_separators", "warning", "nik"),
    Check("nik_format", "error", "nik"),
    Check("nik_province_unknown", "error", "nik"),
    Check("nik_date_invalid", "error", "nik"),
    Check("nik_serial_zero", "error", "nik"),
)
"""The checks of a NIK column (16 digits: province, district, DDMMYY with women's day + 40, serial), in
the order they are made."""


__all__ = ["DOMAIN", "NIK_CHECKS", "Check", "Severity", "by_code", "error_codes"]
