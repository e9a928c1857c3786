"""Task actions over HTTP: the worker's steps (as from the phone) and the centre's verify/reassign.

Workers act on their own tasks, the centre's operators on the tasks of their
areas (``cloud_api.auth``). The same code applies them as for MQTT
task updates, in one transaction with the SLA timers, the patrol plan and the
outbox. A step that does not fit the task's state answers 409 with the reason
and changes nothing.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Response
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy.orm import Session

from cloud_api.auth import Access, Perm, Refusal, allow, same_person
from cloud_api.auth.guard import GuardedRoute
from cloud_api.auth.places import task_place, worker_place
from cloud_api.deps import CtxDep, ReadSessionDep, SessionDep
from cloud_api.idempotency import Conflict, OnceDep
from cloud_api.params import AwareTime
from contracts import GeoPoint, TaskAction, TaskResult, TaskUpdate
from contracts.envelope import Identifier
from gateway.dispatch.choice import Decision
from gateway.dispatch.models import Task
from gateway.dispatch.schemas import TaskView
from gateway.flows import task_decisions
from gateway.flows.task_updates import TaskUpdateRefused, TooFar, apply_task_update
from gateway.sla.schemas import TimerView
from gateway.sla.service import timers_for_case

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"], route_class=GuardedRoute)
TaskDecider = Annotated[Access, Depends(allow(Perm.DECIDE_TASKS))]

WorkerStep = Literal["accept", "decline", "check-in", "resolve", "cannot-handle"]
MAX_PHOTOS = 6  # a step shows at most this many photos


class StepRequest(BaseModel):
    model_config = {"extra": "forbid"}

    worker_id: Identifier | None = Field(
        default=None, description="The worker taking the step: the caller (must match when given)."
    )
    note: str = Field(default="", max_length=2000)
    location: GeoPoint | None = Field(default=None, description="check-in: where the phone is.")
    result: TaskResult | None = Field(default=None, description="resolve: what the worker found.")
    photos: list[Annotated[str, StringConstraints(max_length=64)]] = Field(
        default_factory=list,
        max_length=MAX_PHOTOS,
        description="Photos uploaded before (PUT /api/v1/photos/{id}) that the step shows (resolve: the "
        "result); listed on the case.",
    )
    taken_at: AwareTime | None = Field(
        default=None,
        description="When the phone took the step, if it was kept without signal and sent later: the "
        "trail says so (the step happens when it arrives).",
    )


_OPERATOR = Field(default=None, description="The operator: the caller (must match when given).")


class VerifyRequest(BaseModel):
    model_config = {"extra": "forbid"}

    operator: Identifier | None = _OPERATOR
    approved: bool = Field(
        default=True, description="false sends the result back: case reopened, re-offered."
    )
    note: str = Field(default="", max_length=2000)


class ReassignRequest(BaseModel):
    model_config = {"extra": "forbid"}

    operator: Identifier | None = _OPERATOR
    worker_id: Identifier | None = Field(default=None, description="Who gets it; empty = next candidate.")
    note: str = Field(default="", max_length=2000)


class TaskDetail(TaskView):
    timers: list[TimerView]


class Reassigned(BaseModel):
    worker_id: str | None
    reason_code: str
    reason: str


def task_in_reach(session: Session, access: Access, task_id: str) -> Task:
    """404 for an unknown task, 403 for one outside the caller's reach."""
    task = session.get(Task, task_id)
    if task is None:
        raise HTTPException(404, f"no task {task_id!r}")
    access.require(task_place(session, task), f"task {task_id}")
    return task


def _detail(session: Session, task: Task) -> TaskDetail:
    timers = [
        TimerView.model_validate(t) for t in timers_for_case(session, task.case_id) if t.task_id == task.id
    ]
    return TaskDetail(**TaskView.model_validate(task).model_dump(), timers=timers)


