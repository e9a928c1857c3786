"""Read-side queries over SLA timers: what each case is waiting for next, and how close it is."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from gateway.sla.models import Phase, SlaTimer
from gateway.sla.schemas import DeadlineView

_CHUNK = 500


def deadlines(session: Session, case_ids: Collection[str]) -> dict[str, DeadlineView]:
    """case id -> its most pressing running deadline (the earliest due); cases without one are left out."""
    out: dict[str, DeadlineView] = {}
    ids = sorted(set(case_ids))
    for start in range(0, len(ids), _CHUNK):
        rows = session.scalars(
            select(SlaTimer)
            .where(SlaTimer.case_id.in_(ids[start : start + _CHUNK]), SlaTimer.stopped_at.is_(None))
            .order_by(SlaTimer.due_at, SlaTimer.id)
        )
        for timer in rows:
            out.setdefault(timer.case_id, DeadlineView.model_validate(timer))
    return out


def running() -> ColumnElement[bool]:
    return SlaTimer.stopped_at.is_(None)


def warned(now: datetime) -> ColumnElement[bool]:
    """Running timers past their warning, not yet due."""
    return and_(running(), SlaTimer.warn_at <= now, SlaTimer.due_at > now)


def overdue(now: datetime) -> ColumnElement[bool]:
    return and_(running(), SlaTimer.due_at <= now)


def cases_with(session: Session, condition: ColumnElement[bool], within: ColumnElement[bool]) -> int:
    """How many cases (meeting ``within``, a condition on the case id) have a timer meeting ``condition``."""
    query = select(func.count(func.distinct(SlaTimer.case_id))).where(condition, within)
    return int(session.scalar(query) or 0)


def awaiting_acknowledgement(session: Session, within: ColumnElement[bool]) -> list[SlaTimer]:
    """Departments told of a case that have not acknowledged it yet (部门报到), oldest first."""
    return list(
        session.scalars(
            select(SlaTimer)
            .where(SlaTimer.phase == Phase.ACKNOWLEDGE.value, running(), within)
            .order_by(SlaTimer.started_at)
        )
    )
