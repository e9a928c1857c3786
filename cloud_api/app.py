"""The HTTP API and the web pages for operators, departments, installers and workers."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request

from cloud_api.auth import Perm, Refusal, allow, public
from cloud_api.auth.book import AccessBook
from cloud_api.auth.errors import on_http_error, on_store_error, on_validation_error
from cloud_api.auth.guard import ACCESS_COOKIE, Guard, GuardedRoute, api_routes, check_routes
from cloud_api.auth.tokens import AccessTokens, load_keys
from cloud_api.live import LiveHub
from cloud_api.routes import (
    analytics,
    auth,
    availability,
    broadcasts,
    case_actions,
    cases,
    console,
    dead_letters,
    ingest_status,
    live,
    operations,
    patrol,
    people,
    performance,
    photos,
    registry,
    reports,
    residents,
    roster,
    supervision,
    tasks,
    weekly_reports,
    workers,
)
from cloud_api.settings import ApiSettings
from contracts.clock import Clock, SystemClock
from contracts.site import Site, load_site
from contracts.site.access import ENV_VAR, check_grants, grants_from_file, parse_env
from gateway.context import GatewayContext
from gateway.devices.registry import sync_from_site
from gateway.people import service as people_service
from gateway.people.areas import SiteAreas
from gateway.people.passwords import HashCost, Passwords
from gateway.schema.migrate import prepare_schema
from gateway.store.db import make_engine, read_session_factory, session_factory

log = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("static")
DOCS_ASSETS = files("fastapi_offline") / "static"  # Swagger UI and Redoc, shipped in a Python package
TITLE = "GridWatch API"


def _grants(site: Site, env_value: str) -> list[Any]:
    """access.yaml and GRIDWATCH_API_TOKENS keep working (each names one operator or worker)."""
    grants = [*grants_from_file(site.access), *parse_env(env_value)[0]]
    problems = check_grants(grants, site.workers, ENV_VAR)
    if problems:
        raise ValueError("API tokens: " + "; ".join(f"{p.where}: {p.message} ({p.hint})" for p in problems))
    return grants


def _sync_workers(app: FastAPI) -> None:
    """Grid workers' accounts follow workers.yaml (several API processes may race: one wins)."""
    for _attempt in range(3):
        try:
            with app.state.sessions() as session, session.begin():
                added, changed, disabled = people_service.sync_workers(
                    session, app.state.site, app.state.ctx.now()
                )
        except IntegrityError:
            continue
        if added or changed or disabled:
            log.info(
                "worker accounts from workers.yaml: %d added, %d changed, %d disabled",
                added,
                changed,
                disabled,
            )
        return


def _sync_devices(app: FastAPI) -> None:
    """The device registry follows the site files (docs/devices.md); API processes may race: one wins."""
    for _attempt in range(3):
        try:
            with app.state.sessions() as session, session.begin():
                sync_from_site(session, app.state.site, app.state.ctx.grids, app.state.ctx.now())
        except IntegrityError:
            continue
        return


ROUTERS = (
    auth,
    cases,
    workers,
    operations,
    tasks,
    supervision,
    patrol,
    availability,
    performance,
    analytics,
    weekly_reports,
    people,
    photos,
    reports,
    residents,
    broadcasts,
    roster,
    case_actions,
    console,
    dead_letters,
    ingest_status,
    live,
    registry,
)


def _routes_app(lifespan: Any = None) -> FastAPI:
    """The app with its API routes (what the OpenAPI document describes)."""
    app = FastAPI(
        title=TITLE,
        version="1",
        description="Cases raised by cameras and sensors, and the grid workers who verify them. "
        "Every route but sign-in and health needs a signed-in caller: docs/api-access.md.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    for module in ROUTERS:
        app.include_router(module.router)
        if hasattr(module, "uploads"):  # a module's photo uploads (their own body cap)
            app.include_router(module.uploads)

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            doc.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer", "description": "access token or API token"},
                "session": {"type": "apiKey", "in": "cookie", "name": ACCESS_COOKIE},
            }
            doc["security"] = [{"bearer": []}, {"session": []}]
            for route in api_routes(app.routes):
                if route.permission == "public" and route.include_in_schema:
                    for method in route.methods:
                        doc["paths"][route.path][method.lower()]["security"] = []
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]
    return app


