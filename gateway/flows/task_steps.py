"""The steps of a task, whoever takes them (a worker's message, a location fix, the centre,
a timer): task fields, case transition, SLA timers and the patrol plan move together."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from contracts import HazardType
from gateway.cases.lifecycle import TRANSITIONS, CaseStatus
from gateway.cases.models import Case
from gateway.cases.service import transition
from gateway.context import GatewayContext
from gateway.dispatch import metrics
from gateway.dispatch.models import Task, TaskStatus
from gateway.patrol import plans
from gateway.sla import service as timers
from gateway.sla.models import Outcome, Phase


def _actor_kind(actor: str) -> str:
    return actor.split(":", 1)[0] if ":" in actor else "gateway"


def _move(
    session: Session,
    case: Case,
    target: CaseStatus,
    actor: str,
    reason: str,
    now: datetime,
    event_id: str | None,
) -> None:
    if target in TRANSITIONS[CaseStatus(case.status)]:
        transition(session, case, target, actor, reason, now, event_id=event_id)


def accept(
    session: Session,
    ctx: GatewayContext,
    task: Task,
    case: Case,
    actor: str,
    reason: str,
    now: datetime,
    event_id: str | None = None,
) -> None:
    task.status = TaskStatus.ACCEPTED.value
    task.accepted_at = now
    task.updated_at = now
    _move(session, case, CaseStatus.ACCEPTED, actor, reason, now, event_id)
    timers.stop(session, case.id, [Phase.WORKER_ACCEPT], now, Outcome.MET, task.id)
    timers.stop(session, case.id, [Phase.CENTRE_ACCEPT], now, Outcome.MET)
    metrics.TASK_STEPS.labels("accept", _actor_kind(actor)).inc()


def check_in(
    session: Session,
    ctx: GatewayContext,
    task: Task,
    case: Case,
    actor: str,
    reason: str,
    now: datetime,
    event_id: str | None = None,
) -> None:
    """On site. An offer not yet accepted is accepted by arriving (the worker is there)."""
    if task.status == TaskStatus.OFFERED.value:
        accept(session, ctx, task, case, actor, f"accepted by arriving on site: {reason}", now, event_id)
    task.status = TaskStatus.ON_SITE.value
    task.on_site_at = now
    task.updated_at = now
    _move(session, case, CaseStatus.ON_SITE, actor, reason, now, event_id)
    timers.stop(session, case.id, [Phase.ON_SITE], now, Outcome.MET, task.id)
    policy = ctx.site.escalation.policy(HazardType(case.hazard_type))
    timers.start(
        session,
        case.id,
        Phase.RESOLVE,
        now,
        policy.sla.resolve,
        ctx.site.escalation.warning_ratio,
        task_id=task.id,
        worker_id=task.worker_id,
    )
    plans.end_task_stop(session, task.id, now, visited=True)
    metrics.TASK_STEPS.labels("check_in", _actor_kind(actor)).inc()


def resolve(
    session: Session,
    ctx: GatewayContext,
    task: Task,
    case: Case,
    actor: str,
    result: str,
    reason: str,
    now: datetime,
    event_id: str | None = None,
) -> None:
    task.status = TaskStatus.RESOLVED.value
    task.result = result
    task.resolved_at = now
    task.updated_at = now
    _move(session, case, CaseStatus.RESOLVED, actor, reason, now, event_id)
    timers.stop(session, case.id, [Phase.RESOLVE], now, Outcome.MET, task.id)
    timers.stop(session, case.id, [Phase.CLIMB], now, Outcome.MET)
    policy = ctx.site.escalation.policy(HazardType(case.hazard_type))
    timers.start(
        session,
        case.id,
        Phase.VERIFY,
        now,
        policy.sla.verify,
        ctx.site.escalation.warning_ratio,
        task_id=task.id,
        worker_id=task.worker_id,
    )
    metrics.TASK_STEPS.labels("resolve", _actor_kind(actor)).inc()


def end_offer(
    session: Session, task: Task, case: Case, status: TaskStatus, actor: str, note: str, now: datetime
) -> None:
    """Declined, expired or cancelled: the task stops being active and its timers with it."""
    task.status = status.value
    task.ended_at = now
    task.updated_at = now
    if note:
        task.note = note
    if case.assigned_worker_id == task.worker_id:
        case.assigned_worker_id = None
    timers.stop(
        session, case.id, [Phase.WORKER_ACCEPT, Phase.ON_SITE, Phase.RESOLVE], now, Outcome.CANCELLED, task.id
    )
    plans.end_task_stop(session, task.id, now, visited=False)
    metrics.TASK_STEPS.labels(status.value, _actor_kind(actor)).inc()
