"""What the centre learns from its cases: hotspots, the weekly trend, density for the map,
response figures, the monthly assessment (量化考核) and the devices raising most false alarms.

Every figure is over the grids the signed-in person covers (``Access.grids``): an operator of
one community sees that community's grids, workers homed there, and nothing of the rest.
Periods are site-local: ``week=2026-W14``, ``month=2026-04``, or ``since``/``until``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel

from cloud_api.auth import Access, Perm, allow
from cloud_api.auth.guard import GuardedRoute
from cloud_api.deps import AreasDep, CtxDep, ReadSessionDep
from cloud_api.params import Time, site_time
from cloud_api.sheets import XLSX_TYPE, download, local
from contracts.site.analytics import Measure
from gateway.cases.feedback import NoisyDevice, noisy_devices
from gateway.context import GatewayContext
from gateway.dispatch.models import TaskStatus
from gateway.people.areas import SiteAreas
from gateway.performance.areas import By, SiteMap
from gateway.performance.assessment import Assessment, assess
from gateway.performance.exports import task_rows
from gateway.performance.hotspots import GridDensity, Hotspot, Week, density, hotspots, trend
from gateway.performance.periods import (
    Period,
    last_full_week,
    midnight,
    month_of,
    parse_month,
    parse_week,
    weeks_ending,
)
from gateway.performance.response import Response as ResponseLine
from gateway.performance.response import response

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"], route_class=GuardedRoute)
Reader = Annotated[Access, Depends(allow(Perm.READ_PERFORMANCE))]

WEEK = Query(default=None, description="An ISO week, site time (e.g. 2026-W14). Default: the last full week.")
SINCE = Query(default=None, description="Start (inclusive; without an offset: site time); instead of week.")
TREND_END = Query(
    default=None, description="The weeks end with the one holding this instant; default: the last full week."
)
MONTH = Query(default=None, description="YYYY-MM, site time; default: the last full month.")
UNTIL = Query(default=None, description="End (exclusive; without an offset: site time); with since.")


class PeriodView(BaseModel):
    since: datetime
    until: datetime
    label: str


class HotspotList(BaseModel):
    period: PeriodView
    previous: PeriodView
    by: str
    items: list[Hotspot]


class DensityList(BaseModel):
    period: PeriodView
    items: list[GridDensity]


class TrendView(BaseModel):
    by: str
    weeks: list[Week]


class ResponseList(BaseModel):
    period: PeriodView
    by: str
    items: list[ResponseLine]


class AssessmentList(BaseModel):
    period: PeriodView
    kind: str
    scheme: dict[str, object]
    items: list[Assessment]


class NoisyDeviceList(BaseModel):
    period: PeriodView
    items: list[NoisyDevice]


def _view(p: Period) -> PeriodView:
    return PeriodView(since=p.start, until=p.end, label=p.label)


def period_of(
    ctx: GatewayContext, week: str | None, since: datetime | None, until: datetime | None
) -> Period:
    """``week``, or ``since``/``until`` (site time when naive), or the last full week."""
    tz = ctx.site.settings.site.tz
    if week is not None:
        if since is not None or until is not None:
            raise HTTPException(422, "give either 'week' or 'since'/'until', not both")
        try:
            return parse_week(week, tz)
        except ValueError as exc:
            raise HTTPException(422, f"week: {exc}") from None
    if since is None and until is None:
        return last_full_week(ctx.now(), tz)
    end = site_time(until, tz, "until") or ctx.now()
    start = site_time(since, tz, "since") or end - timedelta(days=7)
    if start >= end:
        raise HTTPException(422, "'since' must be before 'until'")
    if end - start > timedelta(days=366):
        raise HTTPException(422, "a period of at most 366 days")
    a, b = start.astimezone(tz), (end - timedelta(microseconds=1)).astimezone(tz)
    return Period(start, end, f"{a:%Y-%m-%d} – {b:%Y-%m-%d}")


def month_period(ctx: GatewayContext, month: str | None) -> Period:
    tz = ctx.site.settings.site.tz
    if month is None:  # the last full month: a score is for a whole month
        first = ctx.now().astimezone(tz).date().replace(day=1)
        return month_of(first - timedelta(days=1), tz)
    try:
        return parse_month(month, tz)
    except ValueError as exc:
        raise HTTPException(422, f"month: {exc}") from None


@router.get(
    "/hotspots", response_model=HotspotList, summary="Cases per grid, community or hazard, week on week"
)
def get_hotspots(
    session: ReadSessionDep,
    ctx: CtxDep,
    access: Reader,
    by: Literal["grid", "community", "hazard_type"] = "grid",
    week: str | None = WEEK,
    since: Time | None = SINCE,
    until: Time | None = UNTIL,
) -> HotspotList:
    """Most cases first, each against the period of the same length just before."""
    period = period_of(ctx, week, since, until)
    items = hotspots(session, SiteMap(ctx.site), period, By(by), access.grids)
    return HotspotList(period=_view(period), previous=_view(period.before()), by=by, items=items)


@router.get("/density", response_model=DensityList, summary="Cases per km² of each grid (the map's colours)")
def get_density(
    session: ReadSessionDep,
    ctx: CtxDep,
    access: Reader,
    week: str | None = WEEK,
    since: Time | None = SINCE,
    until: Time | None = UNTIL,
) -> DensityList:
    period = period_of(ctx, week, since, until)
    return DensityList(period=_view(period), items=density(session, SiteMap(ctx.site), period, access.grids))


@router.get("/trend", response_model=TrendView, summary="Cases per site-local week, oldest first")
def get_trend(
    session: ReadSessionDep,
    ctx: CtxDep,
    access: Reader,
    weeks: Annotated[int, Query(ge=1, le=104, description="How many weeks.")] = 8,
    by: Literal["all", "grid", "community", "hazard_type"] = "all",
    until: Time | None = TREND_END,
) -> TrendView:
    tz = ctx.site.settings.site.tz
    end = site_time(until, tz, "until") if until is not None else last_full_week(ctx.now(), tz).end
    bounds = weeks_ending(end, weeks, tz)  # type: ignore[arg-type]
    return TrendView(by=by, weeks=trend(session, SiteMap(ctx.site), bounds, By(by), access.grids))


@router.get(
    "/response",
    response_model=ResponseList,
    summary="Time to accept, arrive and resolve (p50/p90), share within SLA, escalations",
)
def get_response(
    session: ReadSessionDep,
    ctx: CtxDep,
    access: Reader,
    by: Literal["grid", "community", "worker", "all"] = "grid",
    week: str | None = WEEK,
    since: Time | None = SINCE,
    until: Time | None = UNTIL,
) -> ResponseList:
    """For the tasks offered in the period: per grid or community (where the case lies) or per
    worker homed in the caller's grids."""
    period = period_of(ctx, week, since, until)
    items = response(session, SiteMap(ctx.site), period.start, period.end, By(by), access.grids)
    return ResponseList(period=_view(period), by=by, items=items)


