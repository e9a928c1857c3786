"""What the command centre does to a task: verify the result, reassign, cancel."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from gateway.cases.lifecycle import OPEN_STATUSES, CaseStatus
from gateway.cases.models import Case
from gateway.cases.service import transition
from gateway.context import GatewayContext
from gateway.dispatch import metrics
from gateway.dispatch.choice import Decision
from gateway.dispatch.models import ACTIVE_TASK_STATUSES, Task, TaskStatus
from gateway.flows import task_steps
from gateway.flows.dispatch import dispatch_case, redispatch
from gateway.flows.task_updates import TaskUpdateRefused
from gateway.people import queries as people_queries
from gateway.sla import service as timers
from gateway.sla.models import Outcome, Phase

log = logging.getLogger(__name__)


def _task_and_case(session: Session, task_id: str) -> tuple[Task, Case]:
    task = session.get(Task, task_id)
    if task is None:
        raise TaskUpdateRefused(f"unknown task {task_id!r}")
    case = session.get(Case, task.case_id)
    assert case is not None
    return task, case


def verify(
    session: Session,
    ctx: GatewayContext,
    task_id: str,
    operator: str,
    approved: bool,
    note: str,
    now: datetime,
) -> Task:
    """Accept the worker's result (case closed) or send it back (case reopened and offered again)."""
    task, case = _task_and_case(session, task_id)
    if task.status != TaskStatus.RESOLVED.value:
        raise TaskUpdateRefused(f"task {task.id} is {task.status}; only a resolved task can be verified")
    actor = f"operator:{operator}"
    timers.stop(session, case.id, [Phase.VERIFY], now, Outcome.MET, task.id)
    if approved:
        task.status = TaskStatus.VERIFIED.value
        task.verified_at = now
        task.updated_at = now
        if case.status == CaseStatus.RESOLVED.value:
            transition(session, case, CaseStatus.CLOSED, actor, f"verified: {note or task.result}", now)
        metrics.TASK_STEPS.labels("verify", "operator").inc()
        return task
    if case.status != CaseStatus.RESOLVED.value:
        raise TaskUpdateRefused(f"case {case.id} is {case.status}; only a resolved case can be sent back")
    task.note = f"{task.note}\nsent back by {operator}: {note}".strip()
    task.sent_back_at = now  # 返工: counts against the worker's verified resolutions
    task.updated_at = now
    transition(
        session, case, CaseStatus.REOPENED, actor, f"result sent back: {note or 'no reason given'}", now
    )
    metrics.TASK_STEPS.labels("send_back", "operator").inc()
    dispatch_case(session, ctx, case, now, context="reopened by the centre; ", actor=actor)
    return task


def reassign(
    session: Session,
    ctx: GatewayContext,
    task_id: str,
    operator: str,
    now: datetime,
    worker_id: str | None = None,
    note: str = "",
) -> Decision:
    """Take an active task off its worker and offer it to ``worker_id`` (or the next candidate)."""
    task, case = _task_and_case(session, task_id)
    if TaskStatus(task.status) not in ACTIVE_TASK_STATUSES:
        raise TaskUpdateRefused(f"task {task.id} is {task.status}; only an active task can be reassigned")
    if CaseStatus(case.status) not in OPEN_STATUSES:
        raise TaskUpdateRefused(f"case {case.id} is {case.status}")
    if worker_id is not None and worker_id not in ctx.site.workers:
        raise TaskUpdateRefused(f"no worker {worker_id!r} in site {ctx.site.settings.site.id!r}")
    if worker_id == task.worker_id:
        raise TaskUpdateRefused(f"task {task.id} is already {worker_id}'s")
    if worker_id is not None and people_queries.disabled_workers(session, [worker_id]):
        # dispatch passes them over; a named reassignment would wait out the accept deadline too
        raise TaskUpdateRefused(f"worker {worker_id!r}'s account is disabled: they cannot sign in to take it")
    actor = f"operator:{operator}"
    task_steps.end_offer(
        session, task, case, TaskStatus.CANCELLED, actor, f"reassigned by {operator}: {note}", now
    )
    session.flush()  # the old task must stop being active before the new one is inserted
    if worker_id is not None:
        return dispatch_case(session, ctx, case, now, f"reassigned by {operator}; ", (worker_id, actor))
    return redispatch(session, ctx, case, now, f"reassignment by {operator}", actor)
