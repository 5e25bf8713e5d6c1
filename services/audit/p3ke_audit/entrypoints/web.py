"""A small server-rendered page for compliance staff, in Indonesian (default) and English.

No JavaScript: forms and links. Sign-in takes a bearer token (from the identity provider, or
`p3ke dev-token` locally) and keeps it in an HttpOnly, SameSite=Strict cookie scoped to /ui, so a
cross-site form cannot use it. The NIK of a subject lookup is POSTed, never put in a URL.
"""

from __future__ import annotations

import base64
from datetime import datetime
from html import escape
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from p3ke_audit.domain.entry import entry_leaf_hash
from p3ke_audit.entrypoints import desk_panels
from p3ke_audit.entrypoints.deps import ROLE, Ctx, integrity_status, record_query, refuse, witnesses_status
from p3ke_audit.entrypoints.dto import WitnessesOut
from p3ke_audit.service_layer import proofs, queries
from p3ke_audit.service_layer.context import AuditContext
from p3ke_audit.service_layer.queries import Filters
from p3ke_audit.service_layer.witnessed import witnessing_status
from p3ke_platform.auth import AuthError, Principal, get_verifier
from p3ke_platform.tlog.merkle import ProofError, verify_inclusion
from p3ke_platform.tlog.note import CheckpointError, open_note

COOKIE = "p3ke_audit_token"
FILTERS = ("actor_subject", "actor_org", "role", "action", "outcome", "resource_id", "program")

