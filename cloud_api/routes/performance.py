"""Performance records per worker and per grid (accept, arrival and resolve times; on-time rate; patrols)."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from cloud_api.deps import CtxDep, ReadSessionDep
from gateway.performance.service import GridRecord, WorkerRecord, grid_records, worker_records

router = APIRouter(prefix="/api/v1/performance", tags=["performance"])


class Period(BaseModel):
    since: datetime
    until: datetime


class WorkerRecords(Period):
    items: list[WorkerRecord]


class GridRecords(Period):
    items: list[GridRecord]


def _period(ctx: CtxDep, since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    tz = ctx.site.settings.site.tz
    until = until or ctx.now()
    since = since or until - timedelta(days=7)
    # A time without an offset is the site's local time (what a grid office types).
    since, until = (t if t.tzinfo else t.replace(tzinfo=tz) for t in (since, until))
    if since >= until:
        raise HTTPException(422, "'since' must be before 'until'")
    return since, until


SINCE = Query(default=None, description="Start (inclusive); default 7 days before 'until'.")
UNTIL = Query(default=None, description="End (exclusive); default now.")


@router.get("/workers", response_model=WorkerRecords, summary="Per worker, for tasks offered in the period")
def workers(
    session: ReadSessionDep, ctx: CtxDep, since: datetime | None = SINCE, until: datetime | None = UNTIL
) -> WorkerRecords:
    start, end = _period(ctx, since, until)
    return WorkerRecords(since=start, until=end, items=worker_records(session, ctx.site, start, end))


@router.get("/grids", response_model=GridRecords, summary="Per grid, for tasks offered in the period")
def grids(
    session: ReadSessionDep, ctx: CtxDep, since: datetime | None = SINCE, until: datetime | None = UNTIL
) -> GridRecords:
    start, end = _period(ctx, since, until)
    return GridRecords(since=start, until=end, items=grid_records(session, ctx.site, start, end))
