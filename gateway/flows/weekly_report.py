"""The weekly report (周报): made for each edition of ``analytics.yaml`` after the site-local week
ends, on the configured weekday and time, and on demand; kept (the last ``keep`` per area) and
announced to the edition's webhooks and group robots as a link.

Reading top to bottom:

1. which grids the edition covers (its area, or the whole site);
2. the figures (performance) and the devices with most false alarms (cases' feedback);
3. the pages: HTML with inline charts and an A4 PDF, drawn on the server (matplotlib);
   (steps 1-3 read only; nothing is locked while the charts are drawn)
4. kept as a :class:`~gateway.performance.models.Report` — a scheduled one under a unique key
   (weekly:<area>:<week start>), so two gateways racing on the same week make it once;
5. older reports of the area beyond ``keep`` go;
6. each receiver gets a delivery with the link (the webhook sender posts it, with retries).
"""

from __future__ import annotations

import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from time import perf_counter

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from contracts.site.analytics import WEEKDAYS, Edition
from gateway.cases.feedback import noisy_devices
from gateway.context import GatewayContext
from gateway.notify import service as notify
from gateway.people.areas import SiteAreas
from gateway.performance.metrics import REPORT_DRAW_SECONDS, WEEKLY_REPORTS
from gateway.performance.models import Report
from gateway.performance.periods import Period, last_full_week
from gateway.performance.weekly import NoisyLine, WeeklyFigures, render, weekly_figures

log = logging.getLogger(__name__)

WHOLE_SITE = "*"
KIND = "weekly"


@dataclass(frozen=True)
class Made:
    report_id: str
    area: str
    title: str
    link: str | None
    deliveries: int  # receivers told


def grids_of(ctx: GatewayContext, area: str) -> frozenset[str] | None:
    """The grids under ``area`` (None: the whole site)."""
    if area == WHOLE_SITE:
        return None
    if area not in ctx.site.areas:
        raise ValueError(f"no area {area!r} in grids.geojson")
    return SiteAreas(ctx.site).scope([area]).grids


def link_of(ctx: GatewayContext, report: Report) -> str | None:
    """Where a receiver opens the report: the share link while it lasts, else the signed-in one."""
    base = ctx.site.analytics.weekly_report.link_base
    if base is None:
        return None
    if report.share_token:
        return f"{base.rstrip('/')}/api/v1/weekly-reports/shared/{report.share_token}.html"
    return f"{base.rstrip('/')}/api/v1/weekly-reports/{report.id}.html"


@dataclass(frozen=True)
class Drawn:
    area: str
    week: Period
    figures: WeeklyFigures
    html: str
    pdf: bytes


def draw_report(session: Session, ctx: GatewayContext, area: str, week: Period, now: datetime) -> Drawn:
    """The figures and the pages (reads only: drawing takes seconds, no write lock is held)."""
    started = perf_counter()
    site = ctx.site
    grids = grids_of(ctx, area)
    figures = weekly_figures(session, site, area, grids, week)
    figures.noisy = [
        NoisyLine(
            device_id=d.device_id,
            name=d.name,
            grid_name=d.grid_name,
            false_alarms=d.false_alarms,
            cases=d.cases,
        )
        for d in noisy_devices(session, site, week.start, week.end, grids, limit=5)
    ]
    page, pdf = render(figures, site.settings.site.tz, now)
    REPORT_DRAW_SECONDS.observe(perf_counter() - started)
    return Drawn(area, week, figures, page, pdf)


def keep_report(
    session: Session,
    ctx: GatewayContext,
    drawn: Drawn,
    created_by: str,
    now: datetime,
    *,
    scheduled: bool = False,
    send_to: Edition | None = None,
) -> Made:
    """Keep a drawn report, prune the area's old ones, tell the receivers (caller's transaction)."""
    settings = ctx.site.analytics.weekly_report
    area, week, figures = drawn.area, drawn.week, drawn.figures
    report = Report(
        id=str(uuid.uuid4()),
        kind=KIND,
        key=key_of(area, week) if scheduled else None,
        area=area,
        title=figures.title,
        period_start=week.start,
        period_end=week.end,
        created_at=now,
        created_by=created_by,
        figures=figures.model_dump(mode="json"),
        html=drawn.html,
        pdf=drawn.pdf,
        share_token=secrets.token_urlsafe(24) if settings.share_days else None,
        share_until=now + timedelta(days=settings.share_days) if settings.share_days else None,
    )
    session.add(report)
    session.flush()
    _prune(session, area, settings.keep)
    link = link_of(ctx, report)
    sent = 0
    if send_to is not None and send_to.send_to and link is not None:
        head = figures.headline()
        text = f"案件 {head['cases']}（上周 {head['previous']}） · 误报 {head['dismissed']}"
        sent = len(notify.queue_report_link(session, send_to.send_to, figures.title, text, link, now))
    log.info(
        "weekly report %s made for %s (%s) by %s; %d receivers told",
        report.id,
        area,
        week.label,
        created_by,
        sent,
        extra={"report_id": report.id, "area": area},
    )
    return Made(report.id, area, report.title, link, sent)


def key_of(area: str, week: Period) -> str:
    return f"{KIND}:{area}:{week.start.isoformat()}"


def _prune(session: Session, area: str, keep: int) -> None:
    kept = (
        select(Report.id).where(Report.area == area).order_by(Report.created_at.desc(), Report.id).limit(keep)
    )
    session.execute(
        delete(Report).where(Report.area == area, Report.id.not_in(kept.scalar_subquery())),
        execution_options={"synchronize_session": False},
    )


def due_at(ctx: GatewayContext, week: Period) -> datetime:
    """When the report of ``week`` is due: the configured weekday and time after the week ends."""
    settings = ctx.site.analytics.weekly_report
    tz = ctx.site.settings.site.tz
    monday: date = week.end.astimezone(tz).date()
    day = monday + timedelta(days=WEEKDAYS.index(settings.weekday))
    hour, minute = (int(x) for x in settings.at.split(":"))
    return datetime.combine(day, time(hour, minute), tzinfo=tz)


def make_due(sessions: sessionmaker[Session], ctx: GatewayContext) -> list[Made]:
    """Each edition's report of the last full week, once it is due and not yet made."""
    now = ctx.now()
    week = last_full_week(now, ctx.site.settings.site.tz)
    if now < due_at(ctx, week):
        return []
    made = []
    for edition in ctx.site.analytics.weekly_report.editions:
        key = key_of(edition.area, week)
        try:
            with sessions() as session:
                if session.scalar(select(Report.id).where(Report.key == key)) is not None:
                    continue
                drawn = draw_report(session, ctx, edition.area, week, now)
            with sessions() as session, session.begin():
                made.append(
                    keep_report(session, ctx, drawn, "schedule", now, scheduled=True, send_to=edition)
                )
            WEEKLY_REPORTS.labels("schedule").inc()  # counted once committed
        except IntegrityError:  # another gateway made it first
            log.info("weekly report %s was made by another gateway", key)
        except Exception:  # one area's failure must not hold back the others' reports
            log.exception("weekly report %s failed; the other areas' are made, it is tried again", key)
    return made
