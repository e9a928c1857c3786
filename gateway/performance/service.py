"""Performance records per worker and per grid over a period (网格员量化考核).

For the tasks offered in the period: how long accepting, arriving (offer → on
site) and resolving (on site → resolved) took, as p50/p90; the on-time rate
(worker-accept, on-site and resolve phases that met their SLA, over those that
ended met or breached); declines and expired offers; and for workers the patrol
distance, time and checkpoint coverage of the days in the period.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from contracts.site import Site
from gateway.cases.models import Case
from gateway.dispatch.models import Task, TaskStatus
from gateway.patrol.queries import patrol_totals
from gateway.sla.models import Outcome, Phase, SlaTimer

TIMED_PHASES = (Phase.WORKER_ACCEPT.value, Phase.ON_SITE.value, Phase.RESOLVE.value)


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


class Timing(BaseModel):
    count: int
    p50_s: float | None
    p90_s: float | None

    @classmethod
    def of(cls, values: list[float]) -> Timing:
        p50, p90 = percentile(values, 0.5), percentile(values, 0.9)
        return cls(
            count=len(values),
            p50_s=round(p50, 1) if p50 is not None else None,
            p90_s=round(p90, 1) if p90 is not None else None,
        )


class Record(BaseModel):
    offered: int
    accepted: int
    declined: int
    expired: int
    resolved: int
    accept: Timing
    arrival: Timing
    resolve: Timing
    on_time_rate: float | None  # met / (met + breached) over the timed phases
    phases_judged: int


class WorkerRecord(Record):
    worker_id: str
    name: str
    home_grid: str
    patrol_distance_m: float
    patrol_duration_s: float
    patrol_coverage: float | None


class GridRecord(Record):
    grid_id: str
    name: str
    cases: int


class _Tally:
    def __init__(self) -> None:
        self.offered = self.accepted = self.declined = self.expired = self.resolved = 0
        self.accept: list[float] = []
        self.arrival: list[float] = []
        self.resolve: list[float] = []
        self.met = self.breached = 0
        self.cases: set[str] = set()

    def add(self, task: Task) -> None:
        self.offered += 1
        self.cases.add(task.case_id)
        if task.status == TaskStatus.DECLINED.value:
            self.declined += 1
        if task.status == TaskStatus.EXPIRED.value:
            self.expired += 1
        if task.accepted_at is not None:
            self.accepted += 1
            self.accept.append((task.accepted_at - task.offered_at).total_seconds())
        if task.on_site_at is not None:
            self.arrival.append((task.on_site_at - task.offered_at).total_seconds())
        if task.resolved_at is not None and task.on_site_at is not None:
            self.resolved += 1
            self.resolve.append((task.resolved_at - task.on_site_at).total_seconds())

    def judge(self, outcome: str | None) -> None:
        if outcome == Outcome.MET.value:
            self.met += 1
        elif outcome == Outcome.BREACHED.value:
            self.breached += 1

    def record(self) -> dict[str, object]:
        judged = self.met + self.breached
        return {
            "offered": self.offered,
            "accepted": self.accepted,
            "declined": self.declined,
            "expired": self.expired,
            "resolved": self.resolved,
            "accept": Timing.of(self.accept),
            "arrival": Timing.of(self.arrival),
            "resolve": Timing.of(self.resolve),
            "on_time_rate": round(self.met / judged, 3) if judged else None,
            "phases_judged": judged,
        }


def _days(site: Site, since: datetime, until: datetime) -> tuple[str, str]:
    tz = site.settings.site.tz
    first: date = since.astimezone(tz).date()
    last: date = (until - timedelta(microseconds=1)).astimezone(tz).date()
    return first.isoformat(), last.isoformat()


def _tasks(session: Session, since: datetime, until: datetime) -> Iterable[tuple[Task, str | None]]:
    return session.execute(
        select(Task, Case.grid_id)
        .join(Case, Case.id == Task.case_id)
        .where(Task.offered_at >= since, Task.offered_at < until)
    ).tuples()


def _outcomes(session: Session, task_ids: list[str]) -> list[tuple[str, str | None]]:
    if not task_ids:
        return []
    rows = session.execute(
        select(SlaTimer.task_id, SlaTimer.outcome).where(
            SlaTimer.task_id.in_(task_ids), SlaTimer.phase.in_(TIMED_PHASES)
        )
    )
    return [(t, o) for t, o in rows if t is not None]


def worker_records(session: Session, site: Site, since: datetime, until: datetime) -> list[WorkerRecord]:
    tallies: dict[str, _Tally] = defaultdict(_Tally)
    owner: dict[str, str] = {}
    for task, _grid in _tasks(session, since, until):
        tallies[task.worker_id].add(task)
        owner[task.id] = task.worker_id
    for task_id, outcome in _outcomes(session, list(owner)):
        tallies[owner[task_id]].judge(outcome)
    first, last = _days(site, since, until)
    patrols = patrol_totals(session, first, last)
    out = []
    for worker in site.workers.values():
        tally = tallies.get(worker.id, _Tally())
        patrol = patrols.get(worker.id, {})
        planned = patrol.get("planned", 0.0)
        out.append(
            WorkerRecord(
                worker_id=worker.id,
                name=worker.name,
                home_grid=worker.home_grid,
                patrol_distance_m=round(patrol.get("distance_m", 0.0), 1),
                patrol_duration_s=round(patrol.get("duration_s", 0.0), 1),
                patrol_coverage=round(patrol.get("visited", 0.0) / planned, 3) if planned else None,
                **tally.record(),  # type: ignore[arg-type]
            )
        )
    return out


def grid_records(session: Session, site: Site, since: datetime, until: datetime) -> list[GridRecord]:
    tallies: dict[str, _Tally] = defaultdict(_Tally)
    grid_of: dict[str, str] = {}
    for task, grid_id in _tasks(session, since, until):
        if grid_id is None:
            continue
        tallies[grid_id].add(task)
        grid_of[task.id] = grid_id
    for task_id, outcome in _outcomes(session, list(grid_of)):
        tallies[grid_of[task_id]].judge(outcome)
    out = []
    for grid in site.grids:
        tally = tallies.get(grid.id, _Tally())
        out.append(GridRecord(grid_id=grid.id, name=grid.name, cases=len(tally.cases), **tally.record()))  # type: ignore[arg-type]
    return out
