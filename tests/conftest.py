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
    """The same test on the embedded store and on the production store."""
    if request.param == "sqlite":
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
