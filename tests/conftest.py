"""Shared fixtures: a real Mosquitto per test, SQLite and PostgreSQL stores, the demo site.

Fixtures of a few directories (the pipeline harness, the API served for real, the analytics
history) are plugins in tests/support/plugins; the logic behind every fixture lives in tests/support."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from contracts.site import Site, load_site
from gateway.store.db import make_engine
from gridwatch.broker import Mosquitto, find_mosquitto
from gridwatch.victoria import VictoriaMetrics, find_victoria_metrics
from tests.support.paths import DEMO_SITE
from tests.support.stores import (
    MIGRATING_FIXTURES,
    PG_URL,
    MigratedSchemas,
    StoreTemplates,
    migrated_store_url,
    pg_answers,
    pg_schema_url,
    sqlite_url_in,
)

pytest_plugins = [
    "tests.support.plugins.harness",
    "tests.support.plugins.web",
    "tests.support.plugins.analytics",
    "tests.support.plugins.schedule",
]


@pytest.fixture(scope="session")
def demo_site() -> Site:
    return load_site(DEMO_SITE)


@pytest.fixture
def site_copy(tmp_path: Path) -> Path:
    """A writable copy of the demo site, for tests that break or change it."""
    dst = tmp_path / "site"
    shutil.copytree(DEMO_SITE, dst)
    return dst


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A real Mosquitto on a free port with its own generated configuration."""
    if find_mosquitto() is None:
        pytest.fail("mosquitto is not installed: run scripts/setup.sh (tests never mock the broker)")
    broker = Mosquitto(tmp_path / "broker").start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def store_templates(tmp_path_factory: pytest.TempPathFactory) -> StoreTemplates:
    return StoreTemplates(tmp_path_factory.mktemp("store-templates"))


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL schema for one test (dropped afterwards)."""
    if not pg_answers():
        pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    yield pg_schema_url(schema)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture(scope="session")
def migrated_schemas() -> Iterator[MigratedSchemas]:
    schemas = MigratedSchemas()
    yield schemas
    schemas.close()


@pytest.fixture
def pg_migrated_url(migrated_schemas: MigratedSchemas) -> Iterator[str]:
    """A migrated, empty PostgreSQL schema for one test, emptied again afterwards for the next."""
    if not pg_answers():
        pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432")
    schema = migrated_schemas.lend()
    yield pg_schema_url(schema)
    migrated_schemas.give_back(schema)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on the embedded store and on the production store.

    Empty, unless the test uses a fixture that migrates it anyway (MIGRATING_FIXTURES): then the
    SQLite store is a copy of one migrated once for the session, and the PostgreSQL schema one
    migrated once and emptied after each test that borrowed it.
    """
    if not MIGRATING_FIXTURES.isdisjoint(request.fixturenames):
        return migrated_store_url(request.param, tmp_path / "gridwatch.db", request)
    return sqlite_url_in(tmp_path) if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))


@pytest.fixture
def migrated_store() -> None:
    """Asked for beside ``db_url`` when what the test starts (the API, a gateway) migrates the store
    anyway: ``db_url`` is then already at the newest schema (see MIGRATING_FIXTURES), and the start
    finds nothing to do. Tests of migrating itself leave it out and get an empty store."""


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return sqlite_url_in(tmp_path)


@pytest.fixture
def victoria_metrics(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    """A real VictoriaMetrics (InfluxDB v2 write API) on a free port with its own data directory."""
    if find_victoria_metrics() is None:
        pytest.fail("victoria-metrics is not installed: run scripts/setup.sh (tests never mock it)")
    vm = VictoriaMetrics(tmp_path / "victoria-metrics").start()
    yield vm
    vm.stop()
