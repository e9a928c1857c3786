"""Headless Chromium (Debian's, driven by Playwright) against the API served for real."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from cloud_api.app import create_app
from contracts.clock import Clock
from contracts.site.access import IssuedTokens
from contracts.site.access import Role as GrantRole
from gateway.people.models import Role
from gateway.schema.migrate import upgrade
from gateway.store.db import make_engine, session_factory
from gridwatch.broker import free_port
from tests.conftest import DEMO_SITE
from tests.people import add_person, api_settings

# The operator the wall tests sign in as (whole street: every case of the demo site).
WALL_OPERATOR = ("op-wall", "wall-password-1")
# A whole-site operator's API token, for tests that read the API without a browser.
_TOKENS = IssuedTokens(["op-web"])
OPERATOR = {"Authorization": f"Bearer {_TOKENS.token(GrantRole.OPERATOR, 'op-web')}"}

CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser", "/usr/bin/chromium"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("Chromium is not installed: run scripts/setup.sh (browser tests use a real Chromium)")


@pytest.fixture
def serve_api():  # type: ignore[no-untyped-def]
    """Start the API on a free port against a given database (on the product's clock, or the one
    given: the gateway's or the harness's); yields its base URL."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(db_url: str, clock: Clock | None = None, **settings: object) -> str:
        port = free_port()
        app = create_app(api_settings(DEMO_SITE, db_url, api_tokens=_TOKENS.env(), **settings), clock=clock)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1)
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        servers.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=5)


@pytest.fixture
def page() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
        pg = context.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda exc: errors.append(str(exc)))
        pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        pg.errors = errors  # type: ignore[attr-defined]
        yield pg
        browser.close()


def sign_in(page, base: str, who: tuple[str, str] = WALL_OPERATOR) -> None:  # type: ignore[no-untyped-def]
    """Open the site and sign in through the sign-in page, as a person would."""
    page.goto(base + "/")
    page.wait_for_url("**/ui/signin.html**")
    page.fill("#username", who[0])
    page.fill("#password", who[1])
    page.click("#signin-submit")
    page.wait_for_url("**/ui/wall.html")
    # The visit before signing in met 401s (that is how the page knew to ask): not errors of the wall.
    page.errors.clear()


@pytest.fixture
def wall_operator(db_url: str) -> tuple[str, str]:
    engine = make_engine(db_url)
    upgrade(engine)
    add_person(session_factory(engine), WALL_OPERATOR[0], [Role.OPERATOR], ["s-qingshan"], WALL_OPERATOR[1])
    engine.dispose()
    return WALL_OPERATOR


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """Pages read through the API, whose store behaviour is tested elsewhere on both backends."""
    return sqlite_url


from tests.gateway.conftest import harness  # noqa: E402, F401  (the same pipeline harness, on SQLite)
