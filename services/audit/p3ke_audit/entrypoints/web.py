"""A small server-rendered page for compliance staff, in Indonesian (default) and English (`?lang=en`, or English
preferred in `Accept-Language`); every message is the `web` catalogue's (web.po, through web_text.py).

No JavaScript: forms and links. Sign-in takes a bearer token (from the identity provider, or `p3ke dev-token`
locally) and keeps it in an HttpOnly, SameSite=Strict cookie scoped to /ui (`Secure` when the request came over
https, behind the ingress too: the app trusts its proxy headers), so a cross-site form cannot use it. Every form
that POSTs carries a CSRF token, the value of a per-session cookie of its own (HttpOnly, SameSite=Strict), checked
against the cookie before anything is done (OWASP's double-submit cookie); a form without it is refused with 403.
The NIK of a subject lookup is POSTed, never put in a URL.

The search offers the codes an official filters by as choices with their labels (web_text.py), pages through the
results oldest first (keyset paging on the log's sequence, as `GET /v1/entries?after=`), says so when nothing
matches, downloads them as CSV (as `GET /v1/entries/export.csv`, formula-escaped), and lists the violations of the
period (as `GET /v1/violations`, violations_panel.py) and the services' retention schedule (what is due or held,
as each answers `GET /v1/retention/due`, retention_panel.py). Times are WIB, the UTC instant on hover.
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
import time
import weakref
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from sqlalchemy import select

from p3ke_audit.adapters.orm import entries
from p3ke_audit.domain.entry import entry_leaf_hash
from p3ke_audit.entrypoints import desk_panels, retention_panel, violations_panel, web_text
from p3ke_audit.entrypoints.deps import ROLE, Ctx, integrity_status, record_query, refuse, witnesses_status
from p3ke_audit.entrypoints.dto import WitnessesOut
from p3ke_audit.entrypoints.web_text import Html, label, named, options, when
from p3ke_audit.service_layer import export, proofs, queries
from p3ke_audit.service_layer.context import AuditContext
from p3ke_audit.service_layer.queries import BadQuery, Filters
from p3ke_audit.service_layer.witnessed import witnessing_status
from p3ke_platform.agreement import WIB
from p3ke_platform.auth import ROLES, AuthError, Principal, get_verifier
from p3ke_platform.i18n import both, request_language
from p3ke_platform.tlog.merkle import ProofError, verify_inclusion
from p3ke_platform.tlog.note import CheckpointError, open_note

COOKIE = "p3ke_audit_token"
CSRF_COOKIE = "p3ke_audit_csrf"
CSRF_FIELD = "csrf"
FILTERS = ("actor_org", "actor_subject", "role", "action", "outcome", "resource_type", "resource_id", "program")
TIMES = ("since", "until")
PAGE_SIZES = (10, 25, 50, 100)
DEFAULT_PAGE = 25
RESOURCE_TYPES_TTL = 300.0
"""Seconds the resource types found in the log are reused before they are read again."""

STYLE = """
body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#111;background:#fff}
header,main{max-width:72rem;margin:0 auto;padding:1rem}
header{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:center;gap:.5rem 1rem;
border-bottom:2px solid #114}
header h1{margin:.5rem 0}nav{display:flex;flex-wrap:wrap;align-items:center;gap:1rem}nav form{margin:0}
section{margin:0 0 1.5rem}
a{color:#0645ad}a:focus,button:focus,input:focus,select:focus{outline:3px solid #f90;outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#ff0;padding:.5rem}
form.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(14rem,1fr));gap:.5rem 1rem}
form.grid>div:last-child{align-self:end}#nik{max-width:20rem;display:block}form.grid>p{grid-column:1/-1;margin:0}
.wide{overflow-x:auto;max-width:100%}.wide:focus{outline:3px solid #f90}
label{display:block;font-weight:600}
input,textarea,select{width:100%;padding:.4rem;font:inherit;box-sizing:border-box;background:#fff;color:#111}
button,a.button{display:inline-block;padding:.5rem 1rem;font:inherit;background:#114;color:#fff;border:0;
cursor:pointer;text-decoration:none}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #999;padding:.3rem .5rem;text-align:left}
th{background:#eef}caption{font-weight:700;text-align:left;padding:.5rem 0}
.ok{color:#060;font-weight:700}.bad{color:#a00;font-weight:700}code,pre{font-size:.85rem;word-break:break-all}
pre{white-space:pre-wrap;background:#f6f6f6;padding:.5rem}time{white-space:nowrap}abbr{text-decoration:none}
nav.pages{display:flex;flex-wrap:wrap;gap:1rem;align-items:center;margin:.75rem 0}.tools{margin:.75rem 0}
"""

_t = web_text.t


async def form_fields(request: Request) -> dict[str, str]:
    """An url-encoded form body (the page's forms), read without python-multipart; at most 16 KiB."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise HTTPException(415, both("web", "form_type"))
    body = await request.body()
    if len(body) > 16 * 1024:
        raise HTTPException(413, both("web", "form_large"))
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), max_num_fields=20).items()}


Form = Annotated[dict[str, str], Depends(form_fields)]


def _lang(request: Request) -> str:
    return request_language(request)


def _here(request: Request) -> str:
    """This page's address without `lang`, for the language switch: the same page and filters in the
    other language. A POSTed page (a subject lookup) switches on the search page, so nothing from a
    form body (a NIK) ever lands in a URL."""
    if request.method != "GET":
        return "/ui"
    query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "lang" and v])
    return f"{request.url.path}?{query}" if query else request.url.path


# ---------------------------------------------------------------------------------------------------
# CSRF: a per-session token in a cookie of its own, repeated in a hidden field of every POSTed form
# ---------------------------------------------------------------------------------------------------


def _secure(request: Request) -> bool:
    """Cookies are `Secure` when the page was asked for over https (behind the ingress: its forwarded scheme)."""
    return request.url.scheme == "https"


def csrf_token(request: Request) -> str:
    """This browser session's CSRF token: the cookie's, or a new one (set on the answer by `_send`)."""
    current = request.cookies.get(CSRF_COOKIE, "")
    if 32 <= len(current) <= 128 and current.replace("-", "").replace("_", "").isalnum():
        return current
    fresh = getattr(request.state, "csrf_new", None)
    if fresh is None:
        fresh = request.state.csrf_new = secrets.token_urlsafe(32)
    return str(fresh)


def _csrf_field(request: Request) -> str:
    return f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(csrf_token(request))}">'


