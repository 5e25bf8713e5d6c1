"""The FastAPI app every service serves: its routers plus health, readiness and Prometheus metrics.

The outbox relay runs in the API process by default (a thread), so an embedded setup needs no
third process; set P3KE_RELAY_IN_API=false to run relays as their own deployment.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from pydantic import BaseModel

from p3ke_platform.auth import Principal, TokenVerifier
from p3ke_platform.logging import correlation, get_logger
from p3ke_platform.service import Runtime
from p3ke_schemas import Actor

REQUESTS = Counter("p3ke_http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
LATENCY = Histogram("p3ke_http_request_seconds", "HTTP request latency", ["service", "method", "route"])
log = get_logger(__name__)


class Problem(BaseModel):
    """Every error answer: a human-readable reason, never personal data."""

    detail: str | list[Any]


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


def record_refusal(runtime: Runtime, principal: Principal, request: Request, reason: str) -> None:
    """A caller refused by role or org: audited like any other refusal (no request content kept)."""
    route = getattr(request.scope.get("route"), "path", request.url.path)
    actor = Actor(org=principal.org, subject=principal.subject, roles=sorted(principal.roles),  # type: ignore[arg-type]
                  service_account=principal.service_account)
    with runtime.unit_of_work() as uow:
        uow.record_access(actor=actor, action="refusal", resource_type="endpoint",
                          resource_id=f"{request.method} {route}", outcome="denied", reason=reason)


def create_app(runtime: Runtime) -> FastAPI:
    spec = runtime.spec

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        relay = None
        if runtime.settings.relay_in_api:
            thread, stop = runtime.relay().start_thread()
            relay = (thread, stop)
        log.info("api started", service=spec.name)
        try:
            yield
        finally:
            if relay:
                relay[1].set()
                await asyncio.to_thread(relay[0].join, 15)
            runtime.engine.dispose()

    app = FastAPI(title=f"P3KE {spec.title}", description=spec.description, version="0.1.0",
                  lifespan=lifespan)
    app.state.runtime = runtime
    app.state.token_verifier = TokenVerifier(runtime.settings)
    app.state.on_refusal = lambda principal, request, reason: record_refusal(runtime, principal, request, reason)

    @app.middleware("http")
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

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    for router in spec.routers(runtime):
        app.include_router(router, responses=ERROR_RESPONSES)
    return app
