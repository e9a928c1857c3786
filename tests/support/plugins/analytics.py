"""Weeks of history in a store, once per module, for the analytics tests (tests/gateway, tests/api)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from contracts.site import Site
from gateway.schema.migrate import upgrade
from gateway.store.db import make_engine
from tests.support.analytics_figures import (
    FIRST_MONDAY,
    WEEKS,
    local_midnight,
)
from tests.support.analytics_history import History, Rows, write
from tests.support.stores import PG_URL, pg_answers


# ---------------------------------------------------------------- the history, once per module
@pytest.fixture(scope="module")
def rows(demo_site: Site) -> Rows:
    return History(demo_site, local_midnight(demo_site, FIRST_MONDAY), WEEKS).all()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(
    request: pytest.FixtureRequest, rows: Rows, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[sessionmaker[Session]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('analytics') / 'gridwatch.db'}"
        admin = None
    else:
        if not pg_answers():
            pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432")
        schema = f"t_{uuid.uuid4().hex[:12]}"
        admin = make_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    upgrade(engine)
    write(engine, rows)
    yield sessionmaker(engine)
    engine.dispose()
    if admin is not None:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
