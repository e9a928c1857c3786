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


def _case(case_id: str, status: str = "new") -> Case:
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
        first_seen_at=NOW,
        last_seen_at=NOW,
        opened_at=NOW,
        updated_at=NOW,
    )


def test_the_database_refuses_a_second_open_case_for_one_place(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    sessions = session_factory(engine)
    with sessions.begin() as s:
        s.add(_case("a"))
    with pytest.raises(IntegrityError), sessions.begin() as s:
        s.add(_case("b"))
    with sessions.begin() as s:  # a closed case does not block a new one
        s.get(Case, "a").status = "closed"  # type: ignore[union-attr]
        s.add(_case("c"))
    with sessions() as s:
        assert s.get(Case, "c") is not None
        assert s.get(Case, "a").first_seen_at == NOW  # type: ignore[union-attr]  # UTC survives the round trip
    engine.dispose()
