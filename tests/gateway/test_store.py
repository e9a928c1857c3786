"""Schema: Alembic migrations build exactly what the models describe, on both stores."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from gateway.cases.models import Case
from gateway.schema.migrate import upgrade
from gateway.schema.models import Base
from gateway.store.db import make_engine, session_factory
from tests.support.stores import case_row

NOW = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)


def test_migrations_match_the_models(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    upgrade(engine)  # idempotent: a second start changes nothing
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"
    assert "alembic_version" in inspect(engine).get_table_names()
    engine.dispose()


def test_the_database_refuses_a_second_open_case_for_one_place(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    sessions = session_factory(engine)
    with sessions.begin() as s:
        s.add(case_row("a"))
    with pytest.raises(IntegrityError), sessions.begin() as s:
        s.add(case_row("b"))
    with sessions.begin() as s:  # a closed case does not block a new one
        s.get(Case, "a").status = "closed"  # type: ignore[union-attr]
        s.add(case_row("c"))
    with sessions() as s:
        assert s.get(Case, "c") is not None
        assert s.get(Case, "a").first_seen_at == NOW  # type: ignore[union-attr]  # UTC survives the round trip
    engine.dispose()
