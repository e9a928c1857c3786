"""Apply what a worker reports about a task: accept, decline, check in, resolve, cannot handle."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from contracts import GeoPoint, TaskAction, TaskUpdate
from gateway.cases.lifecycle import OPEN_STATUSES, CaseStatus
from gateway.cases.models import Case
from gateway.context import GatewayContext
from gateway.dispatch.models import Task, TaskStatus
from gateway.flows import escalate as escalation
from gateway.flows import task_steps as steps
from gateway.flows.dispatch import redispatch

log = logging.getLogger(__name__)

# The task states each worker action may start from.
_NEEDS: dict[TaskAction, frozenset[TaskStatus]] = {
    TaskAction.ACCEPT: frozenset({TaskStatus.OFFERED}),
    TaskAction.DECLINE: frozenset({TaskStatus.OFFERED}),
    # Checking in without pressing "accept" first is accepting by arriving.
    TaskAction.CHECK_IN: frozenset({TaskStatus.OFFERED, TaskStatus.ACCEPTED}),
    TaskAction.RESOLVE: frozenset({TaskStatus.ON_SITE}),
    TaskAction.CANNOT_HANDLE: frozenset({TaskStatus.ACCEPTED, TaskStatus.ON_SITE}),
}


class TaskUpdateRefused(ValueError):
    """A well-formed update that does not fit the task's state (kept, not applied)."""


def apply_task_update(session: Session, ctx: GatewayContext, update: TaskUpdate, now: datetime) -> Task:
    task = session.get(Task, update.task_id)
    if task is None:
        raise TaskUpdateRefused(f"unknown task {update.task_id!r}")
    if task.worker_id != update.worker_id:
        raise TaskUpdateRefused(f"task {task.id} belongs to {task.worker_id}, not {update.worker_id}")
    needs = _NEEDS.get(update.action)
    if needs is None:
        raise TaskUpdateRefused(f"action {update.action.value!r} is for the centre, not a worker")
    if TaskStatus(task.status) not in needs:
        raise TaskUpdateRefused(
            f"task {task.id} is {task.status}; {update.action.value!r} needs " + " or ".join(sorted(needs))
        )
    case = session.get(Case, task.case_id)
    assert case is not None
    if CaseStatus(case.status) not in OPEN_STATUSES and update.action is not TaskAction.RESOLVE:
        raise TaskUpdateRefused(f"case {case.id} is {case.status}; the task is no longer needed")
    if update.action is TaskAction.CHECK_IN and update.location is not None and case.lon is not None:
        radius = ctx.site.settings.dispatch.check_in_radius_m
        d = update.location.distance_m(GeoPoint(lon=case.lon, lat=case.lat))  # type: ignore[arg-type]
        if d > radius:
            raise TaskUpdateRefused(f"check-in {d:.0f} m from the site; must be within {radius:.0f} m")
    actor = f"worker:{update.worker_id}"
    if update.note:
        task.note = update.note
    reason = update.note or update.action.value
    if update.action is TaskAction.ACCEPT:
        steps.accept(session, ctx, task, case, actor, reason, now, update.id)
    elif update.action is TaskAction.DECLINE:
        steps.end_offer(session, task, case, TaskStatus.DECLINED, actor, update.note, now)
        redispatch(session, ctx, case, now, f"decline by {update.worker_id}")
    elif update.action is TaskAction.CHECK_IN:
        where = "explicit check-in" if update.location is None else "check-in with location"
        steps.check_in(session, ctx, task, case, actor, update.note or where, now, update.id)
    elif update.action is TaskAction.RESOLVE:
        assert update.result is not None  # the contract requires it
        reason = f"{update.result.value}: {update.note}".rstrip(": ")
        steps.resolve(session, ctx, task, case, actor, update.result.value, reason, now, update.id)
    else:  # CANNOT_HANDLE: the worker blows the whistle (网格吹哨)
        escalation.escalate(
            session,
            ctx,
            case,
            "cannot_handle",
            f"{update.worker_id} cannot handle it: {update.note or 'no reason given'}",
            now,
            escalation.CLEARED_BY_RESOLUTION,
        )
    log.info(
        "task %s: %s by %s",
        task.id,
        update.action.value,
        update.worker_id,
        extra={"task_id": task.id, "case_id": case.id, "worker_id": update.worker_id},
    )
    return task
