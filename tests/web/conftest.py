"""Headless Chromium (Debian's, driven by Playwright) against the API served for real."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from cloud_api.app import create_app
from cloud_api.settings import ApiSettings
from gridwatch.broker import free_port
from tests.conftest import DEMO_SITE

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
    """Start the API on a free port against a given database; yields its base URL."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(db_url: str) -> str:
        port = free_port()
        app = create_app(ApiSettings(site_dir=DEMO_SITE, database_url=db_url))
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


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """Pages read through the API, whose store behaviour is tested elsewhere on both backends."""
    return sqlite_url


from tests.gateway.conftest import harness  # noqa: E402, F401  (the same pipeline harness, on SQLite)
