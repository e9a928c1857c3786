"""What the command centre's console shows at a glance: the board's counters (open, critical, about
to breach, breached, awaiting a department), and the shift handover (交班): what is open at the
end of a shift and what happened during it. Both within the caller's reach."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.orm import Session

from cloud_api.auth import Access, Perm, allow
from cloud_api.auth.guard import GuardedRoute
from cloud_api.auth.places import case_filter
from cloud_api.deps import CtxDep, ReadSessionDep
from cloud_api.params import Time, site_time
from cloud_api.routes.cases import CaseRow, with_deadlines
from contracts.hazards import Severity
from gateway.cases import queries
from gateway.cases.lifecycle import OPEN_STATUSES, CaseStatus
from gateway.cases.models import Case, CaseTransition
from gateway.cases.queries import CaseFilter
from gateway.sla import queries as sla
from gateway.sla.models import SlaTimer

router = APIRouter(prefix="/api/v1/console", tags=["console"], route_class=GuardedRoute)
CaseReader = Annotated[Access, Depends(allow(Perm.READ_CASES))]
_OPEN = sorted(s.value for s in OPEN_STATUSES)


class Board(BaseModel):
    at: datetime
    open: int  # cases that still need someone
    new: int  # not yet taken up (待受理)
    critical: int  # open and critical
    sla_warning: int  # open cases past the warning of a deadline, not yet due (即将超时)
    sla_breached: int  # open cases past a deadline still running (已超时)
    awaiting_acknowledgement: int  # departments told of a case that have not acknowledged (待报到)


def _reach(access: Access, ctx: CtxDep) -> ColumnElement[bool]:
    where = case_filter(access, ctx.site)
    return where if where is not None else true()


def _open_ids(within: ColumnElement[bool]):  # type: ignore[no-untyped-def]
    return select(Case.id).where(Case.status.in_(_OPEN), within)


def _count(session: Session, *conds: ColumnElement[bool]) -> int:
    return int(session.scalar(select(func.count()).select_from(Case).where(*conds)) or 0)


@router.get("/board", response_model=Board, summary="The console's counters, in the caller's reach")
def board(session: ReadSessionDep, ctx: CtxDep, access: CaseReader) -> Board:
    now = ctx.now()
    within = _reach(access, ctx)
    is_open = Case.status.in_(_OPEN)
    of_open = SlaTimer.case_id.in_(_open_ids(within))
    return Board(
        at=now,
        open=_count(session, is_open, within),
        new=_count(session, Case.status == CaseStatus.NEW.value, within),
        critical=_count(session, is_open, Case.severity == Severity.CRITICAL.value, within),
        sla_warning=sla.cases_with(session, sla.warned(now), of_open),
        sla_breached=sla.cases_with(session, sla.overdue(now), of_open),
        awaiting_acknowledgement=len(sla.awaiting_acknowledgement(session, of_open)),
    )


class Breach(BaseModel):
    case_id: str
    title: str
    at: datetime
    what: str


class Awaiting(BaseModel):
    case_id: str
    title: str
    department: str
    told_at: datetime
    due_at: datetime


class Handover(BaseModel):
    """A shift's handover (交班): what is open now and what happened since the shift began."""

    since: datetime
    until: datetime
    open: list[CaseRow]  # most severe first, then oldest
    open_count: int
    opened: int  # during the shift
    closed: int
    dismissed: int
    merged: int
    escalated: int
    breaches: list[Breach]
    awaiting_acknowledgement: list[Awaiting]


HANDOVER_MAX_OPEN = 500


@router.get(
    "/handover",
    response_model=Handover,
    summary="The shift handover (交班): open cases, and what the shift opened, ended, escalated, breached",
)
def handover(
    session: ReadSessionDep,
    ctx: CtxDep,
    access: CaseReader,
    since: Annotated[
        Time | None, Query(description="Start of the shift (RFC 3339; no offset: site time).")
    ] = None,
    hours: Annotated[float, Query(gt=0, le=72, description="Or: the shift's length up to now.")] = 12,
) -> Handover:
    now = ctx.now()
    start = site_time(since, ctx.site.settings.site.tz, "since") or now - timedelta(hours=hours)
    within = _reach(access, ctx)
    open_cases, open_count = queries.list_cases(
        session, CaseFilter(open_only=True), within, "-severity", HANDOVER_MAX_OPEN, 0
    )
    moved = dict(
        session.execute(
            select(CaseTransition.to_status, func.count(func.distinct(CaseTransition.case_id)))
            .join(Case, Case.id == CaseTransition.case_id)
            .where(CaseTransition.at >= start, CaseTransition.change == "status", within)
            .group_by(CaseTransition.to_status)
        ).all()
    )
    breaches = session.execute(
        select(CaseTransition.case_id, Case.title, CaseTransition.at, CaseTransition.reason)
        .join(Case, Case.id == CaseTransition.case_id)
        .where(CaseTransition.at >= start, CaseTransition.change == "sla_breach", within)
        .order_by(CaseTransition.at)
        .limit(500)
    ).all()
    titles = dict(session.execute(select(Case.id, Case.title).where(Case.id.in_(_open_ids(within)))).all())
    waiting = sla.awaiting_acknowledgement(session, SlaTimer.case_id.in_(_open_ids(within)))
    departments = ctx.site.escalation.departments
    return Handover(
        since=start,
        until=now,
        open=with_deadlines(session, open_cases),
        open_count=open_count,
        opened=_count(session, Case.opened_at >= start, within),
        closed=int(moved.get(CaseStatus.CLOSED.value, 0)),
        dismissed=int(moved.get(CaseStatus.DISMISSED.value, 0)),
        merged=int(moved.get(CaseStatus.MERGED.value, 0)),
        escalated=int(moved.get(CaseStatus.ESCALATED.value, 0)),
        breaches=[Breach(case_id=c, title=t, at=a, what=r) for c, t, a, r in breaches],
        awaiting_acknowledgement=[
            Awaiting(
                case_id=t.case_id,
                title=titles.get(t.case_id, ""),
                department=departments[t.detail].name if t.detail in departments else t.detail,
                told_at=t.started_at,
                due_at=t.due_at,
            )
            for t in waiting
        ],
    )
