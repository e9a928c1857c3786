"""Fire due SLA timers: warnings at 80 %, breaches at 100 %, each exactly once.

Each timer is handled in its own transaction that first locks the row
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's write lock is taken at
BEGIN), re-reads it and marks what it fires in the same commit as what it does
about it (notices, re-dispatch, escalation). A crash before the commit fires it
again after the restart; a commit cannot fire it twice, nor can two gateways.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.cases.audit import note
from gateway.cases.lifecycle import FINISHED_STATUSES, CaseStatus
from gateway.cases.models import Case, CaseTransition
from gateway.context import GatewayContext
from gateway.dispatch.models import Task, TaskStatus
from gateway.escalation.models import CLEARED_BY_ACCEPT, CLEARED_BY_ARRIVAL, CLEARED_BY_RESOLUTION
from gateway.flows import task_steps
from gateway.flows.dispatch import redispatch
from gateway.flows.escalate import escalate, escalate_above
from gateway.notify import service as notify
from gateway.sla import metrics
from gateway.sla import service as timers
from gateway.sla.models import Outcome, Phase, SlaTimer

log = logging.getLogger(__name__)

_DONE_CASE = {s.value for s in FINISHED_STATUSES}
_TAKEN = {
    TaskStatus.ACCEPTED.value,
    TaskStatus.ON_SITE.value,
    TaskStatus.RESOLVED.value,
    TaskStatus.VERIFIED.value,
}
_ARRIVED = {TaskStatus.ON_SITE.value, TaskStatus.RESOLVED.value, TaskStatus.VERIFIED.value}
_FINISHED = {TaskStatus.RESOLVED.value, TaskStatus.VERIFIED.value}
PHASE_TEXT = {
    Phase.CENTRE_ACCEPT: "someone to take the case",
    Phase.WORKER_ACCEPT: "the worker to accept",
    Phase.ON_SITE: "the worker to be on site",
    Phase.RESOLVE: "the worker to resolve it",
    Phase.VERIFY: "the centre to verify the result",
    Phase.ACKNOWLEDGE: "the department to acknowledge (报到)",
}
# What a breach leads to, besides being recorded: escalation cleared when the case gets ...
_ESCALATE_ON_BREACH = {
    Phase.CENTRE_ACCEPT: CLEARED_BY_ACCEPT,
    Phase.ON_SITE: CLEARED_BY_ARRIVAL,
    Phase.RESOLVE: CLEARED_BY_RESOLUTION,
}


class SlaTicker:
    def __init__(self, sessions: sessionmaker[Session], ctx: GatewayContext, batch: int = 200) -> None:
        self.sessions = sessions
        self.ctx = ctx
        self.batch = batch

    def tick(self) -> int:
        """Handle every timer due now; returns how many warnings and breaches fired."""
        now = self.ctx.now()
        with self.sessions() as session:
            due = list(
                session.scalars(
                    select(SlaTimer.id)
                    .where(SlaTimer.next_at <= now)
                    .order_by(SlaTimer.next_at, SlaTimer.id)
                    .limit(self.batch)
                )
            )
        metrics.SLA_TIMERS_DUE.set(len(due))
        fired = 0
        for timer_id in due:
            try:
                with self.sessions.begin() as session:
                    fired += fire(session, self.ctx, timer_id, now)
            except Exception:
                # One bad timer must not stop the others; it stays due and is tried next tick.
                log.exception("SLA timer %s could not be handled; will retry", timer_id)
        return fired


def fire(session: Session, ctx: GatewayContext, timer_id: int, now: datetime) -> int:
    timer = session.scalars(
        select(SlaTimer).where(SlaTimer.id == timer_id).with_for_update(skip_locked=True)
    ).first()
    if timer is None or timer.next_at is None or timer.next_at > now:
        return 0  # fired by someone else already, or locked by them right now
    case = session.get(Case, timer.case_id)
    task = session.get(Task, timer.task_id) if timer.task_id else None
    state = _pending(session, timer, case, task)
    if state is not None:
        timers.close(timer, now, state)
        return 0
    assert case is not None
    phase = Phase(timer.phase)
    fired = 0
    if timer.warn_at is not None and timer.warned_at is None and timer.warn_at <= now:
        timer.warned_at = now
        if now < timer.due_at:  # after a long outage, only the breach is worth telling
            _warn(session, ctx, timer, phase, case, now)
            fired += 1
    if timer.breached_at is None and timer.due_at <= now:
        timer.breached_at = now
        timer.outcome = Outcome.BREACHED.value
        _breach(session, ctx, timer, phase, case, task, now)
        fired += 1
    timer.next_at = None if timer.breached_at is not None else timer.due_at
    if phase in (Phase.CLIMB, Phase.ACKNOWLEDGE) and timer.breached_at is not None:
        timers.close(timer, now, Outcome.BREACHED)
    return fired


def _pending(session: Session, timer: SlaTimer, case: Case | None, task: Task | None) -> Outcome | None:
    """None while the phase is still waiting; otherwise how it ended."""
    if case is None or case.status in _DONE_CASE:
        return Outcome.CANCELLED
    phase = Phase(timer.phase)
    if phase is Phase.CENTRE_ACCEPT:
        taken = session.scalar(
            select(Task.id).where(Task.case_id == case.id, Task.status.in_(_TAKEN)).limit(1)
        )
        return Outcome.MET if taken or case.status == CaseStatus.RESOLVED.value else None
    if phase is Phase.ACKNOWLEDGE:
        said = session.scalar(
            select(CaseTransition.id)
            .where(
                CaseTransition.case_id == case.id,
                CaseTransition.change == "acknowledged",
                CaseTransition.actor.startswith(f"department:{timer.detail}/"),
            )
            .limit(1)
        )
        return Outcome.MET if said else None
    if phase is Phase.CLIMB:
        cleared = {
            CLEARED_BY_ACCEPT: _TAKEN,
            CLEARED_BY_ARRIVAL: _ARRIVED,
            CLEARED_BY_RESOLUTION: _FINISHED,
        }.get(timer.detail, _FINISHED)
        done = session.scalar(
            select(Task.id).where(Task.case_id == case.id, Task.status.in_(cleared)).limit(1)
        )
        return Outcome.MET if done or case.status == CaseStatus.RESOLVED.value else None
    if task is None:
        return Outcome.CANCELLED
    waiting = {
        Phase.WORKER_ACCEPT: ({TaskStatus.OFFERED.value}, _TAKEN),
        Phase.ON_SITE: ({TaskStatus.OFFERED.value, TaskStatus.ACCEPTED.value}, _ARRIVED),
        Phase.RESOLVE: ({TaskStatus.ON_SITE.value}, _FINISHED),
        Phase.VERIFY: ({TaskStatus.RESOLVED.value}, {TaskStatus.VERIFIED.value}),
    }[phase]
    if task.status in waiting[0]:
        return None
    return Outcome.MET if task.status in waiting[1] else Outcome.CANCELLED


def _who(timer: SlaTimer) -> str:
    if timer.phase == Phase.ACKNOWLEDGE.value:
        return f" ({timer.detail})"
    return f" ({timer.worker_id}, task {timer.task_id})" if timer.worker_id else ""


def _warn(
    session: Session, ctx: GatewayContext, timer: SlaTimer, phase: Phase, case: Case, now: datetime
) -> None:
    left = (timer.due_at - now).total_seconds()
    text = (
        f"SLA warning: {left:.0f} s left for {PHASE_TEXT.get(phase, phase.value)}{_who(timer)}; "
        f"limit {timer.limit_s:.0f} s, due {timer.due_at:%H:%M:%S} UTC"
    )
    note(session, case, "sla_warning", ctx.gateway_id, text, now)
    notify.tell_centre(session, ctx, case, "sla_warning", text, now, record=True)
    metrics.SLA_EVENTS.labels(phase.value, "warning").inc()
    log.warning("case %s: %s", case.id, text, extra={"case_id": case.id, "worker_id": timer.worker_id})


def _breach(
    session: Session,
    ctx: GatewayContext,
    timer: SlaTimer,
    phase: Phase,
    case: Case,
    task: Task | None,
    now: datetime,
) -> None:
    if phase is Phase.CLIMB:
        escalate(
            session,
            ctx,
            case,
            f"climb:{timer.key.rsplit(':', 1)[-1]}",
            f"no progress {timer.limit_s:.0f} s after escalating to {timer.key.rsplit(':', 1)[-1]}",
            now,
            timer.detail,
        )
        return
    text = (
        f"SLA breach: {timer.limit_s:.0f} s passed waiting for {PHASE_TEXT.get(phase, phase.value)}"
        f"{_who(timer)}"
    )
    metrics.SLA_EVENTS.labels(phase.value, "breach").inc()
    log.warning("case %s: %s", case.id, text, extra={"case_id": case.id, "worker_id": timer.worker_id})
    note(session, case, "sla_breach", ctx.gateway_id, text, now)
    notify.tell_centre(session, ctx, case, "sla_breach", text, now, record=True)
    if phase is Phase.ACKNOWLEDGE:
        escalate_above(session, ctx, case, timer.detail, timer.limit_s, now)
        return
    if phase is Phase.WORKER_ACCEPT and task is not None:
        # No answer in time: the offer expires and goes to the next candidate.
        task_steps.end_offer(
            session, task, case, TaskStatus.EXPIRED, ctx.gateway_id, "no answer before the deadline", now
        )
        redispatch(session, ctx, case, now, f"no answer from {task.worker_id} in {timer.limit_s:.0f} s")
        return
    cleared_by = _ESCALATE_ON_BREACH.get(phase)
    if cleared_by is not None:
        escalate(session, ctx, case, f"sla_breach:{phase.value}", text, now, cleared_by)
