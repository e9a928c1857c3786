"""Shared fixtures: a real Mosquitto per test, SQLite and PostgreSQL stores, the demo site."""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from contracts.site import Site, load_site
from gateway.store.db import make_engine
from gridwatch.broker import Mosquitto, find_mosquitto
from gridwatch.victoria import VictoriaMetrics, find_victoria_metrics

REPO = Path(__file__).resolve().parents[1]
DEMO_SITE = REPO / "device_configs" / "demo_site"
SHARED = REPO.parent / "shared"
PG_URL = os.environ.get("GRIDWATCH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


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


def _sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'gridwatch.db'}"


# Fixtures whose store is migrated anyway: their tests get a copy of a store migrated once per
# session instead of running every migration again (0.3 s on SQLite, ~2 s on PostgreSQL each).
MIGRATING_FIXTURES = frozenset({"harness"})


class StoreTemplates:
    """A store migrated once per test session, copied for each SQLite test that needs one.

    PostgreSQL tests migrate their own schema: a database copied from a template is no faster
    there (CREATE DATABASE writes the whole catalogue, DROP DATABASE waits for a checkpoint).
    """

    def __init__(self, root: Path) -> None:
        self._root = root
        self._sqlite: Path | None = None

    def sqlite_copy(self, target: Path) -> None:
        from gateway.schema.migrate import upgrade

        if self._sqlite is None:
            template = self._root / "template.db"
            engine = make_engine(f"sqlite:///{template}")
            upgrade(engine)
            engine.dispose()  # the last connection to close checkpoints the WAL: one file to copy
            assert not template.with_name("template.db-wal").exists()
            self._sqlite = template
        shutil.copyfile(self._sqlite, target)


@pytest.fixture(scope="session")
def store_templates(tmp_path_factory: pytest.TempPathFactory) -> StoreTemplates:
    return StoreTemplates(tmp_path_factory.mktemp("store-templates"))


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL schema for one test (dropped afterwards)."""
    if not _pg_answers():
        pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on the embedded store and on the production store.

    Empty, unless the test uses a fixture that migrates it anyway (MIGRATING_FIXTURES): then the
    SQLite store is a copy of one migrated once for the session.
    """
    if request.param == "sqlite":
        if not MIGRATING_FIXTURES.isdisjoint(request.fixturenames):
            request.getfixturevalue("store_templates").sqlite_copy(tmp_path / "gridwatch.db")
        return _sqlite_url(tmp_path)
    return request.getfixturevalue("pg_url")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return _sqlite_url(tmp_path)


@pytest.fixture
def victoria_metrics(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    """A real VictoriaMetrics (InfluxDB v2 write API) on a free port with its own data directory."""
    if find_victoria_metrics() is None:
        pytest.fail("victoria-metrics is not installed: run scripts/setup.sh (tests never mock it)")
    vm = VictoriaMetrics(tmp_path / "victoria-metrics").start()
    yield vm
    vm.stop()
