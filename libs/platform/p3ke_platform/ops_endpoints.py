"""The operational endpoints beside every service's API: its description (Swagger UI at `/docs`, ReDoc at
`/redoc`, the OpenAPI document at `/openapi.json`) and its Prometheus metrics (`/metrics`).

Each group is `public`, `authenticated` or `off` (`P3KE_API_DOCS`, `P3KE_METRICS`; public by default,
authenticated in production). Off: the routes do not exist (404). Authenticated: a bearer token of the platform's
issuer (the app's token verifier) whose roles include one of `DOCS_ROLES` / `METRICS_ROLES`; without one the answer
is 401, with another role 403 (audited like every refusal), the reason in Indonesian, or English when asked for
(`Accept-Language`, i18n domain `ops`). A browser reaches authenticated documentation through a sign-in proxy that
adds the `Authorization` header; Prometheus sends a token file (`authorization.credentials_file`).

Swagger UI and ReDoc load their scripts and styles from this process (`/docs/assets`: the files the
`fastapi-offline` package ships), never from a CDN, and Swagger UI's online validator is off: a ministry data
centre has no internet. (ReDoc's sidebar still asks for Redocly's small logo; offline the image is left out.)
"""

from __future__ import annotations

import asyncio
from importlib.resources import files
from pathlib import Path
from typing import Literal

from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from p3ke_platform.auth import AuthError, TokenVerifier
from p3ke_platform.i18n import Messages, request_language
from p3ke_platform.settings import ExposureMode, Settings

M = Messages("ops")
# the API description: operators, auditors, and the ministry platforms (service accounts) that integrate with it
DOCS_ROLES = frozenset({"operator", "compliance-auditor", "service-account"})
# the metrics: operators, and the monitoring system's service account
METRICS_ROLES = frozenset({"operator", "service-account"})
# no online validator badge (it would send the document's address to validator.swagger.io)
SWAGGER_UI_PARAMETERS = {"validatorUrl": None}
DOCS_PATHS = ("/openapi.json", "/docs", "/redoc")
ASSETS_PATH = "/docs/assets"
Guarded = Literal["docs", "metrics"]


def assets_dir() -> Path:
    """Swagger UI's bundle and CSS, ReDoc's standalone script and a favicon, as shipped by `fastapi-offline`."""
    return Path(str(files("fastapi_offline") / "static"))


async def refusal(request: Request, mode: ExposureMode, what: Guarded) -> Response | None:
    """None when the caller may read `what` in `mode`, else the 401/403 answer (Indonesian unless English is
    asked for)."""
    if mode == "public":
        return None
    roles = DOCS_ROLES if what == "docs" else METRICS_ROLES
    names = ", ".join(sorted(roles))
    lang = request_language(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _problem(401, M(f"{what}.token_required", lang, roles=names), lang, 'Bearer realm="p3ke"')
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        principal = await asyncio.to_thread(verifier.verify, token.strip())
    except AuthError:
        return _problem(401, M("token_invalid", lang), lang, 'Bearer realm="p3ke", error="invalid_token"')
    if principal.roles.isdisjoint(roles):
        hook = getattr(request.app.state, "on_refusal", None)
        if hook is not None:  # audited like every refusal by role (p3ke_platform.auth.deps.require)
            await asyncio.to_thread(hook, principal, request, f"requires one of the roles: {names}")
        return _problem(403, M(f"{what}.role_required", lang, roles=names), lang)
    return None


def _problem(status: int, detail: str, lang: str, challenge: str | None = None) -> JSONResponse:
    headers = {"Content-Language": lang}
    if challenge:
        headers["WWW-Authenticate"] = challenge
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def install(app: FastAPI, settings: Settings) -> None:
    """Add the documentation and metrics routes to `app` (created with docs_url, redoc_url and openapi_url None)
    as `settings` allow."""
    docs = settings.effective_api_docs
    metrics = settings.effective_metrics
    if docs != "off":
        _install_docs(app, docs)
    if metrics != "off":
        @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", include_in_schema=False)
        async def prometheus_metrics(request: Request) -> Response:
            refused = await refusal(request, metrics, "metrics")
            if refused is not None:
                return refused
            return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def _install_docs(app: FastAPI, mode: ExposureMode) -> None:
    app.mount(ASSETS_PATH, StaticFiles(directory=assets_dir()), name="docs-assets")

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(request: Request) -> Response:
        refused = await refusal(request, mode, "docs")
        return refused or JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> Response:
        refused = await refusal(request, mode, "docs")
        if refused is not None:
            return refused
        root = request.scope.get("root_path", "")
        html = get_swagger_ui_html(
            openapi_url=f"{root}/openapi.json", title=f"{app.title} - Swagger UI", oauth2_redirect_url=None,
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png", swagger_ui_parameters=SWAGGER_UI_PARAMETERS)
        return _html(html, request)

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> Response:
        refused = await refusal(request, mode, "docs")
        if refused is not None:
            return refused
        root = request.scope.get("root_path", "")
        html = get_redoc_html(
            openapi_url=f"{root}/openapi.json", title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_PATH}/redoc.standalone.js", with_google_fonts=False,
            redoc_favicon_url=f"{root}{ASSETS_PATH}/favicon.png")
        return _html(html, request)


def _html(page: HTMLResponse, request: Request) -> HTMLResponse:
    """Authenticated pages are not kept by shared caches."""
    if request.headers.get("authorization"):
        page.headers["Cache-Control"] = "no-store"
    return page
