"""Start and stop SLA timers inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.sla.models import Outcome, Phase, SlaTimer


def timer_key(case_id: str, phase: Phase, scope: str | None) -> str:
    return f"{case_id}:{phase.value}:{scope or '-'}"


def start(
    session: Session,
    case_id: str,
    phase: Phase,
    started_at: datetime,
    limit_s: float | None,
    warning_ratio: float | None,
    *,
    task_id: str | None = None,
    worker_id: str | None = None,
    detail: str = "",
    scope: str | None = None,
    new: bool = False,
) -> SlaTimer | None:
    """A timer for ``phase`` (None when the policy sets no limit). Starting the same one twice
    returns the first: each (case, phase, task) is timed once. ``new``: the case was opened in
    this transaction and this timer is started once by its caller, so the store has none to find
    (no query, which would flush the batch's pending rows one by one)."""
    if limit_s is None:
        return None
    key = timer_key(case_id, phase, scope or task_id)
    if not new:
        existing = session.scalars(select(SlaTimer).where(SlaTimer.key == key)).first()
        if existing is not None:
            return existing
    due = started_at + timedelta(seconds=limit_s)
    warn = started_at + timedelta(seconds=limit_s * warning_ratio) if warning_ratio else None
    timer = SlaTimer(
        key=key,
        case_id=case_id,
        task_id=task_id,
        worker_id=worker_id,
        phase=phase.value,
        detail=detail,
        limit_s=limit_s,
        started_at=started_at,
        warn_at=warn,
        due_at=due,
        next_at=warn or due,
        note="",
    )
    session.add(timer)
    return timer


def close(timer: SlaTimer, now: datetime, outcome: Outcome, note: str = "") -> None:
    """Stop a timer; a breached one stays 'breached' whatever happens later."""
    if timer.stopped_at is not None:
        return
    timer.stopped_at = now
    timer.next_at = None
    if timer.outcome != Outcome.BREACHED.value:
        timer.outcome = outcome.value
    if note:
        timer.note = note


def stop(
    session: Session,
    case_id: str,
    phases: Iterable[Phase],
    now: datetime,
    outcome: Outcome,
    task_id: str | None = None,
) -> list[SlaTimer]:
    """Stop the running timers of these phases for a case (and task, when given)."""
    query = select(SlaTimer).where(
        SlaTimer.case_id == case_id,
        SlaTimer.phase.in_([p.value for p in phases]),
        SlaTimer.stopped_at.is_(None),
    )
    if task_id is not None:
        query = query.where(SlaTimer.task_id == task_id)
    timers = list(session.scalars(query))
    for timer in timers:
        close(timer, now, outcome)
    return timers


def timers_for_case(session: Session, case_id: str) -> list[SlaTimer]:
    return list(session.scalars(select(SlaTimer).where(SlaTimer.case_id == case_id).order_by(SlaTimer.id)))


def running(session: Session, case_id: str, phase: Phase) -> list[SlaTimer]:
    """The timers of a phase of a case that have not stopped."""
    return list(
        session.scalars(
            select(SlaTimer).where(
                SlaTimer.case_id == case_id, SlaTimer.phase == phase.value, SlaTimer.stopped_at.is_(None)
            )
        )
    )