TEXT: dict[str, dict[str, str]] = {
    "title": {"id": "Log audit P3KE", "en": "P3KE audit log"},
    "skip": {"id": "Langsung ke isi", "en": "Skip to content"},
    "signin": {"id": "Masuk", "en": "Sign in"},
    "signout": {"id": "Keluar", "en": "Sign out"},
    "token": {"id": "Token akses (bearer)", "en": "Access token (bearer)"},
    "signin_help": {"id": "Tempel token dari penyedia identitas. Hanya peran compliance-auditor.",
                    "en": "Paste a token from the identity provider. Compliance-auditor role only."},
    "search": {"id": "Cari entri", "en": "Search entries"},
    "actor_subject": {"id": "Akun pelaku", "en": "Actor account"},
    "actor_org": {"id": "Instansi", "en": "Organisation"},
    "role": {"id": "Peran", "en": "Role"},
    "action": {"id": "Tindakan", "en": "Action"},
    "outcome": {"id": "Hasil", "en": "Outcome"},
    "resource_id": {"id": "Sumber daya (id)", "en": "Resource (id)"},
    "program": {"id": "Program", "en": "Program"},
    "since": {"id": "Sejak", "en": "Since"},
    "until": {"id": "Sampai", "en": "Until"},
    "submit": {"id": "Cari", "en": "Search"},
    "results": {"id": "Hasil pencarian", "en": "Results"},
    "none": {"id": "Tidak ada entri.", "en": "No entries."},
    "when": {"id": "Waktu (UTC)", "en": "Time (UTC)"},
    "who": {"id": "Pelaku", "en": "Actor"},
    "what": {"id": "Tindakan", "en": "Action"},
    "resource": {"id": "Sumber daya", "en": "Resource"},
    "records": {"id": "Jumlah rekaman", "en": "Records"},
    "key_id": {"id": "Kunci penanda tangan", "en": "Signing key"},
    "subject": {"id": "Jejak subjek data (UU PDP Pasal 32)", "en": "Data subject's trail (UU PDP Art. 32)"},
    "nik": {"id": "NIK (16 digit)", "en": "NIK (16 digits)"},
    "nik_help": {"id": "NIK tidak disimpan; dicari lewat hash berkunci.",
                 "en": "The NIK is not stored; it is looked up by its keyed hash."},
    "integrity": {"id": "Status integritas", "en": "Integrity status"},
    "tree_size": {"id": "Jumlah entri", "en": "Entries"},
    "checkpoint": {"id": "Checkpoint terakhir", "en": "Latest checkpoint"},
    "no_checkpoint": {"id": "Belum ada checkpoint.", "en": "No checkpoint yet."},
    "verification": {"id": "Verifikasi penuh terakhir", "en": "Last full verification"},
    "never": {"id": "Belum pernah.", "en": "Never."},
    "ok": {"id": "Utuh", "en": "Intact"},
    "failed": {"id": "GAGAL", "en": "FAILED"},
    "entry": {"id": "Entri", "en": "Entry"},
    "proof": {"id": "Bukti inklusi", "en": "Inclusion proof"},
    "proof_ok": {"id": "Bukti inklusi sah terhadap checkpoint bertanda tangan ukuran {size}.",
                 "en": "The inclusion proof verifies against the signed checkpoint of size {size}."},
    "proof_bad": {"id": "Bukti inklusi TIDAK sah: {why}", "en": "The inclusion proof does NOT verify: {why}"},
    "pending": {"id": "Belum tercakup checkpoint: {why}", "en": "Not yet covered by a checkpoint: {why}"},
    "back": {"id": "Kembali ke pencarian", "en": "Back to search"},
    "denied": {"id": "Hanya untuk peran compliance-auditor.", "en": "For the compliance-auditor role only."},
    "bad_token": {"id": "Token tidak sah: {why}", "en": "Invalid token: {why}"},
    "bad_query": {"id": "Pencarian tidak sah: {why}", "en": "Invalid search: {why}"},
    "other_lang": {"id": "English", "en": "Bahasa Indonesia"},
    "witnessing": {"id": "Kesaksian (witness)", "en": "Witnessing"},
    "no_witnesses": {"id": "Tidak ada saksi yang dikonfigurasi: checkpoint log ini tidak disaksikan pihak lain.",
                     "en": "No witness is configured: no other party cosigns this log's checkpoints."},
    "witnessed_last": {"id": "Terakhir disaksikan: checkpoint {size} · {when} · oleh {by}",
                       "en": "Last witnessed: checkpoint {size} · {when} · by {by}"},
    "never_witnessed": {"id": "Belum pernah disaksikan oleh kuorum saksi.",
                        "en": "Never witnessed by a quorum of witnesses."},
    "unwitnessed": {"id": "{n} entri terbaru belum disaksikan.", "en": "The newest {n} entries are not yet witnessed."},
    "all_witnessed": {"id": "Semua entri telah disaksikan.", "en": "Every entry is witnessed."},
    "quorum": {"id": "Kuorum: {q} dari {n} saksi", "en": "Quorum: {q} of {n} witnesses"},
    "witness": {"id": "Saksi", "en": "Witness"},
    "state": {"id": "Keadaan", "en": "State"},
    "w_ok": {"id": "aktif; terakhir menandatangani checkpoint {size} pada {when}",
             "en": "active; last cosigned checkpoint {size} at {when}"},
    "w_unreachable": {"id": "tidak dapat dihubungi sejak {since}", "en": "unreachable since {since}"},
    "w_refused": {"id": "menolak", "en": "refuses"},
    "w_behind": {"id": "tertinggal (state saksi mundur)", "en": "behind (its state went back)"},
    "w_not_contacted": {"id": "belum dihubungi", "en": "not contacted yet"},
    "w_never": {"id": "belum pernah berhasil", "en": "never succeeded"},
    "w_tried": {"id": "percobaan terakhir {when}", "en": "last attempt {when}"},
}
TEXT |= desk_panels.TEXT  # the obligations desk's panels (desk_panels.py), written with `_t`

STYLE = """
body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#111;background:#fff}
header,main{max-width:72rem;margin:0 auto;padding:1rem}
header{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:center;gap:.5rem 1rem;
border-bottom:2px solid #114}
header h1{margin:.5rem 0}nav{display:flex;flex-wrap:wrap;align-items:center;gap:1rem}nav form{margin:0}
section{margin:0 0 1.5rem}
a{color:#0645ad}a:focus,button:focus,input:focus{outline:3px solid #f90;outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#ff0;padding:.5rem}
form.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(14rem,1fr));gap:.5rem 1rem}
form.grid>div:last-child{align-self:end}#nik{max-width:20rem;display:block}
.wide{overflow-x:auto;max-width:100%}.wide:focus{outline:3px solid #f90}
label{display:block;font-weight:600}input,textarea{width:100%;padding:.4rem;font:inherit;box-sizing:border-box}
button{padding:.5rem 1rem;font:inherit;background:#114;color:#fff;border:0;cursor:pointer}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #999;padding:.3rem .5rem;text-align:left}
th{background:#eef}caption{font-weight:700;text-align:left;padding:.5rem 0}
.ok{color:#060;font-weight:700}.bad{color:#a00;font-weight:700}code,pre{font-size:.85rem;word-break:break-all}
pre{white-space:pre-wrap;background:#f6f6f6;padding:.5rem}
"""