def csrf_ok(request: Request, form: dict[str, str]) -> bool:
    """The form's token is the session cookie's (both present; compared in constant time)."""
    cookie, sent = request.cookies.get(CSRF_COOKIE, ""), form.get(CSRF_FIELD, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), sent.encode())


def _set_csrf(response: Response, request: Request, token: str) -> None:
    response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", path="/ui", secure=_secure(request))


def _send(request: Request, response: Response) -> Response:
    fresh = getattr(request.state, "csrf_new", None)
    if fresh is not None:
        _set_csrf(response, request, fresh)
    return response


# ---------------------------------------------------------------------------------------------------
# Page frame, sign-in, tables
# ---------------------------------------------------------------------------------------------------


def _page(request: Request, title: str, body: str, *, signed_in: bool, status: int = 200) -> HTMLResponse:
    lang = _lang(request)
    other = "en" if lang == "id" else "id"
    here = _here(request)
    switch = escape(f"{here}{'&' if '?' in here else '?'}lang={other}")
    signout = (f'<form method="post" action="/ui/logout?lang={lang}">{_csrf_field(request)}'
               f'<button>{_t(lang, "signout")}</button></form>' if signed_in else "")
    html = f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{escape(title)} · {_t(lang, "title")}</title><style>{STYLE}</style></head>
<body><a class="skip" href="#main">{_t(lang, "skip")}</a>
<header><h1><a href="/ui?lang={lang}">{_t(lang, "title")}</a></h1>
<nav><a href="{switch}" hreflang="{other}" lang="{other}">{_t(lang, "other_lang")}</a> {signout}</nav>
</header><main id="main">{body}</main></body></html>"""
    response = HTMLResponse(html, status_code=status, headers={
        "Cache-Control": "no-store", "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
        "form-action 'self'; frame-ancestors 'none'", "Referrer-Policy": "no-referrer", "Vary": "Accept-Language"})
    _send(request, response)
    return response


def _login(request: Request, error: str = "", status: int | None = None) -> HTMLResponse:
    lang = _lang(request)
    alert = f'<p role="alert" class="bad">{error}</p>' if error else ""
    body = f"""<h2>{_t(lang, "signin")}</h2>{alert}
