"""Stores for tests: the PostgreSQL at GRIDWATCH_TEST_PG, SQLite files, and stores migrated once
per session."""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from gateway.cases.models import Case
from gateway.schema.migrate import upgrade
from gateway.store.db import make_engine

PG_URL = os.environ.get("GRIDWATCH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def pg_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def sqlite_url_in(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'gridwatch.db'}"


def store_kind(url: str) -> str:
    """ "sqlite" or "postgres": what ``db_url`` is parametrised with."""
    return "sqlite" if url.startswith("sqlite") else "postgres"


def migrated_store_url(kind: str, sqlite_file: Path, request: pytest.FixtureRequest) -> str:
    """A store of ``kind`` ("sqlite" or "postgres") already at the newest schema: a copy of the
    session's migrated SQLite file at ``sqlite_file``, or a lent PostgreSQL schema emptied after
    the test (the fixtures ``store_templates`` and ``pg_migrated_url``)."""
    if kind == "postgres":
        return str(request.getfixturevalue("pg_migrated_url"))
    request.getfixturevalue("store_templates").sqlite_copy(sqlite_file)
    return f"sqlite:///{sqlite_file}"


# Fixtures whose store is migrated anyway (``migrated_store`` says so for a test or fixture that
# starts the API or a gateway on ``db_url``): their tests get a copy of a store migrated once per
# session instead of running every migration again (0.3 s on SQLite, ~2 s on PostgreSQL each).
MIGRATING_FIXTURES = frozenset({"harness", "migrated_store"})


class StoreTemplates:
    """A store migrated once per test session, copied for each SQLite test that needs one.

    PostgreSQL: a database copied from a template is no faster (CREATE DATABASE writes the
    whole catalogue, DROP DATABASE waits for a checkpoint); see MigratedSchemas instead.
    """

    def __init__(self, root: Path) -> None:
        self._root = root
        self._sqlite: Path | None = None

    def sqlite_copy(self, target: Path) -> None:

        if self._sqlite is None:
            template = self._root / "template.db"
            engine = make_engine(f"sqlite:///{template}")
            upgrade(engine)
            engine.dispose()  # the last connection to close checkpoints the WAL: one file to copy
            assert not template.with_name("template.db-wal").exists()
            self._sqlite = template
        shutil.copyfile(self._sqlite, target)


def pg_schema_url(schema: str) -> str:
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


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

        schema = f"m_{uuid.uuid4().hex[:12]}"
        with self._admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
            conn.execute(text(f"CREATE SCHEMA {schema}_seed"))
        self._all.append(schema)
        engine = make_engine(pg_schema_url(schema))
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


# When case_row's cases were seen and opened.
CASE_ROW_AT = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)


def case_row(case_id: str, status: str = "new") -> Case:
    return Case(
        id=case_id,
        hazard_type="smoke_alarm",
        category="emergency",
        severity="major",
        status=status,
        urgent=True,
        place_key="smk-1",
        title="t",
        warnings=[],
        evidence_ids=[],
        event_count=1,
        first_seen_at=CASE_ROW_AT,
        last_seen_at=CASE_ROW_AT,
        opened_at=CASE_ROW_AT,
        updated_at=CASE_ROW_AT,
    )