def openapi_document() -> str:
    """docs/openapi.json: the API as routes declare it (no site or store needed)."""
    return json.dumps(_routes_app().openapi(), ensure_ascii=False, indent=2) + "\n"


def create_app(settings: ApiSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or ApiSettings()
    site = load_site(settings.site_dir)
    engine = make_engine(settings.database_url)
    grants = _grants(site, settings.api_tokens)
    keys, configured = load_keys(settings.jwt_keys, settings.jwt_key_file)
    if not configured:
        log.warning(
            "no JWT signing key configured (GRIDWATCH_JWT_KEY_FILE / GRIDWATCH_JWT_KEYS): this process made "
            "its own: access tokens are refreshed after a restart and are not shared by API processes"
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The API may start before the gateway: it upgrades under the lock too, or waits.
        prepare_schema(engine, settings.db_schema, settings.db_schema_wait_s)
        _sync_workers(app)
        _sync_devices(app)
        app.state.book.refresh(force=True)
        await app.state.live.start()
        yield
        await app.state.live.stop()
        engine.dispose()

    app = _routes_app(lifespan)
    ctx = GatewayContext(site, settings.api_id, clock or SystemClock())
    app.state.settings = settings
    app.state.site = site
    app.state.sessions = session_factory(engine)  # routes that write
    app.state.read_sessions = read_session_factory(engine)  # GET routes
    app.state.live = LiveHub(app.state.read_sessions, interval=settings.live_interval_s)
    app.state.ctx = ctx
    app.state.areas = SiteAreas(site)
    app.state.passwords = Passwords(HashCost(settings.password_time_cost, settings.password_memory_kib))
    app.state.tokens = AccessTokens(keys, settings.access_ttl_s)
    # Keys the residents' per-address hashes (gateway.residents.queries.address_hash): without a
    # secret, sha256 of an IPv4 address is undone by trying all 2**32 of them.
    app.state.address_key = hashlib.sha256(b"gridwatch resident address|" + keys[0].secret).digest()
    app.state.book = AccessBook(
        app.state.read_sessions,
        app.state.areas,
        ctx.clock,
        grants,
        settings.access_check_s,
        session_grace_s=settings.access_ttl_s + 60,
    )
    app.state.guard = Guard(
        app.state.book,
        app.state.tokens,
        settings.max_body_bytes,
        app.state.sessions,
        settings.max_photo_bytes,
    )
    app.state.guard.limits["resident"] = settings.resident_max_body_bytes

    app.include_router(_docs_router(app))

    async def on_refusal(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Refusal)
        return app.state.guard.refused(request, exc)  # type: ignore[no-any-return]

    app.add_exception_handler(Refusal, on_refusal)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(DBAPIError, on_store_error)

    # The longer prefix first: mounts are matched in order.
    app.mount("/ui/docs-assets", StaticFiles(directory=str(DOCS_ASSETS)), name="docs-assets")
    # html: /ui/console/ serves the console's index.html (each app is a folder)
    app.mount("/ui", StaticFiles(directory=STATIC, html=True), name="ui")

    check_routes(app)
    return app


def _docs_router(app: FastAPI) -> APIRouter:
    """The OpenAPI document and its two readers, for anyone signed in; the assets come from
    the installed fastapi-offline package, never a CDN (an air-gapped site has none)."""
    router = APIRouter(route_class=GuardedRoute, include_in_schema=False)
    signed_in = [Depends(allow(Perm.SIGNED_IN))]

    @router.get("/", dependencies=[Depends(public)])
    def index() -> RedirectResponse:
        return RedirectResponse("/ui/console/")

    @router.get("/openapi.json", dependencies=signed_in)
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @router.get("/docs", dependencies=signed_in)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{TITLE} · docs",
            swagger_js_url="/ui/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/ui/docs-assets/swagger-ui.css",
            swagger_favicon_url="/ui/docs-assets/favicon.png",
        )

    @router.get("/redoc", dependencies=signed_in)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title=f"{TITLE} · reference",
            redoc_js_url="/ui/docs-assets/redoc.standalone.js",
            redoc_favicon_url="/ui/docs-assets/favicon.png",
            with_google_fonts=False,
        )

    return router