<form method="post" action="/ui/login?lang={lang}">{_csrf_field(request)}
<label for="token">{_t(lang, "token")}</label>
<textarea id="token" name="token" rows="4" required aria-describedby="token-help"></textarea>
<p id="token-help">{_t(lang, "signin_help")}</p><button>{_t(lang, "signin")}</button></form>"""
    return _page(request, web_text.text(lang, "signin"), body, signed_in=False,
                 status=status or (401 if error else 200))


def _csrf_refused(request: Request, *, signed_in: bool) -> HTMLResponse:
    lang = _lang(request)
    if not signed_in:
        return _login(request, _t(lang, "csrf_refused"), status=403)
    return _page(request, web_text.text(lang, "signin"), f'<p role="alert" class="bad">{_t(lang, "csrf_refused")}</p>'
                 f'<p><a href="/ui?lang={lang}">{_t(lang, "back")}</a></p>', signed_in=True, status=403)


@dataclass(frozen=True)
class Names:
    """The agreement's names of the organisations and programs (code -> (Indonesian, English))."""

    orgs: dict[str, tuple[str, str]]
    programs: dict[str, tuple[str, str]]

    @classmethod
    def of(cls, ctx: AuditContext) -> Names:
        return cls(orgs=web_text.orgs(ctx.policy), programs=web_text.programs(ctx.policy))


def _coded(words: str, code: str | None) -> str:
    """A label with its code on hover (the code alone when it has no label)."""
    if not code:
        return "—"
    return f'<span title="{escape(code)}">{escape(words)}</span>' if words != code else f"<code>{escape(code)}</code>"


