"""Apply what a worker reports about a task: accept, decline, check in, resolve, cannot handle."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from contracts import ContractError, GeoPoint, TaskAction, TaskUpdate, decode
from gateway.cases.lifecycle import OPEN_STATUSES, CaseStatus
from gateway.cases.models import Case
from gateway.context import GatewayContext
from gateway.dispatch.models import Task, TaskStatus
from gateway.escalation.models import CLEARED_BY_RESOLUTION
from gateway.events import service as ledger
from gateway.events.outcomes import Outcome
from gateway.events.service import EventKey, key_of
from gateway.flows import task_steps, worker_photos
from gateway.flows.dispatch import redispatch
from gateway.flows.escalate import escalate
from gateway.ingest.throttle import LogThrottle

log = logging.getLogger(__name__)
# A phone sending the same wrong step in a loop is not a log flood.
_refused_log = LogThrottle(log, per_minute=20)

REDRIVE_WINDOW = timedelta(minutes=10)  # refused task updates this recent are retried after a step
LATE_STEP = timedelta(minutes=1)  # a step the phone took longer ago than this says so on the trail

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


class TooFar(TaskUpdateRefused):
    """A check-in from further away than the site's check-in radius."""

    def __init__(self, distance_m: float, radius_m: float) -> None:
        super().__init__(f"check-in {distance_m:.0f} m from the site; must be within {radius_m:.0f} m")
        self.distance_m = distance_m
        self.radius_m = radius_m


def apply_task_update(
    session: Session,
    ctx: GatewayContext,
    update: TaskUpdate,
    now: datetime,
    photos: Sequence[str] = (),
    taken_at: datetime | None = None,
) -> Task:
    """Apply one step. ``photos``: photos uploaded over HTTP that the step names (besides
    ``update.photo``); ``taken_at``: when the phone took the step, if it was sent later
    (kept offline) — the trail says so; the step itself happens now."""
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
            raise TooFar(d, radius)
    named = [*photos, *([update.photo.evidence_id] if update.photo else [])]
    if named:
        try:
            named = worker_photos.name_on_case(
                session, case, task, update.worker_id, named, update.photo.sha256 if update.photo else None
            )
        except worker_photos.PhotoNotTaken as exc:
            raise TaskUpdateRefused(str(exc)) from None
    actor = f"worker:{update.worker_id}"
    if update.note:
        task.note = update.note
    more = _more(ctx, named, taken_at, now)
    reason = (update.note or update.action.value) + more
    if update.action is TaskAction.ACCEPT:
        task_steps.accept(session, ctx, task, case, actor, reason, now, update.id)
    elif update.action is TaskAction.DECLINE:
        task_steps.end_offer(session, task, case, TaskStatus.DECLINED, actor, update.note, now)
        redispatch(session, ctx, case, now, f"decline by {update.worker_id}")
    elif update.action is TaskAction.CHECK_IN:
        where = "explicit check-in" if update.location is None else "check-in with location"
        task_steps.check_in(session, ctx, task, case, actor, (update.note or where) + more, now, update.id)
    elif update.action is TaskAction.RESOLVE:
        assert update.result is not None  # the contract requires it
        reason = f"{update.result.value}: {update.note}".rstrip(": ") + more
        task_steps.resolve(session, ctx, task, case, actor, update.result.value, reason, now, update.id)
    else:  # CANNOT_HANDLE: the worker blows the whistle (网格吹哨)
        escalate(
            session,
            ctx,
            case,
            "cannot_handle",
            f"{update.worker_id} cannot handle it: {update.note or 'no reason given'}",
            now,
            CLEARED_BY_RESOLUTION,
        )
    log.info(
        "task %s: %s by %s",
        task.id,
        update.action.value,
        update.worker_id,
        extra={"task_id": task.id, "case_id": case.id, "worker_id": update.worker_id},
    )
    return task


def _more(ctx: GatewayContext, photos: Sequence[str], taken_at: datetime | None, now: datetime) -> str:
    """What the trail adds to a step: the photos it names, and when the phone took it if it
    arrived late (kept on the phone without signal)."""
    more = ""
    if photos:
        more += f" (photos: {', '.join(photos)})"
    if taken_at is not None and now - taken_at > LATE_STEP:
        tz = ctx.site.settings.site.tz
        more += (
            f" (taken on the phone at {taken_at.astimezone(tz):%Y-%m-%d %H:%M:%S}, "
            f"arrived {now.astimezone(tz):%H:%M:%S})"
        )
    return more


@dataclass(frozen=True, slots=True)
class Reported:
    """What became of a task update a phone sent."""

    applied: bool
    redriven: tuple[EventKey, ...] = ()  # earlier refused updates of the task that it let through


def take_task_update(session: Session, ctx: GatewayContext, update: TaskUpdate, now: datetime) -> Reported:
    """A worker's update from the phone, claimed in the ingest ledger.

    Refused (it does not fit the task's state), it is kept in the ledger as refused at once,
    so that a later step can re-drive it; applied, it may let earlier refused updates of the
    task through (a ``check_in`` that overtook its ``accept`` is applied once the accept is in).
    """
    _lock_task(session, update.task_id)
    try:
        apply_task_update(session, ctx, update, now)
    except TaskUpdateRefused as exc:
        _refused_log.warning(
            "task_update_refused",
            "task update %s refused: %s",
            update.id,
            exc,
            extra={"worker_id": update.worker_id, "task_id": update.task_id},
        )
        ledger.set_outcomes(session, {key_of(update): Outcome.REFUSED.value})
        return Reported(False)
    return Reported(True, _redrive(session, ctx, update.task_id, now))


def _lock_task(session: Session, task_id: str) -> None:
    # Two gateways may get one worker's accept and check-in at the same moment
    # (shared subscriptions do not keep order): the row lock makes them take turns,
    # so the one that comes second sees the first one's step (or its refusal, below).
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(Task).where(Task.id == task_id).with_for_update()).first()


def _redrive(session: Session, ctx: GatewayContext, task_id: str, now: datetime) -> tuple[EventKey, ...]:
    """A step applied: retry recently refused updates of the task that it may have unblocked."""
    redriven: list[EventKey] = []
    progress = True
    while progress:
        progress = False
        for row in ledger.refused_updates(session, task_id, now - REDRIVE_WINDOW):
            try:
                update = decode(row.topic, row.payload)
            except ContractError:
                continue
            if not isinstance(update, TaskUpdate):
                continue
            try:
                with session.begin_nested():
                    apply_task_update(session, ctx, update, now)
            except TaskUpdateRefused:
                continue
            row.outcome = Outcome.APPLIED.value
            redriven.append((row.source, row.id))
            log.info(
                "task update %s applied after an update that overtook it",
                row.id,
                extra={"task_id": task_id, "worker_id": update.worker_id},
            )
            progress = True
    return tuple(redriven)
