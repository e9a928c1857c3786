"""Fixtures for pages across directories: the API served for real on a free port."""

from __future__ import annotations

import threading
import time

import pytest
import uvicorn

from cloud_api.app import create_app
from contracts.clock import Clock
from gridwatch.broker import free_port
from tests.support.paths import DEMO_SITE
from tests.support.people import api_settings
from tests.support.web.browser import TOKENS


@pytest.fixture
def serve_api():  # type: ignore[no-untyped-def]
    """Start the API on a free port against a given database (on the product's clock, or the one
    given: the gateway's or the harness's); yields its base URL."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(db_url: str, clock: Clock | None = None, **settings: object) -> str:
        port = free_port()
        app = create_app(api_settings(DEMO_SITE, db_url, api_tokens=TOKENS.env(), **settings), clock=clock)
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
