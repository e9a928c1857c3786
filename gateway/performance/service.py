"""Performance records per worker and per grid over a period (网格员量化考核).

For the tasks offered in the period: how long accepting, arriving (offer → on
site) and resolving (on site → resolved) took, as p50/p90; the on-time rate
(worker-accept, on-site and resolve phases that met their SLA, over those that
ended met or breached); declines and expired offers; and for workers the patrol
distance, time and checkpoint coverage of the days in the period.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy.orm import Session

from contracts.site import Site
from gateway.performance.areas import By, Grids, SiteMap
from gateway.performance.assessment import PatrolFigures, patrol_figures
from gateway.performance.periods import Period
from gateway.performance.response import Response, Timing, response


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


def _record(line: Response) -> dict[str, object]:
    return {
        "offered": line.offered,
        "accepted": line.accepted,
        "declined": line.declined,
        "expired": line.expired,
        "resolved": line.resolved,
        "accept": line.accept,
        "arrival": line.arrival,
        "resolve": line.resolve,
        "on_time_rate": round(line.on_time_rate, 3) if line.on_time_rate is not None else None,
        "phases_judged": line.phases_judged,
    }


def worker_records(
    session: Session, site: Site, since: datetime, until: datetime, grids: Grids = None
) -> list[WorkerRecord]:
    places = SiteMap(site)
    period = Period(since, until, "")
    patrols = patrol_figures(session, places, period, places.workers_in(grids))
    out = []
    for line in response(session, places, since, until, By.WORKER, grids):
        worker = site.workers[line.key]  # type: ignore[index]
        patrol = patrols.get(worker.id, PatrolFigures())
        coverage = patrol.coverage
        out.append(
            WorkerRecord(
                worker_id=worker.id,
                name=worker.name,
                home_grid=worker.home_grid,
                patrol_distance_m=round(patrol.distance_m, 1),
                patrol_duration_s=round(patrol.duration_s, 1),
                patrol_coverage=round(coverage, 3) if coverage is not None else None,
                **_record(line),  # type: ignore[arg-type]
            )
        )
    return out


def grid_records(
    session: Session, site: Site, since: datetime, until: datetime, grids: Grids = None
) -> list[GridRecord]:
    out = []
    for line in response(session, SiteMap(site), since, until, By.GRID, grids):
        if line.key is None:
            continue
        out.append(GridRecord(grid_id=line.key, name=line.name, cases=line.cases, **_record(line)))  # type: ignore[arg-type]
    return out
