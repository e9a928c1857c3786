"""The weekly reports kept (周报): the list, one on demand, each as HTML or PDF, and the share
link a group chat opens without signing in (until ``share_until``).

A report covers an area's grids; a person sees the reports of areas wholly inside their own
(an operator of one community sees that community's reports, not the street's).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from cloud_api.auth import Access, Perm, Refusal, allow, public
from cloud_api.auth.guard import GuardedRoute
from cloud_api.deps import CtxDep, ReadSessionDep, SessionDep
from cloud_api.downloads import content_disposition
from contracts.envelope import Identifier
from gateway.context import GatewayContext
from gateway.flows import weekly_report
from gateway.performance.metrics import WEEKLY_REPORTS
from gateway.performance.models import Report
from gateway.performance.periods import last_full_week, parse_week

router = APIRouter(prefix="/api/v1/weekly-reports", tags=["analytics"], route_class=GuardedRoute)
Reader = Annotated[Access, Depends(allow(Perm.READ_PERFORMANCE))]
# The pages are made by the product; nothing in them is fetched from elsewhere.
PAGE_HEADERS = {"Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'"}


class ReportItem(BaseModel):
    id: str
    area: str
    title: str
    since: datetime
    until: datetime
    created_at: datetime
    created_by: str
    figures: dict[str, object]  # the headline: cases, previous, dismissed, on-time rate ...
    html: str  # where to open it
    pdf: str
    share_link: str | None  # what the receivers were sent (None: no link_base, or sharing off)


class ReportList(BaseModel):
    items: list[ReportItem]


class ReportRequest(BaseModel):
    model_config = {"extra": "forbid"}

    area: Identifier | Literal["*"] = Field(description="The area it covers ('*': the whole site).")
    week: str | None = Field(
        default=None, max_length=10, description="YYYY-Www; default: the last full week."
    )


def _item(ctx: GatewayContext, r: Report) -> ReportItem:
    from gateway.performance.weekly import WeeklyFigures

    headline = WeeklyFigures.model_validate(r.figures).headline()
    return ReportItem(
        id=r.id,
        area=r.area,
        title=r.title,
        since=r.period_start,
        until=r.period_end,
        created_at=r.created_at,
        created_by=r.created_by,
        figures=headline,
        html=f"/api/v1/weekly-reports/{r.id}.html",
        pdf=f"/api/v1/weekly-reports/{r.id}.pdf",
        share_link=weekly_report.link_of(ctx, r),
    )


def _place(ctx: GatewayContext, area: str) -> frozenset[str] | None:
    try:
        return weekly_report.grids_of(ctx, area)
    except ValueError as exc:
        raise HTTPException(422, f"area: {exc}") from None


def _may_see(access: Access, ctx: GatewayContext, area: str) -> bool:
    """The report's grids all lie in the caller's (a street report is not a community's)."""
    if access.everywhere:
        return True
    mine = access.grids or frozenset()
    grids = _place(ctx, area)
    return grids is not None and bool(grids) and grids <= mine


def _served(r: Report, fmt: str) -> Response:
    if fmt == "html":
        return HTMLResponse(r.html, headers=PAGE_HEADERS)
    name = f"weekly-{r.area}-{r.period_start:%Y%m%d}.pdf".replace("*", "site")
    return Response(
        r.pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": content_disposition(name, inline=True)},
    )


@router.get("", response_model=ReportList, summary="The weekly reports kept, newest first")
def list_reports(session: ReadSessionDep, ctx: CtxDep, access: Reader) -> ReportList:
    rows = session.scalars(select(Report).order_by(Report.created_at.desc(), Report.id).limit(500))
    return ReportList(items=[_item(ctx, r) for r in rows if _may_see(access, ctx, r.area)])


@router.post("", response_model=ReportItem, status_code=201, summary="Make a weekly report now (on demand)")
def make(
    body: ReportRequest, reading: ReadSessionDep, session: SessionDep, ctx: CtxDep, access: Reader
) -> ReportItem:
    if not _may_see(access, ctx, body.area):
        raise Refusal(403, f"area {body.area} reaches beyond the areas of {access.caller}")
    tz = ctx.site.settings.site.tz
    now = ctx.now()
    try:
        week = parse_week(body.week, tz) if body.week else last_full_week(now, tz)
    except ValueError as exc:
        raise HTTPException(422, f"week: {exc}") from None
    drawn = weekly_report.draw_report(reading, ctx, body.area, week, now)
    reading.rollback()  # nothing held while the report is written
    with session.begin():
        made = weekly_report.keep_report(session, ctx, drawn, access.caller.actor, now)
    WEEKLY_REPORTS.labels("on_demand").inc()
    report = session.get(Report, made.report_id)
    assert report is not None
    return _item(ctx, report)


@router.get(
    "/shared/{token}.{fmt}",
    summary="A report from the link sent to a group chat (no sign-in, until the link expires)",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}, "application/pdf": {}}}},
    dependencies=[Depends(public)],
)
def shared(
    token: str,
    fmt: Literal["html", "pdf"],
    session: ReadSessionDep,
    ctx: CtxDep,
) -> Response:
    r = session.scalar(select(Report).where(Report.share_token == token[:64]))
    if r is None or r.share_until is None or r.share_until <= ctx.now():
        raise HTTPException(404, "no such report, or its link has expired: sign in to open it")
    return _served(r, fmt)


@router.get(
    "/{report_id}.{fmt}",
    summary="One weekly report as HTML (charts inline) or PDF",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}, "application/pdf": {}}}},
)
def one(
    report_id: str, fmt: Literal["html", "pdf"], session: ReadSessionDep, ctx: CtxDep, access: Reader
) -> Response:
    r = session.get(Report, report_id[:36])
    if r is None:
        raise HTTPException(404, f"no report {report_id!r}")
    if not _may_see(access, ctx, r.area):
        raise Refusal(403, f"report {report_id} covers more than the areas of {access.caller}")
    return _served(r, fmt)