async def form_fields(request: Request) -> dict[str, str]:
    """An url-encoded form body (the page's forms), read without python-multipart; at most 16 KiB."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise HTTPException(415, "send the form as application/x-www-form-urlencoded")
    body = await request.body()
    if len(body) > 16 * 1024:
        raise HTTPException(413, "form too large")
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), max_num_fields=20).items()}


Form = Annotated[dict[str, str], Depends(form_fields)]


def _lang(request: Request) -> str:
    return "en" if request.query_params.get("lang") == "en" else "id"


def _t(lang: str, key: str, **kw: Any) -> str:
    return escape(TEXT[key][lang].format(**kw))


def _here(request: Request) -> str:
    """This page's address without `lang`, for the language switch: the same page and filters in the
    other language. A POSTed page (a subject lookup) switches on the search page, so nothing from a
    form body (a NIK) ever lands in a URL."""
    if request.method != "GET":
        return "/ui"
    query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "lang" and v])
    return f"{request.url.path}?{query}" if query else request.url.path


def _page(lang: str, title: str, body: str, *, signed_in: bool, status: int = 200, here: str = "/ui") -> HTMLResponse:
    other = "en" if lang == "id" else "id"
    switch = escape(f"{here}{'&' if '?' in here else '?'}lang={other}")
    signout = (f'<form method="post" action="/ui/logout?lang={lang}"><button>{_t(lang, "signout")}</button></form>'
               if signed_in else "")
    html = f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{escape(title)} · {_t(lang, "title")}</title><style>{STYLE}</style></head>
<body><a class="skip" href="#main">{_t(lang, "skip")}</a>
<header><h1><a href="/ui?lang={lang}">{_t(lang, "title")}</a></h1>
<nav><a href="{switch}" hreflang="{other}" lang="{other}">{_t(lang, "other_lang")}</a> {signout}</nav>
</header><main id="main">{body}</main></body></html>"""
    return HTMLResponse(html, status_code=status, headers={
        "Cache-Control": "no-store", "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
        "form-action 'self'; frame-ancestors 'none'", "Referrer-Policy": "no-referrer"})


def _login(lang: str, error: str = "") -> HTMLResponse:
    alert = f'<p role="alert" class="bad">{error}</p>' if error else ""
    body = f"""<h2>{_t(lang, "signin")}</h2>{alert}
<form method="post" action="/ui/login?lang={lang}">
<label for="token">{_t(lang, "token")}</label>
<textarea id="token" name="token" rows="4" required aria-describedby="token-help"></textarea>
<p id="token-help">{_t(lang, "signin_help")}</p><button>{_t(lang, "signin")}</button></form>"""
    return _page(lang, TEXT["signin"][lang], body, signed_in=False, status=401 if error else 200)


def _table(lang: str, rows: list[dict[str, Any]], caption: str) -> str:
    if not rows:
        return f'<p role="status">{_t(lang, "none")}</p>'
    head = "".join(f'<th scope="col">{_t(lang, k)}</th>' for k in ("entry", "when", "who", "what", "outcome",
                                                                    "resource", "program", "records",
                                                                    "key_id"))
    body = []
    for r in rows:
        leaf = r.get("leaf_index")
        link = f'<a href="/ui/entries/{leaf}?lang={lang}">#{leaf}</a>' if leaf is not None else "—"
        when = r["occurred_at"].strftime("%Y-%m-%d %H:%M:%S") if isinstance(r["occurred_at"], datetime) else ""
        who = f'{escape(r.get("actor_org") or "")} / {escape(r.get("actor_subject") or "")}'
        resource = f'{escape(r.get("resource_type") or "")}: {escape(r.get("resource_id") or "")}'
        body.append(f"<tr><td>{link}</td><td>{when}</td><td>{who}</td><td>{escape(r.get('action') or '')}</td>"
                    f"<td>{escape(r.get('outcome') or '')}</td><td>{resource}</td>"
                    f"<td>{escape(r.get('program') or '')}</td><td>{r.get('record_count', 0)}</td>"
                    f"<td><code>{escape(r.get('key_id') or '—')}</code></td></tr>")
    # a narrow screen scrolls the table, not the page (the region is focusable for keyboard scrolling)
    return (f'<div class="wide" role="region" aria-label="{escape(caption)}" tabindex="0">'
            f'<table><caption>{escape(caption)}</caption><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


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
        return None, _login(lang, _t(lang, "bad_token", why=error) if error else "")
    if ROLE not in principal.roles:
        refuse(ctx, principal, request)  # recorded like a refused API call; the page answers the 403
        return None, _page(lang, TEXT["denied"][lang], f'<p role="alert" class="bad">{_t(lang, "denied")}</p>',
                           signed_in=True, status=403, here=_here(request))
    return principal, None


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S} UTC" if value else "—"


