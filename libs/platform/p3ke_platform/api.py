"""The FastAPI app every service serves: its routers plus health, readiness, Prometheus metrics and the API
description (the last two public, authenticated or off: p3ke_platform.ops_endpoints).

The outbox relay runs in the API process by default (a thread), so an embedded setup needs no
third process; set P3KE_RELAY_IN_API=false to run relays as their own deployment.

Every caller gets a token bucket (`P3KE_RATE_LIMIT_PER_MINUTE`, OWASP API4): beyond it the answer is
429 with `Retry-After`. Error answers never echo input values: validation errors say which field and
why, without the value (it may be a NIK or a name), and NIK-shaped numbers in any error text are masked.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import Counter, Histogram

from p3ke_platform import ops_endpoints
from p3ke_platform.api_errors import (
    Problem,
    install_error_handlers,
    refusal_exception,
    too_large_response,
    too_many_requests_response,
)
from p3ke_platform.auth import AuthError, Principal, TokenVerifier
from p3ke_platform.logging import correlation, get_logger
from p3ke_platform.refusal import Refused
from p3ke_platform.service import Runtime
from p3ke_platform.service_context import ServiceContext

REQUESTS = Counter("p3ke_http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
THROTTLED = Counter("p3ke_http_throttled_total", "requests refused with 429 (rate limit)", ["service"])
LATENCY = Histogram("p3ke_http_request_seconds", "HTTP request latency", ["service", "method", "route"])
log = get_logger(__name__)


# documented on every service route, so clients (and schemathesis) know what a refusal looks like
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The request is malformed"},
    401: {"model": Problem, "description": "No valid bearer token"},
    403: {"model": Problem, "description": "The caller's org or role may not do this"},
    404: {"model": Problem, "description": "No such object (or not visible to the caller)"},
    409: {"model": Problem, "description": "Conflicts with the object's state"},
    413: {"model": Problem, "description": "Too large"},
    422: {"model": Problem, "description": "Invalid input: which field and why"},
    429: {"model": Problem, "description": "Too many requests"},
}


UNLIMITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})  # probes and scrapers
MAX_JSON_BODY_BYTES = 8 * 1024 * 1024
"""JSON bodies are read into memory whole; files travel as raw bodies, streamed, with their own limits."""


class JsonBodyLimit:
    """ASGI middleware: a JSON request body larger than MAX_JSON_BODY_BYTES gets 413 before it is read whole
    (declared `Content-Length`, or counted while it arrives in chunks)."""

    def __init__(self, app: Any, limit: int = MAX_JSON_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.limit:
                await self._too_large(scope, receive, send)
                return
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Any, receive: Any, send: Any) -> None:
        response = too_large_response(scope, self.limit)
        await response(scope, receive, send)


def _is_json(scope: Any) -> bool:
    raw = dict(scope["headers"]).get(b"content-type", b"")
    kind = raw.split(b";")[0].strip().lower()
    return kind == b"application/json" or kind.endswith(b"+json")


class RateLimiter:
    """A token bucket per caller: `per_minute` requests a minute, in bursts of up to `per_minute`.

    Buckets live in this process (each replica has its own). The least recently seen callers are
    forgotten beyond `max_callers`, so a flood of distinct addresses cannot grow memory without bound.
    """

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic,
                 max_callers: int = 100_000) -> None:
        self.per_minute = per_minute
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self.max_callers = max_callers
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, caller: str) -> float:
        """0 when the caller may go ahead (one token taken), else the seconds until it may."""
        now = self.clock()
        tokens, at = self._buckets.pop(caller, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - at) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[caller] = (tokens, now)
        if len(self._buckets) > self.max_callers:
            self._buckets.popitem(last=False)
        return wait


async def _caller(verifier: TokenVerifier, request: Request) -> str:
    """Who is asking: the bearer token's principal if it verifies, else the client's address."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        try:
            principal = await asyncio.to_thread(verifier.verify, token.strip())
            return f"principal:{principal.org}:{principal.subject}"
        except AuthError:
            pass
    return f"address:{request.client.host if request.client else 'unknown'}"


def service_context(request: Request) -> Any:
    """The route dependency behind each service's `Ctx` (entrypoints/deps.py): the process's one context."""
    return request.app.state.runtime.context


