"""Helpers for dispatch tests driven through the pipeline (see tests/support/harness.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select

from contracts import CaseNotice, GeoPoint, LocationFix, TaskUpdate, decode, topics
from contracts.site import Site
from gateway.cases.models import Case, CaseTransition
from gateway.dispatch.models import Task
from gateway.escalation.models import Escalation
from gateway.flows.ingest import Outcome
from gateway.flows.sla_ticks import SlaTicker
from gateway.sla.models import SlaTimer
from tests.support.harness import Harness, open_harness


def tasks(h: Harness) -> list[Task]:
    with h.sessions() as s:
        return list(s.scalars(select(Task).order_by(Task.offered_at, Task.id)))


def the_case(h: Harness) -> Case:
    with h.sessions() as s:
        [case] = s.scalars(select(Case)).all()
        return case


def trail(h: Harness) -> list[CaseTransition]:
    with h.sessions() as s:
        return list(s.scalars(select(CaseTransition).order_by(CaseTransition.id)))


def escalations(h: Harness) -> list[Escalation]:
    with h.sessions() as s:
        return list(s.scalars(select(Escalation).order_by(Escalation.id)))


def timers(h: Harness) -> list[SlaTimer]:
    with h.sessions() as s:
        return list(s.scalars(select(SlaTimer).order_by(SlaTimer.id)))


def tick(h: Harness, advance_s: float = 0) -> int:
    if advance_s:
        h.clock.advance(advance_s)
    return SlaTicker(h.sessions, h.ctx).tick()


def notices(h: Harness, prefix: str = "gridwatch/v1/centre/") -> list[CaseNotice]:
    out = [decode(r.topic, r.payload) for r in h.outbound(prefix)]
    return [n for n in out if isinstance(n, CaseNotice)]


def act(h: Harness, task: Task, action: str, **kw: Any) -> Outcome:
    h.seq += 1
    update = TaskUpdate(
        source=task.worker_id,
        seq=h.seq,
        ts=h.clock.now(),
        task_id=task.id,
        worker_id=task.worker_id,
        action=action,
        **kw,
    )
    return h.send(topics.worker_task_update(task.worker_id), update)


def fix(
    h: Harness, worker_id: str, lon: float, lat: float, on_patrol: bool = False, accuracy_m: float = 10.0
) -> Outcome:
    h.seq += 1
    message = LocationFix(
        source=worker_id,
        seq=h.seq,
        ts=h.clock.now(),
        worker_id=worker_id,
        location=GeoPoint(lon=lon, lat=lat),
        accuracy_m=accuracy_m,
        on_patrol=on_patrol,
    )
    return h.send(topics.worker_location(worker_id), message)


@contextmanager
def harness_for(db_url: str, site: Site) -> Iterator[Harness]:
    """Like the ``harness`` fixture, for a site of the test's own (e.g. a changed copy)."""
    h = open_harness(db_url, site)
    try:
        yield h
    finally:
        h.engine.dispose()