def _table(lang: str, rows: list[dict[str, Any]], caption: str, names: Names, *, reasons: bool = False,
           captioned: bool = True) -> str:
    """Entries, one a row, each linked to its page with its proof; `caption` is HTML (escaped), shown unless a
    heading names the table already (`captioned` false: it only labels the region); `reasons`: with the reason
    each access was refused or noted."""
    keys = ("entry", "when", "who", "what", "outcome", "resource", "program", "records",
            *(("v_reason",) if reasons else ()), "key_id")
    head = "".join(f'<th scope="col">{_t(lang, k)}</th>' for k in keys)
    body = []
    for r in rows:
        leaf = r.get("leaf_index")
        link = f'<a href="/ui/entries/{leaf}?lang={lang}">#{leaf}</a>' if leaf is not None else "—"
        who = web_text.actor(lang, names.orgs, r.get("actor_org"), r.get("actor_subject"))
        if r.get("action"):
            what = _coded(label(lang, "action", r["action"]), r["action"])
        else:  # not a data access: what happened, by its event type
            what = (f'<i title="{_t(lang, "not_data_access")}">'
                    f'{_coded(web_text.event_label(lang, r.get("event_type")), r.get("event_type"))}</i>')
        outcome = _coded(label(lang, "outcome", r.get("outcome")), r.get("outcome"))
        if r.get("outcome") == "denied":
            outcome = f'<span class="bad">{outcome}</span>'
        rtype = r.get("resource_type")
        resource = (f'{_coded(label(lang, "resource_type", rtype), rtype)}: '
                    f'<code>{escape(r.get("resource_id") or "")}</code>')
        program = _coded(named(names.programs, lang, r.get("program")), r.get("program")) if r.get("program") else "—"
        body.append(f"<tr><td>{link}</td><td>{when(r.get('occurred_at'), lang)}</td><td>{who}</td><td>{what}</td>"
                    f"<td>{outcome}</td><td>{resource}</td><td>{program}</td><td>{r.get('record_count', 0)}</td>"
                    f"{_reason(r) if reasons else ''}<td><code>{escape(r.get('key_id') or '—')}</code></td></tr>")
    # a narrow screen scrolls the table, not the page (the region is focusable for keyboard scrolling)
    return (f'<div class="wide" role="region" aria-label="{caption}" tabindex="0">'
            f'<table>{f"<caption>{caption}</caption>" if captioned else ""}<thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def _reason(row: dict[str, Any]) -> str:
    """The reason an access was refused or noted, as the service recorded it (`payload.reason`)."""
    try:
        reason = json.loads(row.get("payload") or "{}").get("reason")
    except (TypeError, ValueError, AttributeError):
        reason = None
    return f"<td>{escape(str(reason)) if reason else '—'}</td>"


router = APIRouter(prefix="/ui", tags=["web page"], include_in_schema=False)


def principal_of(request: Request) -> tuple[Principal | None, str | None]:
    token = request.cookies.get(COOKIE)
    if not token:
        return None, None
    try:
        return get_verifier(request).verify(token), None
    except AuthError as exc:
        return None, exc.detail


def guard(request: Request, ctx: AuditContext) -> tuple[Principal | None, HTMLResponse | None]:
    lang = _lang(request)
    principal, error = principal_of(request)
    if principal is None:
        return None, _login(request, _t(lang, "bad_token", why=error) if error else "")
    if ROLE not in principal.roles:
        refuse(ctx, principal, request)  # recorded like a refused API call; the page answers the 403
        return None, _page(request, web_text.text(lang, "denied"), f'<p role="alert" class="bad">{_t(lang, "denied")}'
                           "</p>", signed_in=True, status=403)
    return principal, None


# ---------------------------------------------------------------------------------------------------
# Integrity and witnessing
# ---------------------------------------------------------------------------------------------------


def witness_panel(lang: str, w: WitnessesOut) -> str:
    """When the log was last witnessed and by whom, whether the newest entries are not, each witness's state."""
    head = f'<section aria-labelledby="witnessing"><h2 id="witnessing">{_t(lang, "witnessing")}</h2>'
    if not w.witnesses:
        return f'{head}<p class="bad">{_t(lang, "no_witnesses")}</p></section>'
    last = (_t(lang, "witnessed_last", size=w.latest_witnessed_size, when=when(w.latest_witnessed_at, lang),
               by=", ".join(w.latest_witnessed_by)) if w.latest_witnessed_size else _t(lang, "never_witnessed"))
    pending = (f'<p class="bad" role="status">{_t(lang, "unwitnessed", n=w.unwitnessed_entries)}</p>'
               if w.unwitnessed_entries else f'<p class="ok">{_t(lang, "all_witnessed")}</p>')
    rows = []
    for one in w.witnesses:
        if one.status == "ok":
            ok = _t(lang, "w_ok", size=one.cosigned_size, when=when(one.last_success_at, lang))
            state = f'<span class="ok">{ok}</span>'
        elif one.status == "unreachable":
            since = when(one.last_success_at, lang) if one.last_success_at else _t(lang, "w_never")
            state = f'<span class="bad">{_t(lang, "w_unreachable", since=Html(since))}</span>'
        elif one.status in ("refused", "behind"):
            state = f'<span class="bad">{_t(lang, "w_" + one.status)}</span>'
        else:
            state = _t(lang, "w_not_contacted")
        detail = f": {escape(one.last_error)}" if one.last_error and one.status != "ok" else ""
        tried = f'<br><small>{_t(lang, "w_tried", when=when(one.last_attempt_at, lang))}</small>' \
            if one.last_attempt_at else ""
        rows.append(f'<tr><th scope="row">{escape(one.name)}<br><small><code>{escape(one.url)}</code></small></th>'
                    f"<td>{state}{detail}{tried}</td></tr>")
    table = (f'<table><caption>{_t(lang, "quorum", q=w.quorum, n=len(w.witnesses))}</caption><thead><tr>'
             f'<th scope="col">{_t(lang, "witness")}</th><th scope="col">{_t(lang, "state")}</th></tr></thead>'
             f'<tbody>{"".join(rows)}</tbody></table>')
    return f"{head}<p>{last}</p>{pending}{table}</section>"


def integrity_panel(ctx: AuditContext, lang: str) -> str:
    with ctx.sessions() as session:
        witnessed = witnessing_status(session, ctx.settings)  # read and verified once for both panels
        status = integrity_status(session, ctx.settings, witnessed)
        witnessing = witnesses_status(session, ctx.settings, witnessed)
    cp = status.latest_checkpoint
    cp_html = (f"<p>{_t(lang, 'checkpoint')}: {cp.tree_size} · {when(cp.issued_at, lang)}</p>"
               f"<pre>{escape(cp.note)}</pre>") if cp else f"<p>{_t(lang, 'no_checkpoint')}</p>"
    v = status.last_verification
    v_html = (f'<p>{_t(lang, "verification")}: <span class="{"ok" if v.ok else "bad"}">'
              f'{_t(lang, "ok" if v.ok else "failed")}</span> · {when(v.finished_at, lang)} · '
              f'{escape(v.message)}</p>') if v else f"<p>{_t(lang, 'verification')}: {_t(lang, 'never')}</p>"
    return (f'<section aria-labelledby="integrity"><h2 id="integrity">{_t(lang, "integrity")}</h2>'
            f"<p>{_t(lang, 'tree_size')}: {status.tree_size}</p>{cp_html}{v_html}</section>"
            + witness_panel(lang, witnessing))


# ---------------------------------------------------------------------------------------------------
# The search: choices, parsing, paging
# ---------------------------------------------------------------------------------------------------

_resource_types: weakref.WeakKeyDictionary[AuditContext, tuple[float, list[str]]] = weakref.WeakKeyDictionary()


def resource_types(ctx: AuditContext) -> list[str]:
    """The resource types the log holds (the contract leaves them open), read at most every few minutes."""
    at, found = _resource_types.get(ctx, (0.0, []))
    if time.monotonic() - at > RESOURCE_TYPES_TTL or not found:
        with ctx.sessions() as session:
            query = select(entries.c.resource_type).where(entries.c.resource_type.is_not(None)).distinct()
            found = sorted(str(v) for v in session.scalars(query))
        _resource_types[ctx] = (time.monotonic(), found)
    return found


def _select(lang: str, name: str, codes: list[str] | tuple[str, ...], text: Any, value: str) -> str:
    return (f'<div><label for="{name}">{_t(lang, name)}</label><select id="{name}" name="{name}">'
            f"{options(lang, codes, text, value)}</select></div>")


def _input(lang: str, name: str, value: str, kind: str = "text") -> str:
    return (f'<div><label for="{name}">{_t(lang, name)}</label><input id="{name}" name="{name}" type="{kind}" '
            f'value="{escape(value)}"></div>')


def search_form(request: Request, ctx: AuditContext, values: dict[str, str], names: Names) -> str:
    lang = _lang(request)
    kinds = resource_types(ctx)
    by_label = sorted(kinds, key=lambda c: label(lang, "resource_type", c).casefold())
    sizes = [str(n) for n in PAGE_SIZES if n <= ctx.settings.audit_max_page] or [str(ctx.settings.audit_max_page)]
    size = values.get("limit") or str(min(DEFAULT_PAGE, ctx.settings.audit_max_page))
    limit_options = "".join(f'<option value="{n}"{" selected" if n == size else ""}>{n}</option>' for n in sizes)
    fields = (
        _select(lang, "actor_org", list(names.orgs), lambda c: named(names.orgs, lang, c), values.get("actor_org", ""))
        + _input(lang, "actor_subject", values.get("actor_subject", ""))
        + _select(lang, "role", ROLES, lambda c: label(lang, "role", c), values.get("role", ""))
        + _select(lang, "action", web_text.ACTIONS, lambda c: label(lang, "action", c), values.get("action", ""))
        + _select(lang, "outcome", web_text.OUTCOMES, lambda c: label(lang, "outcome", c), values.get("outcome", ""))
        + _select(lang, "resource_type", by_label, lambda c: label(lang, "resource_type", c),
                  values.get("resource_type", ""))
        + _input(lang, "resource_id", values.get("resource_id", ""))
        + _select(lang, "program", list(names.programs), lambda c: named(names.programs, lang, c),
                  values.get("program", ""))
        + "".join(_input(lang, k, values.get(k, ""), "datetime-local") for k in TIMES)
        + f'<div><label for="limit">{_t(lang, "limit")}</label><select id="limit" name="limit">{limit_options}'
        "</select></div>")
    return (f'<section aria-labelledby="search"><h2 id="search">{_t(lang, "search")}</h2>'
            f'<form class="grid" method="get" action="/ui"><input type="hidden" name="lang" value="{lang}">'
            f'<p id="filters-help">{_t(lang, "filters_help")}</p>'
            f'{fields}<div><button>{_t(lang, "submit")}</button></div></form></section>'
            f'<section aria-labelledby="subject"><h2 id="subject">{_t(lang, "subject")}</h2>'
            f'<form method="post" action="/ui/subject?lang={lang}">{_csrf_field(request)}'
            f'<label for="nik">{_t(lang, "nik")}</label>'
            f'<input id="nik" name="nik" inputmode="numeric" pattern="[0-9]{{16}}" autocomplete="off" required '
            f'aria-describedby="nik-help"><p id="nik-help">{_t(lang, "nik_help")}</p>'
            f'<button>{_t(lang, "submit")}</button></form></section>')


class PageError(ValueError):
    """A search the page cannot run; the message (already HTML) says how to fix it."""


@dataclass(frozen=True)
class Search:
    filters: Filters
    after: int
    limit: int


def parse_search(ctx: AuditContext, lang: str, values: dict[str, str]) -> Search:
    """The filters, the page start and the page size from the query string (Jakarta times in since/until)."""
    times: dict[str, datetime | None] = {}
    for name in TIMES:
        try:
            times[name] = _local(values.get(name))
        except ValueError:
            raise PageError(_t(lang, "bad_time", field=web_text.text(lang, name))) from None
    try:
        after = int(values.get("after") or 0)
        limit = int(values.get("limit") or min(DEFAULT_PAGE, ctx.settings.audit_max_page))
    except ValueError:
        raise PageError(_t(lang, "bad_page", field="after/limit")) from None
    if not (0 <= after <= 2**62 and 1 <= limit <= ctx.settings.audit_max_page):
        raise PageError(_t(lang, "bad_page", field="after/limit"))
    if times["since"] and times["until"] and times["until"] <= times["since"]:
        raise PageError(_t(lang, "range_order"))
    f = Filters(**{k: values[k] for k in FILTERS if values.get(k)}, since=times["since"], until=times["until"])
    return Search(f, after, limit)


def _previous_after(session: Any, f: Filters, first_seq: int, limit: int) -> int | None:
    """Where the page before the one starting at `first_seq` starts (its `after`), or None on the first page."""
    before = list(session.scalars(select(entries.c.seq).where(entries.c.seq < first_seq, *f.where())
                                  .order_by(entries.c.seq.desc()).limit(limit)))
    return max(min(before) - 1, 0) if before else None


def _link(lang: str, values: dict[str, str], **changes: Any) -> str:
    params = {k: v for k, v in values.items() if k in (*FILTERS, *TIMES, "limit") and v}
    params |= {k: str(v) for k, v in changes.items() if v is not None}
    return escape("/ui?" + urlencode({"lang": lang, **params}))


def results_html(ctx: AuditContext, principal: Principal, lang: str, values: dict[str, str], search: Search,
                 names: Names) -> str:
    """One page of matching entries (or the message that none match), the pages around it and the CSV button."""
    f = search.filters
    with ctx.sessions() as session:
        rows = queries.page(session, f, after=search.after, limit=search.limit + 1)
        more, rows = len(rows) > search.limit, rows[:search.limit]
        first = rows[0]["seq"] if rows else search.after + 1
        previous = _previous_after(session, f, first, search.limit) if search.after else None
    record_query(ctx, principal, resource_id="ui:entries", count=len(rows),
                 what={**f.describe(), "after": str(search.after), "limit": str(search.limit)})
    links = []
    if search.after:
        links.append(f'<a href="{_link(lang, values)}">{_t(lang, "page_first")}</a>')
        if previous is not None:
            links.append(f'<a rel="prev" href="{_link(lang, values, after=previous or None)}">'
                         f'‹ {_t(lang, "page_prev")}</a>')
    if more:
        links.append(f'<a rel="next" href="{_link(lang, values, after=rows[-1]["seq"])}">'
                     f'{_t(lang, "page_next")} ›</a>')
    pages = (f'<nav class="pages" aria-label="{_t(lang, "pages")}">{"".join(links)}</nav>' if links else "")
    if rows:
        table = (f'<p role="status">{_t(lang, "page_count", n=len(rows))}</p>'
                 + _table(lang, rows, _t(lang, "results"), names, captioned=False))
    else:
        table = (f'<p role="status" id="no-match"><strong>{_t(lang, "no_match")}</strong> '
                 f'{_t(lang, "no_match_help")}</p>')
    return (f'<section aria-labelledby="results"><h2 id="results">{_t(lang, "results")}</h2>'
            f'{table}{pages}{csv_button(ctx, lang, values, f)}</section>')


def csv_button(ctx: AuditContext, lang: str, values: dict[str, str], f: Filters) -> str:
    """The CSV of every matching entry; the export needs a bounded time range, so without one it says so."""
    days = ctx.settings.audit_max_days
    try:
        queries.bounded_range(f.since, f.until, days)
    except BadQuery:
        return f'<p class="tools" id="csv-help">{_t(lang, "csv_needs_range", days=days)}</p>'
    params = {k: v for k, v in values.items() if k in (*FILTERS, *TIMES) and v}
    href = escape("/ui/entries.csv?" + urlencode({"lang": lang, **params}))
    return (f'<p class="tools"><a class="button" href="{href}" download aria-describedby="csv-help">'
            f'{_t(lang, "csv")}</a> <small id="csv-help">'
            f'{_t(lang, "csv_help", max=ctx.settings.audit_max_export)}</small></p>')


def _values(request: Request) -> dict[str, str]:
    return {k: v for k, v in request.query_params.items() if k in (*FILTERS, *TIMES, "after", "limit") and v}


@router.get("", response_class=HTMLResponse)
def home(request: Request, ctx: Ctx) -> Response:
    lang = _lang(request)
    principal, refusal = guard(request, ctx)
    if refusal:
        return refusal
    assert principal is not None
    values = _values(request)
    searched = any(k in request.query_params for k in (*FILTERS, *TIMES, "after", "limit"))
    names = Names.of(ctx)
    results, status, search = "", 200, None
    try:
        search = parse_search(ctx, lang, values)
    except PageError as exc:
        results, status = f'<section aria-live="polite"><p role="alert" class="bad">{exc}</p></section>', 422
    else:
        if searched:
            results = f'<div aria-live="polite">{results_html(ctx, principal, lang, values, search, names)}</div>'
    f = search.filters if search else Filters()
    body = (search_form(request, ctx, values, names) + results
            + violations_panel.render(ctx, principal, lang, f.since, f.until, names.orgs,
                                     lambda rows, caption: _table(lang, rows, caption, names, reasons=True,
                                                                   captioned=False))
            + desk_panels.render(ctx, principal, lang, _t)
            + retention_panel.render(ctx, principal, lang, request.cookies.get(COOKIE, ""))
            + integrity_panel(ctx, lang))
    return _page(request, web_text.text(lang, "search"), body, signed_in=True, status=status)


@router.get("/entries.csv")
def entries_csv(request: Request, ctx: Ctx) -> Response:
    """The matching entries of a bounded time range as CSV: `GET /v1/entries/export.csv` for the page's session
    (the same rows, columns and formula escaping), the export recorded in the log."""
    lang = _lang(request)
    principal, refusal = guard(request, ctx)
    if refusal:
        return refusal
    assert principal is not None
    try:
        search = parse_search(ctx, lang, _values(request))
        f = search.filters
        queries.bounded_range(f.since, f.until, ctx.settings.audit_max_days)
    except PageError as exc:
        why = Html(str(exc))
    except BadQuery:
        why = Html(_t(lang, "csv_needs_range", days=ctx.settings.audit_max_days))
    else:
        with ctx.sessions() as session:
            rows = list(queries.stream(session, f, ctx.settings.audit_max_export))
        record_query(ctx, principal, resource_id="ui:entries.csv", count=len(rows), action="export",
                     what=f.describe())
        return StreamingResponse(export.csv_lines(rows), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": 'attachment; filename="audit-entries.csv"', "Cache-Control": "no-store"})
    body = (f'<p role="alert" class="bad">{_t(lang, "csv_refused", why=why)}</p>'
            f'<p><a href="/ui?lang={lang}">{_t(lang, "back")}</a></p>')
    return _page(request, web_text.text(lang, "csv"), body, signed_in=True, status=422)


@router.post("/login")
def login(request: Request, form: Form) -> Response:
    lang = _lang(request)
    if not csrf_ok(request, form):
        return _csrf_refused(request, signed_in=False)
    token = form.get("token", "")
    try:
        get_verifier(request).verify(token.strip())
    except AuthError as exc:
        return _login(request, _t(lang, "bad_token", why=exc.detail))
    response = RedirectResponse(f"/ui?lang={lang}", status_code=303)
    response.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict", path="/ui",
                        secure=_secure(request), max_age=8 * 3600)
    _set_csrf(response, request, secrets.token_urlsafe(32))  # a new session, a new token
    return response


@router.post("/logout")
def logout(request: Request, form: Form) -> Response:
    if not csrf_ok(request, form):
        return _csrf_refused(request, signed_in=principal_of(request)[0] is not None)
    response = RedirectResponse(f"/ui?lang={_lang(request)}", status_code=303)
    response.delete_cookie(COOKIE, path="/ui", secure=_secure(request), httponly=True, samesite="strict")
    _set_csrf(response, request, secrets.token_urlsafe(32))
    return response


@router.post("/subject", response_class=HTMLResponse)
def subject(request: Request, ctx: Ctx, form: Form) -> Response:
    lang = _lang(request)
    principal, refusal = guard(request, ctx)
    if refusal:
        return refusal
    assert principal is not None
    if not csrf_ok(request, form):
        return _csrf_refused(request, signed_in=True)
    nik = form.get("nik", "").strip()
    names = Names.of(ctx)
    if not (len(nik) == 16 and nik.isdigit()):
        results = f'<p role="alert" class="bad">{_t(lang, "nik")}</p>'
    else:
        with ctx.sessions() as session:
            rows = queries.page(session, Filters(subject_refs=ctx.subject_lookup_refs(nik)), limit=500)
        record_query(ctx, principal, resource_id="ui:subject-trail", count=len(rows), niks=[nik])
        results = (_table(lang, rows, _t(lang, "subject"), names) if rows
                   else f'<p role="status">{_t(lang, "none")}</p>')
    body = search_form(request, ctx, {}, names) + f'<section aria-live="polite">{results}</section>'
    return _page(request, web_text.text(lang, "subject"), body, signed_in=True)


@router.get("/entries/{leaf_index}", response_class=HTMLResponse)
def entry(request: Request, ctx: Ctx, leaf_index: int) -> Response:
    lang = _lang(request)
    principal, refusal = guard(request, ctx)
    if refusal:
        return refusal
    assert principal is not None
    with ctx.sessions() as session:
        row = queries.entry_at(session, leaf_index)
        if row is None:
            return _page(request, web_text.text(lang, "entry"), f'<p role="alert">{_t(lang, "none")}</p>',
                         signed_in=True, status=404)
        try:
            inc: proofs.Inclusion | None = proofs.inclusion(session, leaf_index)
            pending = ""
        except proofs.NotFound as exc:
            inc, pending = None, str(exc)
    record_query(ctx, principal, resource_id=f"ui:entry:{leaf_index}", count=1)
    details = "".join(f'<tr><th scope="row">{escape(k)}</th><td>{_field(lang, v)}</td></tr>'
                      for k, v in row.items() if k not in ("leaf_hash",))
    if inc is None:
        proof_html = f'<p role="status">{_t(lang, "pending", why=pending)}</p>'
    else:
        try:
            assert inc.checkpoint is not None
            cp = open_note(inc.checkpoint.note, ctx.settings.audit_origin, ctx.signer.public_key)
            verify_inclusion(entry_leaf_hash(row), leaf_index, cp.size, inc.proof, cp.root)
            verdict = f'<p role="status" class="ok">{_t(lang, "proof_ok", size=cp.size)}</p>'
        except (AssertionError, CheckpointError, ProofError) as exc:
            verdict = f'<p role="alert" class="bad">{_t(lang, "proof_bad", why=str(exc))}</p>'
        hashes = "".join(f"<li><code>{base64.b64encode(h).decode()}</code></li>" for h in inc.proof)
        proof_html = f"{verdict}<ol>{hashes}</ol>"
    body = (f'<h2>{_t(lang, "entry")} #{leaf_index}</h2><table><tbody>{details}</tbody></table>'
            f'<h3>{_t(lang, "proof")}</h3>{proof_html}<p><a href="/ui?lang={lang}">{_t(lang, "back")}</a></p>')
    return _page(request, web_text.text(lang, "entry") + f" #{leaf_index}", body, signed_in=True)


def _field(lang: str, value: Any) -> str:
    """One field of an entry: an instant in WIB (UTC on hover) beside its stored value."""
    raw = f"<code>{escape(str(value))}</code>"
    return f"{when(value, lang)} {raw}" if isinstance(value, datetime) else raw


def _local(value: str | None) -> datetime | None:
    """A `datetime-local` field (no zone) is a Jakarta time."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=WIB)

