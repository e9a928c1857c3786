"""The change log holds exactly what committed and a person would notice (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.cases.models import Case
from gateway.store.change_log import Change
from tests.support.harness import Harness


def _log(harness: Harness) -> list[tuple[str, str, str | None, str]]:
    with harness.sessions() as s:
        rows = s.scalars(select(Change).order_by(Change.id))
        return [(c.entity, c.kind, c.case_id, c.entity_id) for c in rows]


def test_a_new_case_logs_the_case_its_trail_and_its_task_in_the_same_commit(harness: Harness) -> None:
    harness.raise_event("smk-factory-a1")
    with harness.sessions() as s:
        case = s.scalars(select(Case)).one()
    log = _log(harness)
    assert {(e, k) for e, k, _, _ in log} >= {("case", "created"), ("trail", "created"), ("task", "created")}
    assert {case_id for _, _, case_id, _ in log} == {case.id}


def test_a_repeat_that_only_counts_logs_nothing_and_a_severity_change_logs_one_update(
    harness: Harness,
) -> None:
    harness.raise_event("smk-rental-15", severity="major")
    before = len(_log(harness))
    harness.clock.advance(20)
    harness.raise_event("smk-rental-15", severity="major")
    assert len(_log(harness)) == before  # the event count moved; nobody needs to be told
    harness.clock.advance(20)
    harness.raise_event("smk-rental-15", severity="critical")
    added = _log(harness)[before:]
    assert [(e, k) for e, k, _, _ in added if e == "case"] == [("case", "updated")]


def test_a_rolled_back_change_leaves_no_trace_in_the_log(harness: Harness) -> None:
    harness.raise_event("smk-factory-a1")
    before = _log(harness)
    with pytest.raises(RuntimeError), harness.sessions.begin() as s:
        case = s.scalars(select(Case)).one()
        case.severity = "minor"
        s.flush()  # the change row is written inside the transaction ...
        raise RuntimeError("... which then fails")
    assert _log(harness) == before


def test_the_live_hub_sends_a_change_whose_transaction_committed_after_a_later_one(
    harness: Harness,
) -> None:
    """PostgreSQL hands out ids at insert, not at commit: a hole may fill in later."""
    if harness.engine.dialect.name == "sqlite":
        pytest.skip("SQLite serialises writers: its ids are handed out in commit order")
    import asyncio
    import threading

    from cloud_api.live import LiveHub
    from gateway.store.db import read_session_factory

    harness.raise_event("smk-factory-a1")
    harness.raise_event("gas-restaurant-3", hazard_type="gas_leak")
    with harness.sessions() as s:
        slow_case, fast_case = (
            s.scalars(select(Case.id).where(Case.device_id == d)).one()
            for d in ("smk-factory-a1", "gas-restaurant-3")
        )
    hub = LiveHub(read_session_factory(harness.engine), interval=0.05, hole_grace_s=30)
    slow_flushed, release = threading.Event(), threading.Event()

    def slow_writer() -> None:  # takes its change id first, commits last
        with harness.sessions.begin() as s:
            s.get(Case, slow_case).severity = "minor"  # type: ignore[union-attr]
            s.flush()
            slow_flushed.set()
            release.wait(10)

    async def scenario() -> list[str]:
        await hub.start()
        seen: list[str] = []

        async def read() -> None:
            async for chunk in hub.stream(None):
                if chunk.startswith("id:"):
                    seen.append(chunk)

        reader = asyncio.create_task(read())
        writer = threading.Thread(target=slow_writer)
        writer.start()
        await asyncio.to_thread(slow_flushed.wait, 10)
        with harness.sessions.begin() as s:  # a later id, committed first
            s.get(Case, fast_case).severity = "minor"  # type: ignore[union-attr]
        for _ in range(100):
            if any(fast_case in c for c in seen):
                break
            await asyncio.sleep(0.05)
        release.set()
        await asyncio.to_thread(writer.join, 10)
        for _ in range(100):
            if any(slow_case in c for c in seen):
                break
            await asyncio.sleep(0.05)
        reader.cancel()
        await hub.stop()
        return seen

    seen = asyncio.run(scenario())
    assert any(fast_case in c for c in seen), "the change committed first was not sent"
    assert any(slow_case in c for c in seen), "the change that committed late was lost"