@router.get(
    "/assessment",
    response_model=AssessmentList,
    summary="The monthly assessment (量化考核): scores ranked within the community, with their figures",
)
def get_assessment(
    session: ReadSessionDep,
    ctx: CtxDep,
    access: Reader,
    kind: Literal["worker", "grid"] = "worker",
    month: str | None = MONTH,
) -> AssessmentList:
    period = month_period(ctx, month)
    scheme = ctx.site.analytics.assessment
    items = assess(session, SiteMap(ctx.site), scheme, period, kind, access.grids)
    return AssessmentList(period=_view(period), kind=kind, scheme=scheme.model_dump(mode="json"), items=items)


@router.get(
    "/false-alarms",
    response_model=NoisyDeviceList,
    summary="The devices and cameras raising most false alarms (to fix or re-aim)",
)
def get_false_alarms(
    session: ReadSessionDep,
    ctx: CtxDep,
    access: Reader,
    week: str | None = WEEK,
    since: Time | None = SINCE,
    until: Time | None = UNTIL,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> NoisyDeviceList:
    tz = ctx.site.settings.site.tz
    if week is None and since is None and until is None:  # the last 28 days, today included
        today = midnight(ctx.now().astimezone(tz).date() + timedelta(days=1), tz)
        period = Period(today - timedelta(days=28), today, "28 days")
    else:
        period = period_of(ctx, week, since, until)
    items = noisy_devices(session, ctx.site, period.start, period.end, access.grids, limit)
    return NoisyDeviceList(period=_view(period), items=items)


# ---------------------------------------------------------------- exports (CSV and XLSX)
TASK_COLUMNS = (
    "任务编号 task",
    "案件编号 case",
    "标题 title",
    "类型 hazard",
    "级别 severity",
    "网格 grid",
    "网格名称 grid name",
    "网格员 worker",
    "网格员姓名 worker name",
    "状态 status",
    "派单 offered",
    "签收 accepted",
    "到场 on site",
    "办结 resolved",
    "核查通过 verified",
    "退回 sent back",
    "结果 result",
    "签收用时(秒) accept s",
    "到场用时(秒) arrive s",
    "办结用时(秒) resolve s",
)


def _secs(later: datetime | None, earlier: datetime | None) -> float | None:
    return round((later - earlier).total_seconds(), 1) if later and earlier else None


def _scope(access: Access, areas: SiteAreas, area: str | None) -> frozenset[str] | None:
    """The caller's grids, narrowed to ``area`` (a district, street, community or grid id)."""
    grids = access.grids
    if area is None:
        return grids
    if area not in areas.site.areas:
        raise HTTPException(422, f"area: no area {area!r} in grids.geojson")
    under = areas.scope([area]).grids
    if under is None:
        return grids
    return under if grids is None else grids & under


Fmt = Literal["csv", "xlsx"]
AREA = Query(default=None, max_length=64, description="Only this district, street, community or grid.")
EXPORT = {200: {"content": {"text/csv": {}, XLSX_TYPE: {}}}}


@router.get(
    "/export/tasks.{fmt}",
    summary="The tasks offered in a period as CSV or XLSX (site time; every step and how long it took)",
    response_class=StreamingResponse,
    responses=EXPORT,  # type: ignore[arg-type]
)
def export_tasks(
    session: ReadSessionDep,
    ctx: CtxDep,
    access: Reader,
    areas: AreasDep,
    fmt: Fmt,
    week: str | None = WEEK,
    since: Time | None = SINCE,
    until: Time | None = UNTIL,
    area: str | None = AREA,
    worker_id: Annotated[str | None, Query(max_length=64, description="Only this worker's.")] = None,
    status: TaskStatus | None = None,
) -> Response:
    site = ctx.site
    tz = site.settings.site.tz
    period = period_of(ctx, week, since, until)
    grids = _scope(access, areas, area)

    def rows() -> Iterator[list[object]]:
        found = task_rows(
            session, period.start, period.end, grids, worker_id, status.value if status else None
        )
        for task, title, hazard, severity, grid_id in found:
            grid = site.areas.get(grid_id) if grid_id else None
            worker = site.workers.get(task.worker_id)
            yield [
                task.id,
                task.case_id,
                title,
                hazard,
                severity,
                grid_id,
                grid.name if grid else "",
                task.worker_id,
                worker.name if worker else "",
                task.status,
                local(task.offered_at, tz),
                local(task.accepted_at, tz),
                local(task.on_site_at, tz),
                local(task.resolved_at, tz),
                local(task.verified_at, tz),
                local(task.sent_back_at, tz),
                task.result,
                _secs(task.accepted_at, task.offered_at),
                _secs(task.on_site_at, task.offered_at),
                _secs(task.resolved_at, task.on_site_at) if task.on_site_at else None,
            ]

    return download(f"tasks-{period.label.replace(' ', '')}", fmt, "任务 tasks", TASK_COLUMNS, rows())


ASSESSMENT_HEAD = (
    "类型 kind",
    "编号 id",
    "名称 name",
    "社区 community",
    "得分 score",
    "社区排名 rank",
    "参与排名 ranked",
)
MEASURE_HEAD = {
    Measure.PATROL_COVERAGE: "巡查覆盖率 patrol coverage",
    Measure.ON_TIME_ARRIVAL: "按时到场率 on-time arrival",
    Measure.ON_TIME_RESOLUTION: "按时办结率 on-time resolution",
    Measure.VERIFIED_RESOLUTIONS: "核查通过率 verified",
    Measure.REPORTS_RAISED: "随手拍 reports",
}


@router.get(
    "/export/assessment.{fmt}",
    summary="The monthly assessment as CSV or XLSX: score, rank and every figure behind it",
    response_class=StreamingResponse,
    responses=EXPORT,  # type: ignore[arg-type]
)
def export_assessment(
    session: ReadSessionDep,
    ctx: CtxDep,
    access: Reader,
    areas: AreasDep,
    fmt: Fmt,
    kind: Literal["worker", "grid"] = "worker",
    month: str | None = MONTH,
    area: str | None = AREA,
) -> Response:
    period = month_period(ctx, month)
    scheme = ctx.site.analytics.assessment
    lines = assess(session, SiteMap(ctx.site), scheme, period, kind, _scope(access, areas, area))
    measures = list(scheme.measures.rules())
    headers = list(ASSESSMENT_HEAD)
    for m in measures:
        name = MEASURE_HEAD[m]
        headers += [f"{name} 实际", f"{name} 分子", f"{name} 分母", f"{name} 得分"]

    def rows() -> Iterator[list[object]]:
        for a in lines:
            row: list[object] = [a.kind, a.key, a.name, a.community_name, a.score, a.rank, a.ranked]
            shown = {s.measure: s for s in a.measures}
            for m in measures:
                s = shown[m]
                row += [s.actual, s.numerator, s.denominator, s.points]
            yield row

    return download(f"assessment-{kind}-{period.label}", fmt, f"考核 {period.label}", headers, rows())