@router.get("/{task_id}", response_model=TaskDetail, summary="One task with its SLA timers")
def get_task(
    task_id: str, session: ReadSessionDep, access: Annotated[Access, Depends(allow(Perm.READ_TASKS))]
) -> TaskDetail:
    return _detail(session, task_in_reach(session, access, task_id))


@router.post(
    "/{task_id}/verify", response_model=TaskDetail, summary="The centre verifies (or sends back) a result"
)
def verify(
    task_id: str, body: VerifyRequest, session: SessionDep, ctx: CtxDep, access: TaskDecider
) -> TaskDetail:
    operator_id = same_person(access, body.operator, "operator")
    with session.begin():
        task_in_reach(session, access, task_id)
        try:
            task = task_decisions.verify(
                session, ctx, task_id, operator_id, body.approved, body.note, ctx.now()
            )
        except TaskUpdateRefused as exc:
            raise HTTPException(404 if "unknown task" in str(exc) else 409, str(exc)) from None
        return _detail(session, task)


@router.post("/{task_id}/reassign", response_model=Reassigned, summary="The centre moves an active task")
def reassign(
    task_id: str, body: ReassignRequest, session: SessionDep, ctx: CtxDep, access: TaskDecider
) -> Reassigned:
    """The new worker, when named, must be in the operator's areas too."""
    operator_id = same_person(access, body.operator, "operator")
    with session.begin():
        task_in_reach(session, access, task_id)
        if body.worker_id in ctx.site.workers:  # an unknown one is refused below, with the reason
            access.require(worker_place(ctx.site, body.worker_id), f"worker {body.worker_id}")
        try:
            decision: Decision = task_decisions.reassign(
                session, ctx, task_id, operator_id, ctx.now(), body.worker_id, body.note
            )
        except TaskUpdateRefused as exc:
            raise HTTPException(404 if "unknown task" in str(exc) else 409, str(exc)) from None
    return Reassigned(worker_id=decision.worker_id, reason_code=decision.reason_code, reason=decision.reason)


# Declared after verify/reassign: its {step} would swallow those paths.
@router.post(
    "/{task_id}/{step}",
    response_model=TaskDetail,
    summary="A worker's step on their task (Idempotency-Key: applied once)",
    responses={
        409: {
            "description": "The step does not fit the task now (detail, task_status; a check-in "
            "too far away: distance_m, radius_m)"
        }
    },
)
def worker_step(
    task_id: str,
    step: WorkerStep,
    body: StepRequest,
    session: SessionDep,
    ctx: CtxDep,
    access: Annotated[Access, Depends(allow(Perm.STEP_TASKS))],
    once: OnceDep,
) -> Response:
    """A phone sends each step with an ``Idempotency-Key`` it made: a retry after a lost answer
    gets the first answer back and changes nothing (cloud_api/idempotency.py)."""
    worker_id = same_person(access, body.worker_id, "worker_id")
    action = TaskAction(step.replace("-", "_"))
    now = ctx.now()
    try:
        update = TaskUpdate(
            source=worker_id,
            seq=0,
            ts=now,
            task_id=task_id,
            worker_id=worker_id,
            action=action,
            note=body.note,
            location=body.location,
            result=body.result,
        )
    except ValueError as exc:  # e.g. resolve without a result
        raise HTTPException(422, str(exc).split("\n", 1)[-1].strip()) from None

    def work() -> TaskDetail:
        held = session.get(Task, task_id)
        if held is None:
            raise HTTPException(404, f"no task {task_id!r}")
        if held.worker_id != worker_id:  # a worker's reach is their own tasks
            raise Refusal(403, f"task {task_id} is not yours: it is {held.worker_id}'s")
        try:
            task = apply_task_update(session, ctx, update, now, body.photos, body.taken_at)
        except TooFar as exc:
            raise Conflict(
                str(exc), task_status=held.status, distance_m=round(exc.distance_m), radius_m=exc.radius_m
            ) from None
        except TaskUpdateRefused as exc:
            raise Conflict(str(exc), task_status=held.status, task_note=held.note) from None
        return _detail(session, task)

    return once.run(session, now, work)
