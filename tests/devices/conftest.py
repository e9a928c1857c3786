"""An API on the pipeline harness's store and clock, with an installer of the industrial park signed in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from cloud_api.app import create_app
from tests.support.desk import Desk
from tests.support.harness import Harness
from tests.support.paths import DEMO_SITE
from tests.support.people import api_settings


@pytest.fixture
def desk(harness: Harness, db_url: str) -> Iterator[Desk]:
    settings = api_settings(DEMO_SITE, db_url, access_check_s=0)
    with TestClient(create_app(settings, clock=harness.clock)) as client:
        yield Desk(client, harness)
