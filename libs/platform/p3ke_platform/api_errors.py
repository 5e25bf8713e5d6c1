"""Every error answer of every service, in the caller's language: Bahasa Indonesia unless English is asked for
(`Accept-Language: en` or `?lang=en`, `p3ke_platform.i18n.negotiate`), from the `api` catalogue (PO domain `api`)
and the services' own catalogues.

An error answer is `{"detail": <the reason in the negotiated language>, "code": <a stable English code>}`; a
refusal (`p3ke_platform.refusal.Refused`) adds its `rule` (also in the `X-P3KE-Refusal` header). A validation
error (422) keeps FastAPI's list in `detail`, one item per problem with pydantic's machine fields `type` and `loc`
and `msg`, a sentence naming the field and what to send; it never echoes the value sent (it may be a NIK or a
name), and NIK-shaped numbers in any error text are masked (`p3ke_platform.logging.redact_text`).

`install_error_handlers(app)` registers the handlers; `LocalizedHTTPException` is an `HTTPException` whose
reason is a catalogue `Message` (its plain `detail` is the "Indonesian / English" text, for an app without these
handlers); `refusal_exception(refused)` is the answer of a `Refused` that needs no audit record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from p3ke_platform import i18n
from p3ke_platform.logging import redact_text
from p3ke_platform.refusal import Message, Refused, messages

M = messages("api")

CODES: Mapping[int, str] = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    406: "not_acceptable", 409: "conflict", 410: "gone", 413: "too_large", 415: "unsupported_media_type",
    422: "invalid_input", 429: "too_many_requests", 503: "unavailable",
}
"""The code of an error answer that carries no catalogue message of its own, by status."""


class Problem(BaseModel):
    """Every error answer: a human-readable reason in the caller's language and a stable code, never
    personal data."""

    detail: str | list[Any]
    code: str | None = None
    rule: str | None = None


class LocalizedHTTPException(HTTPException):
    """An HTTP error whose reason is a catalogue message, rendered in the caller's language by the handler."""

    def __init__(self, status: int, message: Message, *, headers: Mapping[str, str] | None = None,
                 rule: str | None = None) -> None:
        super().__init__(status, message.both(), headers=dict(headers) if headers else None)
        self.message = message
        self.rule = rule


def refusal_exception(refused: Refused, headers: Mapping[str, str] | None = None) -> HTTPException:
    """The answer of a refusal, with its rule in `X-P3KE-Refusal` (auditing it is the caller's: see
    `p3ke_platform.api.refusal_answer`)."""
    merged = {"X-P3KE-Refusal": refused.rule, **(headers or {})}
    if refused.message is not None:
        return LocalizedHTTPException(refused.status, refused.message, headers=merged, rule=refused.rule)
    exc = HTTPException(refused.status, refused.reason, headers=merged)
    exc.rule = refused.rule  # type: ignore[attr-defined]
    return exc


def message_text(message: Message, lang: i18n.Lang) -> str:
    return redact_text(message.render(lang))


def scope_language(scope: Mapping[str, Any]) -> i18n.Lang:
    """The language of a raw ASGI request (for middleware that answers before a `Request` exists)."""
    headers = dict(scope.get("headers") or [])
    query = parse_qs((scope.get("query_string") or b"").decode("latin-1"))
    accept = headers.get(b"accept-language", b"").decode("latin-1") or None
    return i18n.negotiate(accept, (query.get("lang") or [None])[0])


def error_body(status: int, detail: Any, *, code: str | None = None, rule: str | None = None,
               **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"detail": detail, "code": code or CODES.get(status, f"http_{status}")}
    if rule:
        body["rule"] = rule
    body.update(extra)
    return body


async def http_problem(request: Request, exc: Exception) -> Response:
    """An HTTPException (a route's, a refusal's, or Starlette's own 404/405) in the caller's language."""
    assert isinstance(exc, StarletteHTTPException)
    lang = i18n.request_language(request)
    status = exc.status_code
    code: str | None = None
    detail: Any = exc.detail
    message = getattr(exc, "message", None) or (exc.detail if isinstance(exc.detail, Message) else None)
    if isinstance(message, Message):
        detail, code = message_text(message, lang), message.key
    elif isinstance(detail, str) and detail == HTTPStatus(status).phrase and i18n.has("api", f"http.{status}"):
        detail = message_text(M(f"http.{status}"), lang)  # Starlette's own answer ("Not Found", ...)
    elif isinstance(detail, str):
        detail = redact_text(detail)
    else:
        detail = jsonable_encoder(detail)
    headers = dict(exc.headers or {})
    if status in (204, 304) or (status < 200):
        return Response(status_code=status, headers=headers)
    body = error_body(status, detail, code=code, rule=getattr(exc, "rule", None))
    headers["Content-Language"] = lang
    return JSONResponse(body, status_code=status, headers=headers)


