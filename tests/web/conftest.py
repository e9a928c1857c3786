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

# The operator the console tests sign in as (whole street: every case of the demo site).
CONSOLE_OPERATOR = ("op-zhang", "console-password-1")
WALL_OPERATOR = CONSOLE_OPERATOR  # the console replaced the alert wall
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


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """One headless Chromium for a module's tests (each test takes a fresh context: ``new_page``)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(chromium):  # type: ignore[no-untyped-def]
    """A fresh browser context and page (its own cookies) on the module's Chromium; ``errors``
    collects the page's script errors and console errors."""
    contexts = []

    def make(width: int = 1920, height: int = 1080, **options: object):  # type: ignore[no-untyped-def]
        context = chromium.new_context(viewport={"width": width, "height": height}, locale="zh-CN", **options)
        contexts.append(context)
        pg = context.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda exc: errors.append(str(exc)))
        pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        pg.errors = errors
        return pg

    yield make
    for context in contexts:
        context.close()


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


def sign_in(page, base: str, who: tuple[str, str] = CONSOLE_OPERATOR, path: str = "/") -> None:  # type: ignore[no-untyped-def]
    """Open the site (``path``) and sign in through the sign-in page, as a person would; returns
    once the page they land on (their app) is open."""
    page.goto(base + path)
    page.wait_for_url("**/ui/signin.html**")
    page.fill("#username", who[0])
    page.fill("#password", who[1])
    page.click("#signin-submit")
    page.wait_for_url(lambda url: "/ui/signin.html" not in url)
    page.wait_for_load_state()
    # The visit before signing in met 401s (that is how the page knew to ask): not errors of the app.
    page.errors.clear()


@pytest.fixture
def console_operator(db_url: str) -> tuple[str, str]:
    """张伟, an operator of the whole street, with a password (signs in through the page)."""
    engine = make_engine(db_url)
    upgrade(engine)
    add_person(
        session_factory(engine),
        CONSOLE_OPERATOR[0],
        [Role.OPERATOR],
        ["s-qingshan"],
        CONSOLE_OPERATOR[1],
        name="张伟",
    )
    engine.dispose()
    return CONSOLE_OPERATOR


@pytest.fixture
def wall_operator(console_operator: tuple[str, str]) -> tuple[str, str]:
    """The console replaced the alert wall: the same operator."""
    return console_operator


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """Pages read through the API, whose store behaviour is tested elsewhere on both backends."""
    return sqlite_url


from tests.gateway.conftest import harness  # noqa: E402, F401  (the same pipeline harness, on SQLite)