def witness_panel(lang: str, w: WitnessesOut) -> str:
    """When the log was last witnessed and by whom, whether the newest entries are not, each witness's state."""
    head = f'<section aria-labelledby="witnessing"><h2 id="witnessing">{_t(lang, "witnessing")}</h2>'
    if not w.witnesses:
        return f'{head}<p class="bad">{_t(lang, "no_witnesses")}</p></section>'
    last = (_t(lang, "witnessed_last", size=w.latest_witnessed_size, when=_when(w.latest_witnessed_at),
               by=", ".join(w.latest_witnessed_by)) if w.latest_witnessed_size else _t(lang, "never_witnessed"))
    pending = (f'<p class="bad" role="status">{_t(lang, "unwitnessed", n=w.unwitnessed_entries)}</p>'
               if w.unwitnessed_entries else f'<p class="ok">{_t(lang, "all_witnessed")}</p>')
    rows = []
    for one in w.witnesses:
        if one.status == "ok":
            ok = _t(lang, "w_ok", size=one.cosigned_size, when=_when(one.last_success_at))
            state = f'<span class="ok">{ok}</span>'
        elif one.status == "unreachable":
            since = _when(one.last_success_at) if one.last_success_at else TEXT["w_never"][lang]
            state = f'<span class="bad">{_t(lang, "w_unreachable", since=since)}</span>'
        elif one.status in ("refused", "behind"):
            state = f'<span class="bad">{_t(lang, "w_" + one.status)}</span>'
        else:
            state = _t(lang, "w_not_contacted")
        detail = f": {escape(one.last_error)}" if one.last_error and one.status != "ok" else ""
        tried = f'<br><small>{_t(lang, "w_tried", when=_when(one.last_attempt_at))}</small>' \
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
    cp_html = (f"<p>{_t(lang, 'checkpoint')}: {cp.tree_size} · {cp.issued_at:%Y-%m-%d %H:%M:%S} UTC</p>"
               f"<pre>{escape(cp.note)}</pre>") if cp else f"<p>{_t(lang, 'no_checkpoint')}</p>"
    v = status.last_verification
    v_html = (f'<p>{_t(lang, "verification")}: <span class="{"ok" if v.ok else "bad"}">'
              f'{_t(lang, "ok" if v.ok else "failed")}</span> · {v.finished_at:%Y-%m-%d %H:%M:%S} UTC · '
              f'{escape(v.message)}</p>') if v else f"<p>{_t(lang, 'verification')}: {_t(lang, 'never')}</p>"
    return (f'<section aria-labelledby="integrity"><h2 id="integrity">{_t(lang, "integrity")}</h2>'
            f"<p>{_t(lang, 'tree_size')}: {status.tree_size}</p>{cp_html}{v_html}</section>"
            + witness_panel(lang, witnessing))


def search_form(lang: str, values: dict[str, str]) -> str:
    fields = "".join(
        f'<div><label for="{k}">{_t(lang, k)}</label><input id="{k}" name="{k}" '
        f'value="{escape(values.get(k, ""))}"></div>' for k in FILTERS)
    fields += "".join(
        f'<div><label for="{k}">{_t(lang, k)}</label><input id="{k}" name="{k}" type="datetime-local" '
        f'value="{escape(values.get(k, ""))}"></div>' for k in ("since", "until"))
    return (f'<section aria-labelledby="search"><h2 id="search">{_t(lang, "search")}</h2>'
            f'<form class="grid" method="get" action="/ui"><input type="hidden" name="lang" value="{lang}">'
            f'{fields}<div><button>{_t(lang, "submit")}</button></div></form></section>'
            f'<section aria-labelledby="subject"><h2 id="subject">{_t(lang, "subject")}</h2>'
            f'<form method="post" action="/ui/subject?lang={lang}"><label for="nik">{_t(lang, "nik")}</label>'
            f'<input id="nik" name="nik" inputmode="numeric" pattern="[0-9]{{16}}" autocomplete="off" required '
            f'aria-describedby="nik-help"><p id="nik-help">{_t(lang, "nik_help")}</p>'
            f'<button>{_t(lang, "submit")}</button></form></section>')


