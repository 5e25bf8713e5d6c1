"""The obligations desk on the compliance page (web.py's home): the PKS obligations overdue, due soon and open;
the open incidents with their 72-hour clock and the notices still missing; the open data-subject requests with
their due time.

Read through the service layer (the obligation store's listing and `obligations.status_of`, the incident
register's and the subject requests' listings, which compute each clock from `ctx.clock`), in one session. The
page writes nothing but the record of the read in the log, as the API records a read of the incident register and
of the requests. No NIK reaches this module: incidents and requests name their subjects by keyed reference only,
and the page shows neither. Messages are the `web` catalogue's (`desk_*` ids in web.po), written with web_text's `t`;
times are WIB with the UTC instant on hover (`web_text.when`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from html import escape
from typing import Any, Protocol

from p3ke_audit.adapters import obligation_store as store
from p3ke_audit.domain import incidents as incident_rules
from p3ke_audit.domain import obligations as rules
from p3ke_audit.entrypoints.subject_requests_api import PURPOSE as REQUESTS_PURPOSE
from p3ke_audit.entrypoints.subject_requests_api import RESOURCE as REQUESTS_RESOURCE
from p3ke_audit.entrypoints.web_text import day, when
from p3ke_audit.entrypoints.web_text import label as code_label
from p3ke_audit.service_layer import incidents as register
from p3ke_audit.service_layer import obligations
from p3ke_audit.service_layer import subject_requests as requests_desk
from p3ke_audit.service_layer.context import AuditContext
from p3ke_platform.auth import Principal

LIMIT = 200
"""Rows per list on the page; the API (`GET /v1/obligations`, `/v1/incidents`, `/v1/subject-requests`) has all."""
OBLIGATION_GROUPS = ("overdue", "due-soon", "open")
INCIDENTS_PURPOSE = "register insiden / incident register (UU PDP Pasal 46)"

OBLIGATION_KIND = "obligation_kind"
"""The `web` catalogue's labels of the obligation kinds (`obligation_kind.<kind>`, both languages)."""
REQUEST_KIND = "request_kind"
"""The `web` catalogue's labels of the data-subject request kinds (`request_kind.<kind>`, both languages)."""


class Translate(Protocol):
    """web_text's `t`: the message `key` of the `web` catalogue in `lang`, formatted and HTML-escaped."""

    def __call__(self, lang: str, key: str, **kw: Any) -> str: ...


@dataclass(frozen=True)
class Desk:
    """What the page shows, read at one instant."""

    today: date
    obligations: list[tuple[store.Row, rules.Status]]
    incidents: list[dict[str, Any]]
    requests: list[dict[str, Any]]


def read_desk(ctx: AuditContext) -> Desk:
    """The unfulfilled obligations (status as of today), the open incidents and the open requests (each clock as
    of now), by due date."""
    now, today = ctx.clock(), obligations.today(ctx)
    with ctx.sessions() as session:
        rows = store.listing(session, today=today, due_soon_days=ctx.settings.obligation_due_soon_days,
                             status="unfulfilled", limit=LIMIT)
        incidents = [i for status in ("open", "notices-overdue")
                     for i in register.listing(session, now, status=status, after=None, limit=LIMIT)]
        requests = requests_desk.listing(session, now, status="open", kind=None, after=None, limit=LIMIT)
    return Desk(today=today, obligations=[(r, obligations.status_of(ctx, r, today)) for r in rows],
                incidents=sorted(incidents, key=lambda i: i["due_at"])[:LIMIT],
                requests=sorted(requests, key=lambda r: r["due_at"]))


def record_read(ctx: AuditContext, principal: Principal, desk: Desk) -> None:
    """The read of the incident register and of the requests, recorded in the log as the API records them (the
    requests' subjects by keyed reference)."""
    with ctx.unit_of_work() as uow:
        uow.record_access(actor=principal.actor(), action="query", resource_type="audit-log",
                          resource_id="ui:incidents", record_count=len(desk.incidents), purpose=INCIDENTS_PURPOSE)
        uow.record_access(actor=principal.actor(), action="read", resource_type=REQUESTS_RESOURCE,
                          resource_id="ui:list", subject_refs=sorted({r["subject_ref"] for r in desk.requests}),
                          record_count=len(desk.requests), purpose=REQUESTS_PURPOSE)


def render(ctx: AuditContext, principal: Principal, lang: str, t: Translate) -> str:
    """The three panels of the home page, the read recorded."""
    desk = read_desk(ctx)
    record_read(ctx, principal, desk)
    return obligations_panel(desk, lang, t) + incidents_panel(desk, lang, t) + requests_panel(desk, lang, t)


