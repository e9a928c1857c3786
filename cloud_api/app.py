"""The HTTP API (and, later, the web pages) for operators, installers and workers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from cloud_api.auth import TokenBook
from cloud_api.live import LiveHub
from cloud_api.routes import (
    availability,
    case_actions,
    cases,
    dead_letters,
    ingest_status,
    live,
    operations,
    patrol,
    performance,
    supervision,
    tasks,
    workers,
)
from cloud_api.settings import ApiSettings
from contracts.clock import Clock, SystemClock
from contracts.site import load_site
from contracts.site.access import parse_env
from gateway.context import GatewayContext
from gateway.schema.migrate import prepare_schema
from gateway.store.db import make_engine, read_session_factory, session_factory

STATIC = Path(__file__).with_name("static")


def create_app(settings: ApiSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or ApiSettings()
    site = load_site(settings.site_dir)
    engine = make_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The API may start before the gateway: it upgrades under the lock too, or waits.
        prepare_schema(engine, settings.db_schema, settings.db_schema_wait_s)
        await app.state.live.start()
        yield
        await app.state.live.stop()
        engine.dispose()

    app = FastAPI(
        title="GridWatch API",
        version="1",
        description="Cases raised by cameras and sensors, and the grid workers who verify them.",
        lifespan=lifespan,
    )
    app.state.site = site
    app.state.sessions = session_factory(engine)  # routes that write
    app.state.read_sessions = read_session_factory(engine)  # GET routes
    app.state.live = LiveHub(app.state.read_sessions, interval=settings.live_interval_s)
    app.state.tokens = TokenBook.for_site(site, parse_env(settings.api_tokens)[0])
    app.state.ctx = GatewayContext(site, settings.api_id, clock or SystemClock())
    routers = (cases, workers, operations, tasks, supervision, patrol, availability, performance)
    for module in (*routers, case_actions, dead_letters, ingest_status, live):
        app.include_router(module.router)

    app.mount("/ui", StaticFiles(directory=STATIC), name="ui")

    @app.get("/", include_in_schema=False)
    def index() -> RedirectResponse:
        return RedirectResponse("/ui/wall.html")

    return app