@router.get("", response_class=HTMLResponse)
def home(request: Request, ctx: Ctx) -> HTMLResponse:
    lang = _lang(request)
    principal, refusal = guard(request, ctx)
    if refusal:
        return refusal
    assert principal is not None
    values = {k: v for k, v in request.query_params.items() if k in (*FILTERS, "since", "until") and v}
    results = ""
    if values:
        try:
            f = Filters(**{k: v for k, v in values.items() if k in FILTERS},
                        since=_local(values.get("since")), until=_local(values.get("until")))
        except ValueError as exc:
            results = f'<p role="alert" class="bad">{_t(lang, "bad_query", why=str(exc))}</p>'
        else:
            with ctx.sessions() as session:
                rows = queries.page(session, f, limit=200)
            record_query(ctx, principal, resource_id="ui:entries", count=len(rows), what=f.describe())
            results = _table(lang, rows, TEXT["results"][lang])
    body = (search_form(lang, values) + f'<section aria-live="polite">{results}</section>'
            + desk_panels.render(ctx, principal, lang, _t) + integrity_panel(ctx, lang))
    return _page(lang, TEXT["search"][lang], body, signed_in=True, here=_here(request))


@router.post("/login")
def login(request: Request, form: Form) -> Any:
    lang = _lang(request)
    token = form.get("token", "")
    try:
        get_verifier(request).verify(token.strip())
    except AuthError as exc:
        return _login(lang, _t(lang, "bad_token", why=exc.detail))
    response = RedirectResponse(f"/ui?lang={lang}", status_code=303)
    response.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict", path="/ui",
                        secure=request.url.scheme == "https", max_age=8 * 3600)
    return response


@router.post("/logout")
def logout(request: Request) -> RedirectResponse:
    response = RedirectResponse(f"/ui?lang={_lang(request)}", status_code=303)
    response.delete_cookie(COOKIE, path="/ui")
    return response


@router.post("/subject", response_class=HTMLResponse)
def subject(request: Request, ctx: Ctx, form: Form) -> HTMLResponse:
    lang = _lang(request)
    principal, refusal = guard(request, ctx)
    if refusal:
        return refusal
    assert principal is not None
    nik = form.get("nik", "").strip()
    if not (len(nik) == 16 and nik.isdigit()):
        results = f'<p role="alert" class="bad">{_t(lang, "nik")}</p>'
    else:
        with ctx.sessions() as session:
            rows = queries.page(session, Filters(subject_refs=ctx.subject_lookup_refs(nik)), limit=500)
        record_query(ctx, principal, resource_id="ui:subject-trail", count=len(rows), niks=[nik])
        results = _table(lang, rows, TEXT["subject"][lang])
    body = search_form(lang, {}) + f'<section aria-live="polite">{results}</section>'
    return _page(lang, TEXT["subject"][lang], body, signed_in=True)


@router.get("/entries/{leaf_index}", response_class=HTMLResponse)
def entry(request: Request, ctx: Ctx, leaf_index: int) -> HTMLResponse:
    lang = _lang(request)
    principal, refusal = guard(request, ctx)
    if refusal:
        return refusal
    assert principal is not None
    with ctx.sessions() as session:
        row = queries.entry_at(session, leaf_index)
        if row is None:
            return _page(lang, TEXT["entry"][lang], f'<p role="alert">{_t(lang, "none")}</p>',
                         signed_in=True, status=404, here=_here(request))
        try:
            inc: proofs.Inclusion | None = proofs.inclusion(session, leaf_index)
            pending = ""
        except proofs.NotFound as exc:
            inc, pending = None, str(exc)
    record_query(ctx, principal, resource_id=f"ui:entry:{leaf_index}", count=1)
    details = "".join(f'<tr><th scope="row">{escape(k)}</th><td><code>{escape(str(v))}</code></td></tr>'
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
    return _page(lang, f"{TEXT['entry'][lang]} #{leaf_index}", body, signed_in=True, here=_here(request))


def _local(value: str | None) -> datetime | None:
    """A `datetime-local` field (no zone) is a Jakarta time."""
    if not value:
        return None
    from p3ke_platform.agreement import WIB

    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=WIB)
