"""The violations on the compliance page (web.py's home): what `GET /v1/violations` answers, for the time range of
the search's Since/Until (by default the last `DEFAULT_DAYS` days): refused attempts, data actions outside the
agreement's validity, package downloads without a signed BAST, access for a program outside the agreement, and
unusual volumes. Read through the service layer (`queries.violations`); the read is recorded in the log as the API
records it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from p3ke_audit.entrypoints.deps import record_query
from p3ke_audit.entrypoints.web_text import Html, actor, day, t, when
from p3ke_audit.service_layer import queries
from p3ke_audit.service_layer.context import AuditContext
from p3ke_audit.service_layer.queries import BadQuery
from p3ke_platform.auth import Principal

DEFAULT_DAYS = 30
LIMIT = 50
"""Rows per kind on the page; the API has them all (`limit` up to P3KE_AUDIT_MAX_PAGE)."""
KINDS = ("refused", "outside_agreement_validity", "download_without_signed_bast", "purpose_outside_programs")

Table = Callable[[list[dict[str, Any]], str], str]
"""web.py's table of entries (with each entry's reason), given the rows and a caption."""


def period(ctx: AuditContext, since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    """The search's range, completed to `DEFAULT_DAYS` days on the side not given (until: now)."""
    if since and not until:
        until = since + timedelta(days=DEFAULT_DAYS)
    until = until or ctx.clock()
    return since or until - timedelta(days=DEFAULT_DAYS), until


def render(ctx: AuditContext, principal: Principal, lang: str, since: datetime | None, until: datetime | None,
           orgs: dict[str, tuple[str, str]], table: Table) -> str:
    head = f'<section aria-labelledby="violations"><h2 id="violations">{t(lang, "violations")}</h2>'
    lo, hi = period(ctx, since, until)
    try:
        lo, hi = queries.bounded_range(lo, hi, ctx.settings.audit_max_days)
    except BadQuery:
        days = ctx.settings.audit_max_days
        return f'{head}<p role="alert" class="bad">{t(lang, "range_long", days=days)}</p></section>'
    with ctx.sessions() as session:
        found = queries.violations(session, lo, hi, policy=ctx.policy,
                                   volume_threshold=ctx.settings.audit_volume_threshold, limit=LIMIT)
    record_query(ctx, principal, resource_id="ui:violations", count=sum(len(v) for v in found.values()),
                 what={"since": str(lo), "until": str(hi)})
    parts = [f'<p>{t(lang, "v_range", since=when(lo, lang), until=when(hi, lang), days=DEFAULT_DAYS)}</p>']
    for kind in KINDS:
        if kind not in found:  # no agreement loaded: no validity to check
            continue
        rows = found[kind]
        title = t(lang, f"v_{kind}", n=len(rows))
        parts.append(f'<h3 id="v-{kind}">{title}</h3>'
                     + (table(rows, Html(title)) if rows else f'<p>{t(lang, "v_none")}</p>') + _more(lang, rows))
    volume = found["unusual_volume"]
    title = t(lang, "v_unusual_volume", n=len(volume), threshold=ctx.settings.audit_volume_threshold)
    parts.append(f'<h3 id="v-unusual_volume">{title}</h3>'
                 + (_volume(lang, volume, orgs, title) if volume else f'<p>{t(lang, "v_none")}</p>')
                 + _more(lang, volume))
    return head + "".join(parts) + "</section>"


def _more(lang: str, rows: list[Any]) -> str:
    return f'<p role="status">{t(lang, "v_more", n=LIMIT)}</p>' if len(rows) >= LIMIT else ""


def _volume(lang: str, rows: list[dict[str, Any]], orgs: dict[str, tuple[str, str]], title: str) -> str:
    heads = "".join(f'<th scope="col">{t(lang, k)}</th>' for k in ("who", "v_day", "v_accesses", "records"))
    body = []
    for r in rows:
        who = actor(lang, orgs, r.get("actor_org"), r.get("actor_subject"))
        shown = day(datetime.strptime(r["day"], "%Y-%m-%d").date(), lang) if r.get("day") else "—"
        body.append(f"<tr><td>{who}</td><td>{shown}</td><td>{r['accesses']}</td><td>{r['records']}</td></tr>")
    return (f'<div class="wide" role="region" aria-label="{title}" tabindex="0"><table><thead><tr>{heads}</tr>'
            f'</thead><tbody>{"".join(body)}</tbody></table></div>')
