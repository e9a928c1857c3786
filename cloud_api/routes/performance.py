"""Performance records per worker and per grid (accept, arrival and resolve times; on-time rate; patrols)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel

from cloud_api.auth import Access, Perm, Place, allow
from cloud_api.auth.guard import GuardedRoute
from cloud_api.auth.places import worker_place
from cloud_api.deps import CtxDep, ReadSessionDep
from cloud_api.params import EARLIEST, Time, site_time
from gateway.performance.service import GridRecord, WorkerRecord, grid_records, worker_records

router = APIRouter(prefix="/api/v1/performance", tags=["performance"], route_class=GuardedRoute)
PerformanceReader = Annotated[Access, Depends(allow(Perm.READ_PERFORMANCE))]


class Period(BaseModel):
    since: datetime
    until: datetime


class WorkerRecords(Period):
    items: list[WorkerRecord]


class GridRecords(Period):
    items: list[GridRecord]


def _period(ctx: CtxDep, since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    tz = ctx.site.settings.site.tz
    until = site_time(until, tz, "until") or ctx.now()
    since = site_time(since, tz, "since") or max(
        until - timedelta(days=7), EARLIEST.replace(tzinfo=until.tzinfo)
    )
    if since >= until:
        raise HTTPException(422, "'since' must be before 'until'")
    return since, until


SINCE = Query(
    default=None,
    description="Start (inclusive; without an offset: site time); default 7 days before 'until'.",
)
UNTIL = Query(default=None, description="End (exclusive; without an offset: site time); default now.")


@router.get("/workers", response_model=WorkerRecords, summary="Per worker, for tasks offered in the period")
def workers(
    session: ReadSessionDep,
    ctx: CtxDep,
    access: PerformanceReader,
    since: Time | None = SINCE,
    until: Time | None = UNTIL,
) -> WorkerRecords:
    """The workers in the caller's areas."""
    start, end = _period(ctx, since, until)
    items = [
        r
        for r in worker_records(session, ctx.site, start, end)
        if access.allows(worker_place(ctx.site, r.worker_id))
    ]
    return WorkerRecords(since=start, until=end, items=items)


@router.get("/grids", response_model=GridRecords, summary="Per grid, for tasks offered in the period")
def grids(
    session: ReadSessionDep,
    ctx: CtxDep,
    access: PerformanceReader,
    since: Time | None = SINCE,
    until: Time | None = UNTIL,
) -> GridRecords:
    """The grids in the caller's areas."""
    start, end = _period(ctx, since, until)
    items = [
        r for r in grid_records(session, ctx.site, start, end) if access.allows(Place(frozenset([r.grid_id])))
    ]
    return GridRecords(since=start, until=end, items=items)
