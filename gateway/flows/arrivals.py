"""A worker's location fix close enough to a task's site completes its on-site step."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from contracts.geo import haversine_m
from gateway.cases.lifecycle import OPEN_STATUSES
from gateway.cases.models import Case
from gateway.context import GatewayContext
from gateway.dispatch.models import Task, TaskStatus
from gateway.flows import task_steps

_WAITING = [TaskStatus.OFFERED.value, TaskStatus.ACCEPTED.value]


def arrive(
    session: Session,
    ctx: GatewayContext,
    worker_id: str,
    lon: float,
    lat: float,
    at: datetime,
    now: datetime,
    on_patrol: bool,
    how: str = "location fix",
    accuracy_m: float = 0.0,
) -> list[Task]:
    """Check the worker in at every open task of theirs within the check-in radius.

    ``at`` is when the phone took the fix; a fix older than the offer does not count
    (it may be replayed after a reconnect), and a phone clock ahead of ours is capped at ``now``.
    A fix less accurate than the radius (a network position, ±1 km) cannot tell whether the
    worker is within it: it checks nobody in (:func:`precise_enough`).
    """
    radius = ctx.site.settings.dispatch.check_in_radius_m
    if not precise_enough(ctx, accuracy_m):
        return []
    rows = session.execute(
        select(Task, Case)
        .join(Case, Case.id == Task.case_id)
        .where(Task.worker_id == worker_id, Task.status.in_(_WAITING))
    )
    arrived = []
    for task, case in rows:
        if case.lon is None or case.lat is None or case.status not in {s.value for s in OPEN_STATUSES}:
            continue
        d = haversine_m(lon, lat, case.lon, case.lat)
        if d > radius or at < task.offered_at:
            continue
        during = " during patrol" if on_patrol else ""
        reason = f"arrived{during}: {how} {d:.0f} m from the site (radius {radius:.0f} m)"
        task_steps.check_in(session, ctx, task, case, f"worker:{worker_id}", reason, min(at, now))
        arrived.append(task)
    return arrived


def precise_enough(ctx: GatewayContext, accuracy_m: float) -> bool:
    """Can a fix this accurate say the worker is within the check-in radius of a place?"""
    return accuracy_m <= ctx.site.settings.dispatch.check_in_radius_m