def _table(label: str, heads: list[str], rows: list[str], *, caption: bool = True) -> str:
    """A table (captioned unless a heading names it); a narrow screen scrolls it, not the page (the region is
    focusable, as web.py's)."""
    head = "".join(f'<th scope="col">{h}</th>' for h in heads)
    title = f"<caption>{label}</caption>" if caption else ""
    return (f'<div class="wide" role="region" aria-label="{label}" tabindex="0"><table>{title}'
            f'<thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


def _more(lang: str, t: Translate, shown: int, path: str) -> str:
    return f'<p role="status">{t(lang, "desk_more", n=LIMIT, path=path)}</p>' if shown >= LIMIT else ""


def _article(lang: str, article: str) -> str:
    return article if lang == "id" else article.replace("Pasal ", "Art. ").replace(" ayat ", "")


def _days(lang: str, t: Translate, days: int) -> str:
    if days == 0:
        return t(lang, "desk_today")
    return t(lang, "desk_days_late", n=-days) if days < 0 else t(lang, "desk_days_left", n=days)


def _clock(lang: str, t: Translate, hours_left: float) -> str:
    minutes = round(abs(hours_left) * 60)
    key = "desk_hours_late" if hours_left < 0 else "desk_hours_left"
    return t(lang, key, h=minutes // 60, m=minutes % 60)


def obligations_panel(desk: Desk, lang: str, t: Translate) -> str:
    """Kewajiban dan tenggat: one table per status (overdue, due soon, open)."""
    heads = [t(lang, k) for k in ("desk_obligation", "desk_article", "desk_party", "desk_due", "desk_status")]
    groups = []
    for group in OBLIGATION_GROUPS:
        rows = []
        for row, status in desk.obligations:
            if status != group:
                continue
            kind = row["kind"]
            name = code_label(lang, OBLIGATION_KIND, kind)
            party = t(lang, "desk_both") if row["party"] == rules.BOTH else escape(row["party"])
            days = (row["due_date"] - desk.today).days
            cls = ' class="bad"' if status == "overdue" else ""
            rows.append(f'<tr id="obligation-{escape(row["id"])}"><th scope="row">{escape(name)}<br><small>'
                        f'<code>{escape(row["id"])}</code> · {escape(row["title"])}</small></th>'
                        f'<td>{escape(_article(lang, row["article"]))}</td><td>{party}</td>'
                        f'<td>{day(row["due_date"], lang)}<br><small>{_days(lang, t, days)}</small></td>'
                        f'<td><span{cls}>{t(lang, "desk_st_" + status)}</span></td></tr>')
        label = t(lang, f"desk_{group}", n=len(rows))
        table = _table(label, heads, rows, caption=False) if rows else f'<p>{t(lang, "desk_nothing")}</p>'
        groups.append(f'<h3 id="desk-{group}">{label}</h3>{table}')
    return (f'<section aria-labelledby="desk-obligations"><h2 id="desk-obligations">{t(lang, "desk_obligations")}'
            f'</h2>{"".join(groups)}{_more(lang, t, len(desk.obligations), "GET /v1/obligations")}</section>')


def incidents_panel(desk: Desk, lang: str, t: Translate) -> str:
    """Open incidents: the 72-hour clock and the notices not yet recorded."""
    at = 0 if lang == "id" else 1
    heads = [t(lang, k) for k in ("desk_incident", "desk_discovered", "desk_due_72h", "desk_time_left",
                                  "desk_missing", "desk_status")]
    rows = []
    for i in desk.incidents:
        late = i["status"] == "notices-overdue"
        missing = ", ".join(incident_rules.RECIPIENT_LABELS[r][at] for r in i["notices_missing"])
        missing_html = (f'<span class="bad">{escape(missing)}</span>' if missing and late
                        else escape(missing) or t(lang, "desk_all_sent"))
        status = f'<span class="bad">{t(lang, "desk_st_" + i["status"])}</span>' if late \
            else t(lang, "desk_st_" + i["status"])
        rows.append(f'<tr id="incident-{escape(i["incident_id"])}"><th scope="row"><code>{escape(i["incident_id"])}'
                    f'</code><br><small>{escape(i["title"])}</small></th><td>{when(i["discovered_at"], lang)}</td>'
                    f'<td>{when(i["due_at"], lang)}</td><td>{_clock(lang, t, i["hours_left"])}</td>'
                    f"<td>{missing_html}</td><td>{status}</td></tr>")
    caption = t(lang, "desk_incidents")
    table = _table(caption, heads, rows, caption=False) if rows else f'<p>{t(lang, "desk_nothing")}</p>'
    return (f'<section aria-labelledby="desk-incidents"><h2 id="desk-incidents">{caption}</h2>{table}'
            f'{_more(lang, t, len(desk.incidents), "GET /v1/incidents")}</section>')


def requests_panel(desk: Desk, lang: str, t: Translate) -> str:
    """Open data-subject requests and their due time; never a NIK (the rows hold none) nor the keyed reference."""
    heads = [t(lang, k) for k in ("desk_request", "desk_kind", "desk_office", "desk_received", "desk_due_72h",
                                  "desk_time_left", "desk_routed")]
    rows = []
    for r in desk.requests:
        kind = code_label(lang, REQUEST_KIND, r["kind"])
        clock = _clock(lang, t, r["hours_left"])
        clock = f'<span class="bad">{clock}</span>' if r["overdue"] else clock
        rows.append(f'<tr id="request-{escape(r["request_id"])}"><th scope="row"><code>{escape(r["request_id"])}'
                    f'</code></th><td>{escape(kind)}</td><td>{escape(r["office"])}</td>'
                    f'<td>{when(r["received_at"], lang)}</td><td>{when(r["due_at"], lang)}</td>'
                    f"<td>{clock}</td>"
                    f'<td>{escape(r["routed_to_org"] or "") or t(lang, "desk_either")}</td></tr>')
    caption = t(lang, "desk_requests")
    table = _table(caption, heads, rows, caption=False) if rows else f'<p>{t(lang, "desk_nothing")}</p>'
    return (f'<section aria-labelledby="desk-requests"><h2 id="desk-requests">{caption}</h2>{table}'
            f'{_more(lang, t, len(desk.requests), "GET /v1/subject-requests")}</section>')
