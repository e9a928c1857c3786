"""A small world for access tests: five people signed in for real, every kind of object twice —
in their area (the industrial park, c-gongye; for the worker w-ma-li: their own) and outside it
(Donghu)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from cloud_api.app import create_app
from tests.support.harness import Harness
from tests.support.paths import DEMO_SITE
from tests.support.people import api_settings
from tests.support.world import World, build_world


@pytest.fixture
def world(harness: Harness, db_url: str) -> Iterator[World]:
    settings = api_settings(DEMO_SITE, db_url, access_check_s=0)
    with TestClient(create_app(settings, clock=harness.clock)) as client:
        yield build_world(harness, client)
