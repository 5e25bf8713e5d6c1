"""What the compliance page (web.py) and its desk panels (desk_panels.py) write: messages from the `web` catalogue
(`p3ke_platform/locale/<id|en>/LC_MESSAGES/web.po`), HTML-escaped; times in WIB with the UTC instant on hover; and
the labels and choices of the codes an official filters by.

The choices come from where the codes are defined, so they cannot drift from what the services record: the
organisations and programs from the agreement (every version of its terms and its written approvals), the actions
and outcomes from the `data-access` event contract, the roles from the tokens' role list, the event types from the
topic registry, the resource types from the log itself (the contract leaves them open). A code with no label in the
catalogue is shown as itself (tests/unit/audit/test_web_labels.py checks that every contract code has one).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from html import escape
from typing import Any, get_args

from babel.dates import format_date, format_datetime

from p3ke_platform.agreement import WIB, Policy
from p3ke_platform.i18n import Lang, Messages
from p3ke_schemas import DataAccess, ProgramCode
from p3ke_schemas.events import AccessAction
from p3ke_schemas.topics import EVENTS, spec_for_type

M = Messages("web")
ACTIONS: tuple[str, ...] = get_args(AccessAction)
OUTCOMES: tuple[str, ...] = get_args(DataAccess.model_fields["outcome"].annotation)
EVENT_NAMES: tuple[str, ...] = tuple(spec.name for spec in EVENTS)


class Html(str):
    """Markup already escaped (a `<time>` element): put into a message as it is."""

    __slots__ = ()


def t(lang: str, key: str, **kw: Any) -> str:
    """The message `key` in `lang`, HTML-escaped; its parameters escaped too, except `Html` ones."""
    template = escape(M(key, _lang(lang)), quote=False)
    return template.format(**{k: v if isinstance(v, Html) else escape(str(v)) for k, v in kw.items()})


def text(lang: str, key: str) -> str:
    """The message `key` in `lang`, not escaped (for a page title, which the page escapes)."""
    return M(key, _lang(lang))


def _lang(lang: str) -> Lang:
    return "en" if lang == "en" else "id"


def when(value: datetime | None, lang: str) -> Html:
    """An instant as a Jakarta time, "12 Jun 2026 14:05 WIB", its UTC ISO time in `datetime` and on hover."""
    if value is None:
        return Html("—")
    utc = (value.replace(tzinfo=UTC) if value.tzinfo is None else value).astimezone(UTC)
    iso = utc.isoformat(timespec="seconds").replace("+00:00", "Z")
    shown = format_datetime(utc, "d MMM yyyy HH:mm", tzinfo=WIB, locale=_lang(lang))
    return Html(f'<time datetime="{iso}" title="{iso} (UTC)">{escape(shown)} WIB</time>')


def day(value: date, lang: str) -> Html:
    """A calendar day (Jakarta): "28 Feb 2026"."""
    return Html(f'<time datetime="{value.isoformat()}">{escape(format_date(value, "d MMM yyyy", locale=_lang(lang)))}'
                "</time>")


def label(lang: str, kind: str, code: str | None) -> str:
    """The catalogue's label of a code (`action`, `outcome`, `role`, `resource_type`, `event_type`), unescaped;
    the code itself when the catalogue has none."""
    if not code:
        return ""
    key = f"{kind}.{code}"
    return M(key, _lang(lang)) if M.has(key) else code


def event_label(lang: str, event_type: str | None) -> str:
    """An entry's event type (`p3ke.handover-signed.v1`) in words."""
    if not event_type:
        return ""
    try:
        name = spec_for_type(event_type).name
    except KeyError:
        return event_type
    return label(lang, "event_type", name)


def orgs(policy: Policy | None) -> dict[str, tuple[str, str]]:
    """The agreement's parties: org code -> (Indonesian name, English name)."""
    if policy is None:
        return {}
    return {p.org: (p.name, p.name_en) for p in policy.agreement.base.parties}


def programs(policy: Policy | None) -> dict[str, tuple[str, str]]:
    """Every program the agreement ever allowed (each version of its terms, and the written approvals):
    code -> (Indonesian title, English title). Without an agreement: the four of Art. 3, by code."""
    if policy is None:
        return {p.value: (p.value, p.value) for p in ProgramCode}
    found: dict[str, tuple[str, str]] = {}
    for _start, terms in policy.agreement.timeline():
        for program in terms.programs:
            found.setdefault(program.code, (program.title_id, program.title))
    for approval in policy.agreement.approvals:
        found.setdefault(approval.program, (approval.program, approval.program))
    return found


def named(names: dict[str, tuple[str, str]], lang: str, code: str | None) -> str:
    """A code's name in `lang` from `orgs`/`programs`, else the code."""
    if not code:
        return ""
    pair = names.get(code)
    return (pair[0] if lang == "id" else pair[1]) if pair else code


def actor(lang: str, orgs: dict[str, tuple[str, str]], org: str | None, subject: str | None) -> str:
    """"kemnaker / officer-1", the organisation's name on hover."""
    org = org or ""
    org_html = f'<abbr title="{escape(named(orgs, lang, org))}">{escape(org)}</abbr>' if org in orgs else escape(org)
    return f"{org_html} / {escape(subject or '')}"


def options(lang: str, codes: list[str] | tuple[str, ...], text: Any, selected: str) -> str:
    """`<option>`s: "(semua)", then each code with its label; a selected value not among them is kept."""
    chosen = selected if selected in codes or not selected else None
    out = [f'<option value="">{t(lang, "any")}</option>']
    for code in (*codes, *((selected,) if selected and chosen is None else ())):
        mark = " selected" if code == selected else ""
        words = text(code)
        shown = f"{words} ({code})" if words != code else code
        out.append(f'<option value="{escape(code)}"{mark}>{escape(shown)}</option>')
    return "".join(out)
