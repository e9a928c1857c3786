"""A worker's patrol day (plan, inspections folded in, coverage, track), explicit patrol check-ins,
and the phone's side of it: location fixes, start and stop (each may carry an Idempotency-Key)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from cloud_api.auth import Access, Perm, allow, same_person
from cloud_api.auth.guard import GuardedRoute
from cloud_api.deps import CtxDep, ReadSessionDep, SessionDep
from cloud_api.idempotency import Conflict, OnceDep
from cloud_api.params import AwareTime, Day
from cloud_api.routes.workers import WorkerReader, worker_in_reach
from contracts import GeoPoint, LocationFix
from contracts.geo import haversine_m
from gateway.context import GatewayContext
from gateway.flows.arrivals import arrive
from gateway.flows.location_fixes import apply_fix, start_patrol, stop_patrol
from gateway.patrol import plans
from gateway.patrol.queries import PatrolDay, patrol_day

router = APIRouter(prefix="/api/v1/workers", tags=["patrol"], route_class=GuardedRoute)


class CheckIn(BaseModel):
    model_config = {"extra": "forbid"}

    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)


class VisitedAlready(BaseModel):
    checkpoint_id: str
    name: str
    visited_at: datetime


class CheckedIn(BaseModel):
    checkpoints: list[str]  # checkpoint ids now visited
    tasks: list[str]  # task ids now on site
    already: list[VisitedAlready] = Field(
        default=[], description="Checkpoints here an earlier fix or check-in visited today (nothing new)."
    )


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
    once: OnceDep,
) -> Response:
    """Visits the plan's checkpoints within the check-in radius and completes the on-site step
    of the worker's tasks there; checkpoints in range visited earlier today come back in
    ``already`` (not an error: a fix on the way in may have checked the worker in). Nothing in
    range answers 409 with the nearest open stop (``nearest``, ``distance_m``, ``radius_m``).
    The worker themselves only."""
    worker_in_reach(ctx.site, access, worker_id)
    same_person(access, worker_id, "worker_id")
    now = ctx.now()

    def work() -> CheckedIn:
        visited = plans.visit_checkpoints(session, ctx, worker_id, body.lon, body.lat, now)
        arrived = arrive(session, ctx, worker_id, body.lon, body.lat, now, now, True, "patrol check-in")
        if not visited and not arrived:
            already = plans.visited_near(session, ctx, worker_id, body.lon, body.lat, now)
            if already:
                return CheckedIn(
                    checkpoints=[],
                    tasks=[],
                    already=[
                        VisitedAlready(checkpoint_id=stop.checkpoint_id or "", name=stop.name, visited_at=at)
                        for stop in already
                        if (at := stop.visited_at) is not None
                    ],
                )
            plan = plans.plan_for(session, ctx, worker_id, plans.local_day(ctx, now), now)
            open_stops = [
                s for s in plans.stops_of(session, plan.id) if s.visited_at is None and s.cancelled_at is None
            ]
            radius = ctx.site.settings.dispatch.check_in_radius_m
            if not open_stops:
                raise Conflict("no open stop on today's patrol", radius_m=radius)
            nearest = min(open_stops, key=lambda s: haversine_m(body.lon, body.lat, s.lon, s.lat))
            d = haversine_m(body.lon, body.lat, nearest.lon, nearest.lat)
            raise Conflict(
                f"nearest open stop is {nearest.name!r}, {d:.0f} m away; check in within {radius:.0f} m",
                nearest=nearest.name,
                distance_m=round(d),
                radius_m=radius,
            )
        return CheckedIn(
            checkpoints=[s.checkpoint_id for s in visited if s.checkpoint_id], tasks=[t.id for t in arrived]
        )

    return once.run(session, now, work)


class Fix(BaseModel):
    """Where the phone is (the browser's geolocation)."""

    model_config = {"extra": "forbid"}

    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    accuracy_m: float = Field(default=10.0, ge=0, le=10_000)
    at: AwareTime | None = Field(
        default=None, description="When the phone took it (kept without signal, sent later); default now."
    )


class LocationRequest(Fix):
    on_patrol: bool = False


class FixTaken(BaseModel):
    newest: bool  # false: an older fix than the one the server has (kept for nothing)


def _fix(ctx: GatewayContext, worker_id: str, body: Fix, on_patrol: bool) -> LocationFix:
    now = ctx.now()
    return LocationFix(
        source=worker_id,
        seq=0,
        ts=min(body.at or now, now),  # a phone clock ahead of ours must not pin the position
        worker_id=worker_id,
        location=GeoPoint(lon=body.lon, lat=body.lat),
        accuracy_m=body.accuracy_m,
        on_patrol=on_patrol,
    )


@router.post(
    "/{worker_id}/location",
    response_model=FixTaken,
    summary="The phone's position (on patrol: its track; near a task's site: on site)",
)
def post_location(
    worker_id: str,
    body: LocationRequest,
    session: SessionDep,
    ctx: CtxDep,
    access: Annotated[Access, Depends(allow(Perm.SEND_LOCATION))],
    once: OnceDep,
) -> Response:
    worker_in_reach(ctx.site, access, worker_id)
    same_person(access, worker_id, "worker_id")
    fix = _fix(ctx, worker_id, body, body.on_patrol)
    return once.run(session, ctx.now(), lambda: FixTaken(newest=apply_fix(session, ctx, fix, ctx.now())))


def _patrol_step(
    worker_id: str, body: Fix, session: SessionDep, ctx: CtxDep, access: Access, once: OnceDep, start: bool
) -> Response:
    worker_in_reach(ctx.site, access, worker_id)
    same_person(access, worker_id, "worker_id")
    fix = _fix(ctx, worker_id, body, on_patrol=start)
    now = ctx.now()

    def work() -> PatrolDay:
        if start:
            start_patrol(session, ctx, fix, now)
        else:
            stop_patrol(session, ctx, fix, now)
        session.flush()
        return patrol_day(session, worker_id, plans.local_day(ctx, now))

    return once.run(session, now, work)


@router.post(
    "/{worker_id}/patrol/start", response_model=PatrolDay, summary="On patrol: today's plan, the track starts"
)
def patrol_start(
    worker_id: str,
    body: Fix,
    session: SessionDep,
    ctx: CtxDep,
    access: Annotated[Access, Depends(allow(Perm.CHECK_IN))],
    once: OnceDep,
) -> Response:
    """The phone then sends a fix every so often (``POST …/location`` with ``on_patrol``)."""
    return _patrol_step(worker_id, body, session, ctx, access, once, start=True)


@router.post("/{worker_id}/patrol/stop", response_model=PatrolDay, summary="Off patrol (the last fix)")
def patrol_stop(
    worker_id: str,
    body: Fix,
    session: SessionDep,
    ctx: CtxDep,
    access: Annotated[Access, Depends(allow(Perm.CHECK_IN))],
    once: OnceDep,
) -> Response:
    return _patrol_step(worker_id, body, session, ctx, access, once, start=False)