def refusal_answer(ctx: ServiceContext[Any], principal: Principal, refused: Refused, *, action: str,
                   resource_type: str, resource_id: str, program: str | None = None,
                   agreement_id: str | None = None) -> HTTPException:
    """A refusal, recorded in the audit log in its own transaction, as the HTTP answer that carries its
    reason and rule (`X-P3KE-Refusal`). The one way every service turns a refusal into an answer."""
    with ctx.unit_of_work() as uow:
        uow.record_access(actor=principal.actor(), action=action, resource_type=resource_type,
                          resource_id=resource_id, outcome="denied", reason=refused.reason, program=program,
                          agreement_id=agreement_id)
    return refusal_exception(refused)  # its reason in the caller's language (p3ke_platform.api_errors)


@contextmanager
def audited_refusal(ctx: ServiceContext[Any], principal: Principal, *, action: str, resource_type: str,
                    resource_id: str, program: str | None = None, agreement_id: str | None = None) -> Iterator[None]:
    """`with audited_refusal(...)`: a `Refused` raised inside (by the policy or a rule) is audited and
    answered with its status and reason; anything else passes through."""
    try:
        yield
    except Refused as refused:
        raise refusal_answer(ctx, principal, refused, action=action, resource_type=resource_type,
                             resource_id=resource_id, program=program, agreement_id=agreement_id) from None


def record_refusal(runtime: Runtime, principal: Principal, request: Request, reason: str) -> None:
    """A caller refused by role or org: audited like any other refusal (no request content kept)."""
    route = getattr(request.scope.get("route"), "path", request.url.path)
    with runtime.unit_of_work() as uow:
        uow.record_access(actor=principal.actor(), action="refusal", resource_type="endpoint",
                          resource_id=f"{request.method} {route}", outcome="denied", reason=reason)


def create_app(runtime: Runtime) -> FastAPI:
    spec = runtime.spec

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        relay = None
        if runtime.settings.relay_in_api:
            thread, stop = runtime.relay().start_thread()
            relay = (thread, stop)
        stop_loops = runtime.start_loops("api")
        log.info("api started", service=spec.name)
        try:
            yield
        finally:
            await asyncio.to_thread(stop_loops, 30.0)
            if relay:
                relay[1].set()
                await asyncio.to_thread(relay[0].join, 15)
            runtime.engine.dispose()

    # /docs, /redoc, /openapi.json and /metrics: public, authenticated or off (p3ke_platform.ops_endpoints)
    app = FastAPI(title=f"P3KE {spec.title}", description=spec.description, version="0.1.0",
                  lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.runtime = runtime
    app.state.token_verifier = TokenVerifier(runtime.settings)
    app.state.on_refusal = lambda principal, request, reason: record_refusal(runtime, principal, request, reason)
    per_minute = runtime.settings.rate_limit_per_minute
    app.state.rate_limiter = RateLimiter(per_minute) if per_minute > 0 else None
    install_error_handlers(app)  # every error answer in the caller's language (p3ke_platform.api_errors)

    @app.middleware("http")
    async def limit_rate(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        limiter: RateLimiter | None = app.state.rate_limiter
        if limiter is None or request.url.path in UNLIMITED_PATHS:
            return await call_next(request)
        wait = limiter.take(await _caller(app.state.token_verifier, request))
        if wait > 0:
            THROTTLED.labels(spec.name).inc()
            seconds = max(1, math.ceil(wait))
            return too_many_requests_response(request, limiter.per_minute, seconds)
        return await call_next(request)

    @app.middleware("http")  # added last, so it runs first: throttled answers are counted too
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        cid = request.headers.get("x-correlation-id") or uuid.uuid4().hex
        started = time.perf_counter()
        with correlation(cid) as cid:
            response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        REQUESTS.labels(spec.name, request.method, route, response.status_code).inc()
        LATENCY.labels(spec.name, request.method, route).observe(time.perf_counter() - started)
        response.headers["x-correlation-id"] = cid
        return response

    @app.get("/healthz", tags=["operations"], summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": spec.name}

    @app.get("/readyz", tags=["operations"], summary="The database and Kafka answer")
    async def readyz() -> JSONResponse:
        problems = await asyncio.to_thread(runtime.readiness)
        body = {"status": "not ready" if problems else "ready", "service": spec.name, "problems": problems}
        return JSONResponse(body, status_code=503 if problems else 200)

    ops_endpoints.install(app, runtime.settings)

    for router in spec.routers():
        app.include_router(router, responses=ERROR_RESPONSES)
    app.add_middleware(JsonBodyLimit)
    return app
