"""The monthly assessment (量化考核): each worker's and each grid's month as a score out of 100,
ranked within the community, with every figure the score was made from.

The figures (all computed by the database, see :mod:`gateway.performance.sql`):

- patrol coverage (巡查覆盖率): checkpoints visited ÷ planned on the month's patrol days — a
  grid's are those of the workers homed in it;
- on-time arrival and on-time resolution: the on-site and resolve SLA phases of the month's
  tasks that were met ÷ those met or breached — a grid's are the tasks of its cases;
- verified resolutions (核查通过率): results the centre verified ÷ (verified + sent back);
- reports raised (随手拍): reports the worker sent in the month — a grid's are its workers'
  reports per worker, so that one target serves both.

The scheme (``analytics.yaml`` ``assessment``, :class:`contracts.site.analytics.AssessmentScheme`)
gives each measure ``weight × min(1, actual ÷ target)`` points. A measure with nothing to judge
is skipped (the others scale up to 100) or scores 0, as the scheme says; a line with nothing
to judge at all has no score and no rank. Equal scores (to 0.1) share a rank (1, 1, 3).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contracts.site.analytics import AssessmentScheme, Measure, NoData
from gateway.events.models import EventRecord
from gateway.events.queries import WORKER_REPORT_TOPIC
from gateway.patrol.models import PatrolPlan, PatrolStop, PatrolTrack
from gateway.performance.areas import By, Grids, SiteMap
from gateway.performance.periods import Period, local_days
from gateway.performance.response import Response, response
from gateway.performance.sql import grouped

CHECKPOINT = "checkpoint"  # gateway.patrol.plans.CHECKPOINT: a stop of the daily route


class PatrolFigures(BaseModel):
    planned: int = 0
    visited: int = 0
    distance_m: float = 0.0
    duration_s: float = 0.0

    @property
    def coverage(self) -> float | None:
        return self.visited / self.planned if self.planned else None


class MeasureScore(BaseModel):
    measure: Measure
    weight: float
    target: float
    actual: float | None  # the share (0-1) or the count; None: nothing to judge
    numerator: int | float  # e.g. checkpoints visited, SLA phases met, reports
    denominator: int | float | None  # e.g. planned, judged; None for a count
    points: float | None  # weight × min(1, actual ÷ target); None when skipped


class Assessment(BaseModel):
    kind: Literal["worker", "grid"]
    key: str
    name: str
    community: str | None
    community_name: str
    score: float | None  # out of 100, to 0.1; None: nothing to judge
    rank: int | None  # within the community; None without a score
    ranked: int  # how many have a rank in the community
    measures: list[MeasureScore]
    patrol: PatrolFigures
    response: Response
    reports: int
    workers: int  # grid: workers homed there; worker: 1


def patrol_figures(
    session: Session, places: SiteMap, period: Period, workers: list[str]
) -> dict[str, PatrolFigures]:
    """Per worker: checkpoints planned and visited, distance and time walked, on the period's days."""
    first, last = local_days(period, places.site.settings.site.tz)
    wg = places.worker_grids(workers)
    stops = (
        select(PatrolPlan.worker_id.label("worker_id"), PatrolStop.visited_at.label("visited_at"))
        .join(PatrolStop, PatrolStop.plan_id == PatrolPlan.id)
        .join(wg, wg.c.k == PatrolPlan.worker_id)
        .where(PatrolPlan.day >= first, PatrolPlan.day <= last, PatrolStop.kind == CHECKPOINT)
        .subquery()
    )
    out: dict[str, PatrolFigures] = defaultdict(PatrolFigures)
    planned = {"planned": func.count(), "visited": func.count(stops.c.visited_at)}
    for (worker,), v in grouped(session, stops, ["worker_id"], planned).items():
        out[worker].planned, out[worker].visited = int(v["planned"]), int(v["visited"])
    tracks = (
        select(PatrolTrack.worker_id, PatrolTrack.distance_m, PatrolTrack.duration_s)
        .join(wg, wg.c.k == PatrolTrack.worker_id)
        .where(PatrolTrack.day >= first, PatrolTrack.day <= last)
        .subquery()
    )
    walked = {"distance": func.sum(tracks.c.distance_m), "duration": func.sum(tracks.c.duration_s)}
    for (worker,), v in grouped(session, tracks, ["worker_id"], walked).items():
        out[worker].distance_m = float(v["distance"] or 0)
        out[worker].duration_s = float(v["duration"] or 0)
    return dict(out)


def reports_raised(session: Session, places: SiteMap, period: Period, workers: list[str]) -> dict[str, int]:
    """Per worker: 随手拍 reports received in the period (a report joining an open case counts)."""
    wg = places.worker_grids(workers)
    query = (
        select(EventRecord.source, func.count())
        .join(wg, wg.c.k == EventRecord.source)
        .where(
            EventRecord.topic == WORKER_REPORT_TOPIC,
            EventRecord.outcome == "applied",
            EventRecord.received_at >= period.start,
            EventRecord.received_at < period.end,
        )
        .group_by(EventRecord.source)
    )
    return {source: int(n) for source, n in session.execute(query)}


def _share(numerator: int, denominator: int) -> tuple[float | None, int, int]:
    return (numerator / denominator if denominator else None), numerator, denominator


