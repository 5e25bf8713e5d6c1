"""The retention panel on the compliance page (web.py's home), "Jadwal retensi / pemusnahan": per service that keeps
artefacts (P3KE_AUDIT_RETENTION_SOURCES), what is past its due time and what falls due in the next `WITHIN_DAYS`
days under the retention schedule, with the rule's reason, and which legal hold (incident) keeps an artefact that
is due. A service that did not answer gets a line saying so and why (never a silent gap), and so does one that could
not read the legal holds.

Each service is asked `GET /v1/retention/due` (p3ke_platform/retention/api.py) with the signed-in official's own
token (it checks the role and records the read in its log); the page records its own read (`ui:retention`) as the
other panels do. Artefacts are named by kind, resource type and id: nothing of a data subject, no file path.
Messages are the `web` catalogue's (`ret_*` ids in web.po), times in WIB with the UTC instant on hover.
"""

from __future__ import annotations

from html import escape

from p3ke_audit.entrypoints.deps import record_query
from p3ke_audit.entrypoints.web_text import Html, t, when
from p3ke_audit.service_layer.context import AuditContext
from p3ke_audit.service_layer.retention_schedules import ServiceSchedule, collect
from p3ke_platform.auth import Principal
from p3ke_platform.retention.api import DueArtefact, RetentionDueOut

WITHIN_DAYS = 30
LIMIT = 200
"""Artefacts per service on the page; the service's API (`limit` up to 1000) and `p3ke retention show` have all."""


def _words(lang: str, both: str | None) -> str:
    """One language of an "Indonesian / English" text."""
    if not both:
        return ""
    first, sep, second = both.partition(" / ")
    return (second if lang == "en" else first) if sep else both


def render(ctx: AuditContext, principal: Principal, lang: str, token: str) -> str:
    """The panel: every configured service asked with the official's token; the read recorded."""
    sources = ctx.settings.audit_retention_sources
    answers = collect(sources, authorization=f"Bearer {token}", within_days=WITHIN_DAYS, limit=LIMIT,
                      timeout_s=ctx.settings.audit_retention_source_timeout_s)
    record_query(ctx, principal, resource_id="ui:retention",
                 count=sum(len(a.answer.items) for a in answers if a.answer is not None),
                 what={"within_days": str(WITHIN_DAYS),
                       "unanswered": ",".join(a.service for a in answers if a.answer is None)})
    return panel(answers, lang, configured=bool(sources))


def panel(answers: list[ServiceSchedule], lang: str, *, configured: bool = True) -> str:
    head = f'<section aria-labelledby="retention"><h2 id="retention">{t(lang, "ret_title")}</h2>'
    if not configured:
        return f'{head}<p role="status" class="bad">{t(lang, "ret_no_sources")}</p></section>'
    ends = next((a.answer.agreement_ends_at for a in answers if a.answer is not None), None)
    intro = t(lang, "ret_intro", days=WITHIN_DAYS)
    if ends is not None:
        intro += " " + t(lang, "ret_agreement_ends", when=when(ends, lang))
    parts = [f"<p>{intro}</p>"]
    missing = [a.service for a in answers if a.answer is None]
    if missing:
        parts.append(f'<p role="status" class="bad" id="ret-unanswered">'
                     f'{t(lang, "ret_unanswered", services=", ".join(missing))}</p>')
    parts += [_service(a, lang) for a in answers]
    return head + "".join(parts) + "</section>"


def _service(schedule: ServiceSchedule, lang: str) -> str:
    name = schedule.service
    title = f'<h3 id="ret-{escape(name)}">{t(lang, "ret_service", service=name)}</h3>'
    answer = schedule.answer
    if answer is None:
        return (f'{title}<p role="status" class="bad" id="ret-{escape(name)}-problem">'
                f'{t(lang, "ret_no_answer", service=name, why=_words(lang, schedule.problem))}</p>')
    counts = t(lang, "ret_counts", overdue=answer.overdue, upcoming=answer.upcoming, held=answer.held,
               not_started=answer.not_started, total=answer.artefacts, at=when(answer.generated_at, lang))
    parts = [title, f'<p id="ret-{escape(name)}-counts">{counts}</p>']
    if not answer.holds_checked:
        parts.append(f'<p role="status" class="bad" id="ret-{escape(name)}-holds">'
                     f'{t(lang, "ret_holds_unknown", why=_words(lang, answer.holds_problem))}</p>')
    if answer.items:
        parts.append(_table(answer, lang))
        if len(answer.items) >= LIMIT:
            parts.append(f'<p role="status">{t(lang, "ret_more", n=LIMIT, service=name)}</p>')
    else:
        parts.append(f'<p>{t(lang, "ret_nothing", days=WITHIN_DAYS)}</p>')
    return "".join(parts)


def _table(answer: RetentionDueOut, lang: str) -> str:
    label = t(lang, "ret_service", service=answer.service)
    heads = "".join(f'<th scope="col">{t(lang, k)}</th>' for k in
                    ("ret_status", "ret_due", "ret_kind", "ret_artefact", "ret_reason", "ret_held_by"))
    rows = "".join(_row(item, lang) for item in answer.items)
    return (f'<div class="wide" role="region" aria-label="{label}" tabindex="0"><table><thead><tr>{heads}</tr>'
            f'</thead><tbody>{rows}</tbody></table></div>')


def _row(item: DueArtefact, lang: str) -> str:
    en = lang == "en"
    status = t(lang, f"ret_st_{item.status}")
    if item.status == "overdue":
        status = f'<span class="bad">{status}</span>'
    if item.awaiting_certificate:
        status += f'<br><small>{t(lang, "ret_awaiting_certificate")}</small>'
    kind = escape(item.kind_en if en else item.kind_id)
    rule = escape(f"{item.rule_en if en else item.rule_id} — {item.basis_en if en else item.basis_id}")
    reason = escape((item.reason_en if en else item.reason_id) or "")
    sha = f'<br><small title="SHA-256">{escape(item.sha256[:16])}…</small>' if item.sha256 else ""
    held = (f'<span class="bad">{t(lang, "ret_held", incidents=", ".join(item.held_by))}</span>' if item.held_by
            else t(lang, "ret_not_held"))
    return (f'<tr data-kind="{escape(item.kind)}" data-resource="{escape(item.resource_id)}"><td>{status}</td>'
            f'<td>{when(item.due_at, lang) if item.due_at else Html("—")}</td>'
            f'<td><span title="{rule}">{kind}</span> <small>(<code>{escape(item.kind)}</code>)</small></td>'
            f'<td>{escape(item.resource_type)}: <code>{escape(item.resource_id)}</code>{sha}</td>'
            f"<td>{reason}</td><td>{held}</td></tr>")
