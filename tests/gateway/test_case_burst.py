"""A burst of new cases (issue 19): a thousand alarms at distinct places arriving together are all
opened and dispatched with the same outcome as the same alarms taken one by one.

The one-by-one outcome is computed here, on its own SQLite store: every message in a batch of
its own, as a quiet night would bring them. The burst then goes through the same pipeline in big
batches on SQLite and on PostgreSQL. Compared per place: the case (status, severity, worker,
warnings, corroboration), its trail, its task (worker, reason, shortlist, deadlines), its SLA
timers, its escalations and every message the gateway queued about it. A few location fixes in
the middle of the burst move workers next to places still to come (the batch must read their
state again), one place's clear arrived before its alarm, and every 50th place is a camera that
corroborates the detector next to it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from contracts import GeoPoint, HazardEvent, LocationFix, decode, encode, topics
from contracts.clock import ManualClock
from gateway.cases.models import Case, CaseTransition
from gateway.context import GatewayContext
from gateway.dispatch.models import Task
from gateway.escalation.models import Escalation
from gateway.flows.ingest import Incoming, Outcome, Pipeline
from gateway.outbound.models import OutboundMessage
from gateway.schema.migrate import upgrade
from gateway.sla.models import SlaTimer
from gateway.store.db import make_engine, session_factory
from tests.support.harness import WEDNESDAY_10AM
from tests.support.sites.town import NODE, Town, alarms, make_town, seed_workers

PLACES = 1000
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
NOW = WEDNESDAY_10AM


@pytest.fixture(scope="module")
def town() -> Town:
    return make_town(PLACES)


def _stream(town: Town) -> tuple[list[Incoming], list[Incoming]]:
    """(what came before: a clear that overtook its alarm), (the burst, with fixes in it)."""
    burst = alarms(town, NOW)
    device, *_ = town.places[7]
    clear = HazardEvent(
        source=NODE,
        seq=len(burst) + 1,
        ts=NOW + timedelta(seconds=1),
        hazard_type="smoke_alarm",
        severity="critical",
        confidence=0.9,
        state="clear",
        episode_id=f"ep-{device}",
        device_id=device,
    )
    # Workers far from everything walk next to places further down the burst: decisions after
    # the fix must see them there (a book read before the fix would not).
    workers = sorted(town.site.workers)
    for n, at in enumerate((250, 500, 750)):
        worker = workers[n * 97]
        _, lon, lat, _ = town.places[at + 40]
        fix = LocationFix(
            source=worker,
            seq=1,
            ts=NOW - timedelta(seconds=5),
            worker_id=worker,
            location=GeoPoint(lon=lon + 0.0001, lat=lat),
            on_patrol=False,
        )
        burst.insert(at + n, Incoming(topics.worker_location(worker), encode(fix)))
    return [Incoming(topics.node_event(NODE), encode(clear))], burst


def _outcome(url: str, town: Town, batches: list[list[Incoming]]) -> dict[str, Any]:
    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    with sessions.begin() as s:
        seed_workers(s, town, NOW)
    pipeline = Pipeline(sessions, GatewayContext(town.site, "gateway-1", ManualClock(NOW)))
    outcomes = []
    for batch in batches:
        outcomes += pipeline.process(batch)
    assert set(outcomes) <= {Outcome.APPLIED}, outcomes
    try:
        return _snapshot(sessions)
    finally:
        engine.dispose()


def _snapshot(sessions: Any) -> dict[str, Any]:
    """Everything the cases left behind, per place (ids and sequence numbers are the gateway's own)."""
    with sessions() as s:
        cases = {c.id: c for c in s.scalars(select(Case))}
        place = {cid: c.place_key for cid, c in cases.items()}
        out: dict[str, Any] = defaultdict(lambda: defaultdict(list))
        for cid, c in cases.items():
            corroborated = f"corroborated by {c.corroborated_by}" if c.corroborated_by else None
            cleared = f"cleared at {c.source_cleared_at.isoformat()}" if c.source_cleared_at else None
            out[place[cid]]["case"] = [
                (c.status, c.severity, c.assigned_worker_id, c.warnings, corroborated, cleared)
            ]
        for t in s.scalars(select(CaseTransition).order_by(CaseTransition.id)):
            out[place[t.case_id]]["trail"].append((t.from_status, t.to_status, t.actor, t.reason))
        task_place = {}
        for task in s.scalars(select(Task)):
            task_place[task.id] = place[task.case_id]
            out[place[task.case_id]]["task"].append(
                (task.worker_id, task.status, task.reason_code, task.reason, task.shortlist, task.accept_by)
            )
        for timer in s.scalars(select(SlaTimer)):
            out[place[timer.case_id]]["timers"].append(
                (timer.phase, timer.worker_id, timer.started_at, timer.warn_at, timer.due_at, timer.detail)
            )
        for e in s.scalars(select(Escalation)):
            out[place[e.case_id]]["escalations"].append((e.tier, e.trigger, e.reason, e.skipped))
        seqs = []
        for row in s.scalars(select(OutboundMessage).order_by(OutboundMessage.id)):
            message = decode(row.topic, row.payload)
            seqs.append(message.seq)
            fields = message.model_dump(mode="json", exclude={"id", "seq", "ts", "task_id", "case_id"})
            case_id = getattr(message, "case_id", None)
            out[place[case_id]]["messages"].append((row.topic, sorted(fields.items(), key=str)))
        assert sorted(seqs) == list(range(1, len(seqs) + 1))  # the gateway's sequence has no gap

        def named(row: object) -> str:  # a case's id in a sentence reads as its place
            return UUID.sub(lambda m: place.get(m.group(0), "<id>"), repr(row))

        return {k: {kind: sorted(map(named, v)) for kind, v in d.items()} for k, d in out.items()}


@pytest.fixture(scope="module")
def one_by_one(town: Town, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    before, burst = _stream(town)
    url = f"sqlite:///{tmp_path_factory.mktemp('one-by-one') / 'store.db'}"
    return _outcome(url, town, [before] + [[m] for m in burst])


@pytest.fixture
def pg(pg_url: str) -> Iterator[str]:
    yield pg_url


def test_a_thousand_alarms_in_one_batch_are_dispatched_as_one_by_one_on_sqlite(
    town: Town, one_by_one: dict[str, Any], sqlite_url: str
) -> None:
    before, burst = _stream(town)
    together = _outcome(sqlite_url, town, [before, burst])
    _same(together, one_by_one)


@pytest.mark.postgres
def test_a_thousand_alarms_in_the_gateways_batches_are_dispatched_as_one_by_one_on_postgresql(
    town: Town, one_by_one: dict[str, Any], pg: str
) -> None:
    before, burst = _stream(town)
    together = _outcome(pg, town, [before] + [burst[k : k + 200] for k in range(0, len(burst), 200)])
    _same(together, one_by_one)


def _same(together: dict[str, Any], one_by_one: dict[str, Any]) -> None:
    assert len(one_by_one) == PLACES
    kinds = defaultdict(int)
    for place in one_by_one.values():
        for kind, rows in place.items():
            kinds[kind] += len(rows)
        kinds["corroborated"] += "corroborated" in place["case"][0]
        kinds["cleared"] += "cleared at" in place["case"][0]
        kinds["busy skipped"] += any("busy" in t for t in place.get("task", []))
    # the burst meets every path: offers, shortfalls escalated, corroboration, a late clear, busy workers
    assert kinds["task"] > PLACES * 0.8 and kinds["escalations"] > 0, kinds
    assert kinds["corroborated"] >= 2 * (PLACES // 50) - 2 and kinds["cleared"] == 1, kinds
    assert kinds["busy skipped"] > 0, kinds
    differ = [p for p in one_by_one if together.get(p) != one_by_one[p]]
    assert not differ, [
        (p, kind, together.get(p, {}).get(kind), rows)
        for p in differ[:2]
        for kind, rows in one_by_one[p].items()
        if together.get(p, {}).get(kind) != rows
    ]
    assert together.keys() == one_by_one.keys()