def measure_values(
    line: Response, patrol: PatrolFigures, reports: float, workers: int
) -> dict[Measure, tuple[float | None, int | float, int | float | None]]:
    """Each measure's (actual, numerator, denominator) from a line's figures."""
    return {
        Measure.PATROL_COVERAGE: _share(patrol.visited, patrol.planned),
        Measure.ON_TIME_ARRIVAL: _share(line.arrival_sla.met, line.arrival_sla.judged),
        Measure.ON_TIME_RESOLUTION: _share(line.resolve_sla.met, line.resolve_sla.judged),
        Measure.VERIFIED_RESOLUTIONS: _share(line.verified, line.verified + line.sent_back),
        Measure.REPORTS_RAISED: (
            (reports / workers if workers else None),
            reports,
            workers if workers != 1 else None,
        ),
    }


def score(
    scheme: AssessmentScheme, values: dict[Measure, tuple[float | None, int | float, int | float | None]]
) -> tuple[float | None, list[MeasureScore]]:
    """The score out of 100 and each measure's points."""
    out = []
    earned = weights = 0.0
    for measure, rule in scheme.measures.rules().items():
        actual, num, den = values[measure]
        if actual is None and scheme.no_data is NoData.SKIP:
            points = None
        else:
            points = rule.weight * min(1.0, (actual or 0.0) / rule.target)
            earned += points
            weights += rule.weight
        out.append(
            MeasureScore(
                measure=measure,
                weight=rule.weight,
                target=rule.target,
                actual=round(actual, 4) if actual is not None else None,
                numerator=num,
                denominator=den,
                points=round(points, 2) if points is not None else None,
            )
        )
    if weights == 0:
        return None, out
    total = earned if scheme.no_data is NoData.ZERO else 100.0 * earned / weights
    return round(total, 1), out


def rank(lines: list[Assessment]) -> None:
    """Rank within each community by score (equal scores share a rank); no score, no rank."""
    by_community: dict[str | None, list[Assessment]] = defaultdict(list)
    for line in lines:
        by_community[line.community].append(line)
    for members in by_community.values():
        scored = [m for m in members if m.score is not None]
        for m in members:
            m.ranked = len(scored)
            m.rank = 1 + sum(1 for o in scored if o.score > m.score) if m.score is not None else None  # type: ignore[operator]


def assess(
    session: Session,
    places: SiteMap,
    scheme: AssessmentScheme,
    period: Period,
    kind: Literal["worker", "grid"],
    grids: Grids = None,
) -> list[Assessment]:
    """The month's assessment of every worker (or grid) in the scope, ranked in its community."""
    workers = places.workers_in(grids)
    patrols = patrol_figures(session, places, period, workers)
    reports = reports_raised(session, places, period, workers)
    site = places.site
    lines: list[Assessment] = []
    if kind == "worker":
        for r in response(session, places, period.start, period.end, By.WORKER, grids):
            worker = site.workers[r.key]  # type: ignore[index]
            patrol = patrols.get(worker.id, PatrolFigures())
            n_reports = reports.get(worker.id, 0)
            total, measures = score(scheme, measure_values(r, patrol, n_reports, 1))
            lines.append(
                _line(
                    "worker",
                    worker.id,
                    worker.name,
                    r.community,
                    places,
                    total,
                    measures,
                    patrol,
                    r,
                    n_reports,
                    1,
                )
            )
    else:
        homed: dict[str, list[str]] = defaultdict(list)
        for w in workers:
            homed[site.workers[w].home_grid].append(w)
        for r in response(session, places, period.start, period.end, By.GRID, grids):
            if r.key is None:
                continue  # outside every grid: nobody's grid to assess
            patrol = _sum_patrols(patrols.get(w, PatrolFigures()) for w in homed[r.key])
            n_reports = sum(reports.get(w, 0) for w in homed[r.key])
            n_workers = len(homed[r.key])
            total, measures = score(scheme, measure_values(r, patrol, n_reports, n_workers))
            lines.append(
                _line(
                    "grid",
                    r.key,
                    r.name,
                    r.community,
                    places,
                    total,
                    measures,
                    patrol,
                    r,
                    n_reports,
                    n_workers,
                )
            )
    rank(lines)
    return sorted(lines, key=lambda a: (a.community or "", a.rank is None, a.rank or 0, a.key))


def _sum_patrols(items: Any) -> PatrolFigures:
    total = PatrolFigures()
    for p in items:
        total.planned += p.planned
        total.visited += p.visited
        total.distance_m += p.distance_m
        total.duration_s += p.duration_s
    return total


def _line(
    kind: Literal["worker", "grid"],
    key: str,
    name: str,
    community: str | None,
    places: SiteMap,
    total: float | None,
    measures: list[MeasureScore],
    patrol: PatrolFigures,
    r: Response,
    reports: int,
    workers: int,
) -> Assessment:
    return Assessment(
        kind=kind,
        key=key,
        name=name,
        community=community,
        community_name=places.name(community),
        score=total,
        rank=None,
        ranked=0,
        measures=measures,
        patrol=patrol,
        response=r,
        reports=reports,
        workers=workers,
    )
