"""Apply what a worker reports about a task: accept, decline, check in, resolve."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from contracts import GeoPoint, TaskAction, TaskUpdate
from gateway.cases.lifecycle import CaseStatus
from gateway.cases.models import Case
from gateway.cases.service import transition
from gateway.context import GatewayContext
from gateway.dispatch.models import Task, TaskStatus
from gateway.dispatch.service import dispatch_case

log = logging.getLogger(__name__)

# task status a worker action needs -> status it leads to
_STEPS: dict[TaskAction, tuple[frozenset[TaskStatus], TaskStatus, CaseStatus | None]] = {
    TaskAction.ACCEPT: (frozenset({TaskStatus.OFFERED}), TaskStatus.ACCEPTED, CaseStatus.ACCEPTED),
    TaskAction.DECLINE: (frozenset({TaskStatus.OFFERED}), TaskStatus.DECLINED, CaseStatus.NEW),
    TaskAction.CHECK_IN: (frozenset({TaskStatus.ACCEPTED}), TaskStatus.ON_SITE, CaseStatus.ON_SITE),
    TaskAction.RESOLVE: (frozenset({TaskStatus.ON_SITE}), TaskStatus.RESOLVED, CaseStatus.RESOLVED),
    TaskAction.CANNOT_HANDLE: (
        frozenset({TaskStatus.ACCEPTED, TaskStatus.ON_SITE}),
        TaskStatus.ON_SITE,
        CaseStatus.ESCALATED,
    ),
}


class TaskUpdateRefused(ValueError):
    """A well-formed update that does not fit the task's state (kept, not applied)."""


def apply_task_update(session: Session, ctx: GatewayContext, update: TaskUpdate, now: datetime) -> Task:
    task = session.get(Task, update.task_id)
    if task is None:
        raise TaskUpdateRefused(f"unknown task {update.task_id!r}")
    if task.worker_id != update.worker_id:
        raise TaskUpdateRefused(f"task {task.id} belongs to {task.worker_id}, not {update.worker_id}")
    step = _STEPS.get(update.action)
    if step is None:
        raise TaskUpdateRefused(f"action {update.action.value!r} is for the centre, not a worker")
    needs, task_to, case_to = step
    if TaskStatus(task.status) not in needs:
        raise TaskUpdateRefused(
            f"task {task.id} is {task.status}; {update.action.value!r} needs " + " or ".join(sorted(needs))
        )
    case = session.get(Case, task.case_id)
    assert case is not None
    if update.action is TaskAction.CHECK_IN and update.location is not None and case.lon is not None:
        radius = ctx.site.settings.dispatch.check_in_radius_m
        d = update.location.distance_m(GeoPoint(lon=case.lon, lat=case.lat))  # type: ignore[arg-type]
        if d > radius:
            raise TaskUpdateRefused(f"check-in {d:.0f} m from the site; must be within {radius:.0f} m")
    actor = f"worker:{update.worker_id}"
    task.status = task_to.value
    task.updated_at = now
    if update.result is not None:
        task.result = update.result.value
    if update.note:
        task.note = update.note
    reason = update.note or update.action.value
    if update.action is TaskAction.RESOLVE and update.result is not None:
        reason = f"{update.result.value}: {update.note}".rstrip(": ")
    if case_to is not None:
        transition(session, case, case_to, actor, reason, now, event_id=update.id)
    if update.action is TaskAction.DECLINE:
        case.assigned_worker_id = None
        dispatch_case(session, ctx, case, now)  # next candidate; the decliner is excluded
    log.info(
        "task %s: %s by %s",
        task.id,
        update.action.value,
        update.worker_id,
        extra={"task_id": task.id, "case_id": case.id, "worker_id": update.worker_id},
    )
    return task