async def refused_problem(request: Request, exc: Exception) -> Response:
    """A `Refused` no route turned into an answer: answered with its status and reason (not audited here)."""
    assert isinstance(exc, Refused)
    return await http_problem(request, refusal_exception(exc))


# pydantic's error types -> catalogue keys (`validation.<type>`); the rest fall back to `validation.other`
_PLACES = {"body": "place.body", "query": "place.query", "path": "place.path", "header": "place.header",
           "cookie": "place.cookie"}
_PARAMS = ("max_length", "min_length", "gt", "ge", "lt", "le", "expected", "pattern", "multiple_of",
           "max_digits", "decimal_places")


def _field(loc: Sequence[Any], lang: i18n.Lang) -> tuple[str, str]:
    parts = [redact_text(p) if isinstance(p, str) else p for p in loc]
    where = ""
    if parts and isinstance(parts[0], str) and parts[0] in _PLACES:
        where = M(_PLACES[parts[0]]).render(lang)
        parts = parts[1:]
    name = ".".join(str(p) for p in parts) or M("field.whole").render(lang)
    return name, where


def validation_message(error: Mapping[str, Any], lang: i18n.Lang) -> str:
    """One validation problem as a sentence in `lang`: which field, what is wrong, what to send. Never the
    value sent; a custom validator's own reason (ours, `value_error`) is kept, masked."""
    kind = str(error.get("type") or "")
    name, where = _field(error.get("loc") or (), lang)
    ctx = error.get("ctx") or {}
    params = {p: redact_text(str(ctx[p])) for p in _PARAMS if p in ctx}
    key = f"validation.{kind}"
    if kind in ("value_error", "assertion_error"):  # our own validators' reasons (before the placeholder check)
        reason = str(error.get("msg", ""))
        for prefix in ("Value error, ", "Assertion failed, "):
            reason = reason.removeprefix(prefix)
        params = {"reason": redact_text(reason)}
    if not i18n.has("api", key) or set(_placeholders(i18n.t("api", key, "id"))) - {"field", "where", *params}:
        key = "validation.other"
    if key == "validation.other":
        params = {"kind": kind or "?"}
    field = M("field.in", field=name, where=where).render(lang) if where else M("field.plain", field=name).render(lang)
    return M(key, field=field, **params).render(lang)


def _placeholders(text: str) -> list[str]:
    import string

    return [name for _, name, _, _ in string.Formatter().parse(text) if name]


def safe_error(error: Mapping[str, Any], lang: i18n.Lang = i18n.DEFAULT) -> dict[str, Any]:
    """A validation error without the offending value: pydantic's type and location, and our sentence."""
    loc = [redact_text(part) if isinstance(part, str) else part for part in error.get("loc", ())]
    return {"type": error.get("type"), "loc": loc, "msg": validation_message(error, lang)}


async def validation_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    lang = i18n.request_language(request)
    errors = [safe_error(e, lang) for e in exc.errors()]
    body = error_body(422, jsonable_encoder(errors), message=M("validation.summary", count=len(errors)).render(lang))
    return JSONResponse(body, status_code=422, headers={"Content-Language": lang})


def too_large_response(scope: Mapping[str, Any], limit: int) -> JSONResponse:
    """413 for a JSON body over `limit` bytes (`p3ke_platform.api.JsonBodyLimit`)."""
    lang = scope_language(scope)
    text = message_text(M("json_too_large", limit=f"{limit:,}".replace(",", "." if lang == "id" else ",")), lang)
    return JSONResponse(error_body(413, text), status_code=413, headers={"Content-Language": lang})


def too_many_requests_response(request: Request, per_minute: int, seconds: int) -> JSONResponse:
    """429 with `Retry-After` (`p3ke_platform.api`'s rate limit)."""
    lang = i18n.request_language(request)
    text = message_text(M("rate_limited", per_minute=per_minute, seconds=seconds), lang)
    return JSONResponse(error_body(429, text), status_code=429,
                        headers={"Retry-After": str(seconds), "Content-Language": lang})


def install_error_handlers(app: FastAPI) -> None:
    """Every error answer of `app` in the caller's language, with a stable code."""
    app.add_exception_handler(RequestValidationError, validation_problem)
    app.add_exception_handler(StarletteHTTPException, http_problem)
    app.add_exception_handler(Refused, refused_problem)


__all__ = ["CODES", "LocalizedHTTPException", "Problem", "error_body", "http_problem", "install_error_handlers",
           "refusal_exception", "safe_error", "scope_language", "too_large_response", "too_many_requests_response",
           "validation_message", "validation_problem"]
