"""A worker's patrol plan for the day: the configured checkpoints, plus inspections folded in."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contracts.geo import haversine_m
from gateway.cases.models import Case
from gateway.context import GatewayContext
from gateway.dispatch.models import Task
from gateway.patrol import metrics
from gateway.patrol.insertion import cheapest_insertion
from gateway.patrol.models import PatrolPlan, PatrolStop
from gateway.workers.models import WorkerPosition

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint"
TASK = "task"


def local_day(ctx: GatewayContext, at: datetime) -> str:
    return at.astimezone(ctx.site.settings.site.tz).date().isoformat()


def find_plan(session: Session, worker_id: str, day: str) -> PatrolPlan | None:
    return session.scalars(
        select(PatrolPlan).where(PatrolPlan.worker_id == worker_id, PatrolPlan.day == day)
    ).first()


def plan_for(session: Session, ctx: GatewayContext, worker_id: str, day: str, now: datetime) -> PatrolPlan:
    """Today's plan, made from the worker's configured route the first time it is needed."""
    plan = find_plan(session, worker_id, day)
    if plan is not None:
        return plan
    route = ctx.site.patrols.route_of(worker_id)
    worker = ctx.site.workers.get(worker_id)
    home = ctx.grids.get(worker.home_grid) if worker else None
    if route is not None and route.start is not None:
        start = (route.start.lon, route.start.lat)
    elif home is not None:
        start = (home.centroid.lon, home.centroid.lat)
    else:
        start = (0.0, 0.0)
    plan = PatrolPlan(worker_id=worker_id, day=day, created_at=now, start_lon=start[0], start_lat=start[1])
    try:
        with session.begin_nested():
            session.add(plan)
            session.flush()
    except IntegrityError:  # made by another gateway a moment ago
        existing = find_plan(session, worker_id, day)
        assert existing is not None
        return existing
    for position, cp_id in enumerate(route.checkpoints if route else []):
        cp = ctx.site.patrols.checkpoint(cp_id)
        if cp is None:
            continue
        session.add(
            PatrolStop(
                plan_id=plan.id,
                position=position,
                kind=CHECKPOINT,
                checkpoint_id=cp.id,
                name=cp.name,
                lon=cp.location.lon,
                lat=cp.location.lat,
                added_at=now,
                detour_m=0.0,
            )
        )
    session.flush()
    return plan


def stops_of(session: Session, plan_id: int) -> list[PatrolStop]:
    return list(
        session.scalars(select(PatrolStop).where(PatrolStop.plan_id == plan_id).order_by(PatrolStop.position))
    )


def _open(stop: PatrolStop) -> bool:
    return stop.visited_at is None and stop.cancelled_at is None


@dataclass(frozen=True)
class Insertion:
    stop: PatrolStop
    index: int  # among the stops still to walk, 0 = next
    remaining: int  # stops still to walk, including the new one
    after: str | None  # name of the stop before it, None = first
    detour_m: float

    def describe(self) -> str:
        where = f"after {self.after}" if self.after else "as the next stop"
        return (
            f"folded into today's patrol as stop {self.index + 1} of {self.remaining} {where} "
            f"(+{self.detour_m:.0f} m)"
        )


def insert_task(session: Session, ctx: GatewayContext, task: Task, case: Case, now: datetime) -> Insertion:
    """Insert a non-urgent inspection into the worker's plan where it adds the least distance."""
    assert case.lon is not None and case.lat is not None
    plan = plan_for(session, ctx, task.worker_id, local_day(ctx, now), now)
    stops = stops_of(session, plan.id)
    ahead = [s for s in stops if _open(s)]
    start = _current_position(session, ctx, task.worker_id, plan, stops, now)
    index, added = cheapest_insertion(start, [(s.lon, s.lat) for s in ahead], (case.lon, case.lat))
    position = (
        ahead[index].position if index < len(ahead) else (max((s.position for s in stops), default=-1) + 1)
    )
    session.execute(
        update(PatrolStop)
        .where(PatrolStop.plan_id == plan.id, PatrolStop.position >= position)
        .values(position=PatrolStop.position + 1)
    )
    stop = PatrolStop(
        plan_id=plan.id,
        position=position,
        kind=TASK,
        task_id=task.id,
        name=case.title[:300],
        lon=case.lon,
        lat=case.lat,
        added_at=now,
        detour_m=round(added, 1),
    )
    session.add(stop)
    session.flush()
    metrics.PATROL_INSERTIONS.inc()
    metrics.PATROL_DETOUR_M.observe(added)
    after = ahead[index - 1].name if index > 0 else None
    log.info(
        "task %s folded into %s's patrol at %d of %d (+%.0f m)",
        task.id,
        task.worker_id,
        index + 1,
        len(ahead) + 1,
        added,
        extra={"task_id": task.id, "worker_id": task.worker_id, "case_id": case.id},
    )
    return Insertion(stop, index, len(ahead) + 1, after, added)


def _current_position(
    session: Session,
    ctx: GatewayContext,
    worker_id: str,
    plan: PatrolPlan,
    stops: list[PatrolStop],
    now: datetime,
) -> tuple[float, float]:
    fix = session.get(WorkerPosition, worker_id)
    if fix is not None and (now - fix.fixed_at).total_seconds() <= ctx.site.settings.dispatch.stale_fix_s:
        return fix.lon, fix.lat
    visited = [s for s in stops if s.visited_at is not None]
    if visited:
        last = max(visited, key=lambda s: s.visited_at)  # type: ignore[arg-type, return-value]
        return last.lon, last.lat
    return plan.start_lon, plan.start_lat


def end_task_stop(session: Session, task_id: str, now: datetime, visited: bool) -> None:
    """The task was done (visited) or taken away (cancelled): its stop leaves the plan's open part."""
    for stop in session.scalars(select(PatrolStop).where(PatrolStop.task_id == task_id)):
        if _open(stop):
            if visited:
                stop.visited_at = now
            else:
                stop.cancelled_at = now


def _checkpoints_in_reach(
    session: Session, ctx: GatewayContext, worker_id: str, lon: float, lat: float, at: datetime
) -> list[PatrolStop]:
    """Today's checkpoints within the check-in radius of (lon, lat), cancelled ones left out."""
    plan = plan_for(session, ctx, worker_id, local_day(ctx, at), at)
    radius = ctx.site.settings.dispatch.check_in_radius_m
    return [
        stop
        for stop in stops_of(session, plan.id)
        if stop.kind == CHECKPOINT
        and stop.cancelled_at is None
        and haversine_m(lon, lat, stop.lon, stop.lat) <= radius
    ]


def visit_checkpoints(
    session: Session, ctx: GatewayContext, worker_id: str, lon: float, lat: float, at: datetime
) -> list[PatrolStop]:
    """Checkpoints of today's plan within the check-in radius of a patrol fix are visited."""
    visited = [
        s for s in _checkpoints_in_reach(session, ctx, worker_id, lon, lat, at) if s.visited_at is None
    ]
    for stop in visited:
        stop.visited_at = at
    return visited


def visited_near(
    session: Session, ctx: GatewayContext, worker_id: str, lon: float, lat: float, at: datetime
) -> list[PatrolStop]:
    """Checkpoints of today's plan within the check-in radius that were visited already (a fix on
    the way in checks a worker in before they tap the button: the tap is then not an error)."""
    return [
        s for s in _checkpoints_in_reach(session, ctx, worker_id, lon, lat, at) if s.visited_at is not None
    ]
