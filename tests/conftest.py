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

    PostgreSQL: a database copied from a template is no faster (CREATE DATABASE writes the
    whole catalogue, DROP DATABASE waits for a checkpoint); see MigratedSchemas instead.
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


def _pg_url(schema: str) -> str:
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL schema for one test (dropped afterwards)."""
    if not _pg_answers():
        pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    yield _pg_url(schema)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


class MigratedSchemas:
    """Migrated PostgreSQL schemas lent to one test at a time and emptied between tests.

    Migrating a schema costs ~2 s; emptying one (rows deleted, sequences restarted, the rows the
    migrations seed put back) a few tens of ms. A schema that cannot be emptied cleanly (a test
    left a connection holding a lock) is dropped instead of being lent again.
    """

    def __init__(self) -> None:
        self._admin = make_engine(PG_URL)
        self._idle: list[str] = []
        self._all: list[str] = []

    def lend(self) -> str:
        if self._idle:
            return self._idle.pop()
        from gateway.schema.migrate import upgrade

        schema = f"m_{uuid.uuid4().hex[:12]}"
        with self._admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
            conn.execute(text(f"CREATE SCHEMA {schema}_seed"))
        self._all.append(schema)
        engine = make_engine(_pg_url(schema))
        upgrade(engine)
        engine.dispose()
        with self._admin.begin() as conn:  # what the migrations wrote, to put back after each test
            for table in self._tables(conn, schema):
                if conn.execute(text(f'SELECT EXISTS (SELECT 1 FROM {schema}."{table}")')).scalar():
                    conn.execute(text(f'CREATE TABLE {schema}_seed."{table}" AS TABLE {schema}."{table}"'))
        return schema

    def give_back(self, schema: str) -> None:
        try:
            with self._admin.begin() as conn:
                conn.execute(text("SET LOCAL lock_timeout = '5s'"))
                # DELETE from the few tables a test wrote (TRUNCATE of every table costs ~1 s:
                # a new file per table); foreign keys are not checked while the schema is emptied.
                conn.execute(text("SET LOCAL session_replication_role = replica"))
                for table in self._tables(conn, schema):
                    conn.execute(text(f'DELETE FROM {schema}."{table}"'))
                for seq in conn.execute(
                    text("SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = :s"),
                    {"s": schema},
                ).scalars():
                    conn.execute(text(f'ALTER SEQUENCE {schema}."{seq}" RESTART'))
                for table in self._tables(conn, f"{schema}_seed"):
                    conn.execute(text(f'INSERT INTO {schema}."{table}" TABLE {schema}_seed."{table}"'))
        except Exception:  # not reusable: the next test gets a new schema
            self._drop(schema)
            return
        self._idle.append(schema)

    def close(self) -> None:
        for schema in self._all:
            self._drop(schema)
        self._admin.dispose()

    @staticmethod
    def _tables(conn, schema: str) -> list[str]:  # type: ignore[no-untyped-def]
        rows = conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = :s AND tablename <> 'alembic_version'"),
            {"s": schema},
        )
        return sorted(rows.scalars())

    def _drop(self, schema: str) -> None:
        if schema in self._all:
            self._all.remove(schema)
        with self._admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema}_seed CASCADE"))


@pytest.fixture(scope="session")
def migrated_schemas() -> Iterator[MigratedSchemas]:
    schemas = MigratedSchemas()
    yield schemas
    schemas.close()


@pytest.fixture
def pg_migrated_url(migrated_schemas: MigratedSchemas) -> Iterator[str]:
    """A migrated, empty PostgreSQL schema for one test, emptied again afterwards for the next."""
    if not _pg_answers():
        pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432")
    schema = migrated_schemas.lend()
    yield _pg_url(schema)
    migrated_schemas.give_back(schema)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on the embedded store and on the production store.

    Empty, unless the test uses a fixture that migrates it anyway (MIGRATING_FIXTURES): then the
    SQLite store is a copy of one migrated once for the session, and the PostgreSQL schema one
    migrated once and emptied after each test that borrowed it.
    """
    migrated_anyway = not MIGRATING_FIXTURES.isdisjoint(request.fixturenames)
    if request.param == "sqlite":
        if migrated_anyway:
            request.getfixturevalue("store_templates").sqlite_copy(tmp_path / "gridwatch.db")
        return _sqlite_url(tmp_path)
    return request.getfixturevalue("pg_migrated_url" if migrated_anyway else "pg_url")


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
