"""A worker's patrol day (plan, inspections folded in, coverage, track) and explicit patrol check-ins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from cloud_api.auth import Access, Perm, allow, same_person
from cloud_api.auth.guard import GuardedRoute
from cloud_api.deps import CtxDep, ReadSessionDep, SessionDep
from cloud_api.params import Day
from cloud_api.routes.workers import WorkerReader, worker_in_reach
from contracts.geo import haversine_m
from gateway.flows.arrivals import arrive
from gateway.patrol import plans
from gateway.patrol.queries import PatrolDay, patrol_day

router = APIRouter(prefix="/api/v1/workers", tags=["patrol"], route_class=GuardedRoute)


class CheckIn(BaseModel):
    model_config = {"extra": "forbid"}

    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)


class CheckedIn(BaseModel):
    checkpoints: list[str]  # checkpoint ids now visited
    tasks: list[str]  # task ids now on site


@router.get("/{worker_id}/patrol", response_model=PatrolDay, summary="A worker's patrol day")
def get_patrol(
    worker_id: str,
    session: ReadSessionDep,
    ctx: CtxDep,
    access: WorkerReader,
    day: Annotated[Day | None, Query(description="Local date; default today.")] = None,
    points: Annotated[bool, Query(description="Include the track's points.")] = False,
) -> PatrolDay:
    worker_in_reach(ctx.site, access, worker_id)
    return patrol_day(
        session, worker_id, (day.isoformat() if day else plans.local_day(ctx, ctx.now())), points
    )


@router.post(
    "/{worker_id}/patrol/check-in", response_model=CheckedIn, summary="Check in where the worker stands"
)
def check_in(
    worker_id: str,
    body: CheckIn,
    session: SessionDep,
    ctx: CtxDep,
    access: Annotated[Access, Depends(allow(Perm.CHECK_IN))],
) -> CheckedIn:
    """Visits the plan's checkpoints within the check-in radius and completes the on-site step
    of the worker's tasks there. Nothing in range answers 409 with the nearest open stop.
    The worker themselves only."""
    worker_in_reach(ctx.site, access, worker_id)
    same_person(access, worker_id, "worker_id")
    now = ctx.now()
    with session.begin():
        visited = plans.visit_checkpoints(session, ctx, worker_id, body.lon, body.lat, now)
        arrived = arrive(session, ctx, worker_id, body.lon, body.lat, now, now, True, "patrol check-in")
        if not visited and not arrived:
            plan = plans.plan_for(session, ctx, worker_id, plans.local_day(ctx, now), now)
            open_stops = [
                s for s in plans.stops_of(session, plan.id) if s.visited_at is None and s.cancelled_at is None
            ]
            radius = ctx.site.settings.dispatch.check_in_radius_m
            if open_stops:
                nearest = min(open_stops, key=lambda s: haversine_m(body.lon, body.lat, s.lon, s.lat))
                d = haversine_m(body.lon, body.lat, nearest.lon, nearest.lat)
                detail = (
                    f"nearest open stop is {nearest.name!r}, {d:.0f} m away; check in within {radius:.0f} m"
                )
            else:
                detail = "no open stop on today's patrol"
            raise HTTPException(409, detail)
        return CheckedIn(
            checkpoints=[s.checkpoint_id for s in visited if s.checkpoint_id], tasks=[t.id for t in arrived]
        )
