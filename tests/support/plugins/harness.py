"""A pipeline on a fresh store with a controllable clock (no broker needed)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from contracts.site import Site
from tests.support.harness import OPERATORS, ApiTokens, Harness, open_harness


@pytest.fixture
def harness(db_url: str, demo_site: Site) -> Iterator[Harness]:
    h = open_harness(db_url, demo_site)
    yield h
    h.engine.dispose()


@pytest.fixture(scope="session")
def api_tokens(demo_site: Site) -> ApiTokens:
    return ApiTokens(OPERATORS, demo_site.workers)


@pytest.fixture
def api(harness: Harness, db_url: str, api_tokens: ApiTokens) -> Iterator[TestClient]:
    """The HTTP API on the harness's store and clock, called as operator op-1 (whole site) unless a
    request says otherwise (``headers=api_tokens.worker(...)``); ``anon`` calls it without credentials."""
    from cloud_api.app import create_app
    from cloud_api.settings import ApiSettings
    from tests.support.paths import DEMO_SITE

    settings = ApiSettings(
        site_dir=DEMO_SITE, database_url=db_url, api_tokens=api_tokens.env(), password_memory_kib=64
    )
    with TestClient(create_app(settings, clock=harness.clock), headers=api_tokens.operator()) as client:
        yield client


@pytest.fixture
def anon(api: TestClient) -> TestClient:
    """The same API, without credentials."""
    return TestClient(api.app)
