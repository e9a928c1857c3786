"""Read-side queries over tasks: a worker's or a case's tasks, workloads, recent declines."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.orm import Session

from gateway.dispatch.models import ACTIVE_TASK_STATUSES, Task, TaskStatus
from gateway.dispatch.schemas import TaskView

_ACTIVE = [s.value for s in ACTIVE_TASK_STATUSES]


def tasks_for_worker(
    session: Session, worker_id: str, active_only: bool = False, limit: int = 100
) -> list[TaskView]:
    query = select(Task).where(Task.worker_id == worker_id).order_by(Task.offered_at.desc())
    if active_only:
        query = query.where(Task.status.in_([s.value for s in ACTIVE_TASK_STATUSES]))
    return [TaskView.model_validate(t) for t in session.scalars(query.limit(limit))]


def tasks_for_case(session: Session, case_id: str) -> list[TaskView]:
    query = select(Task).where(Task.case_id == case_id).order_by(Task.offered_at)
    return [TaskView.model_validate(t) for t in session.scalars(query)]


def active_task_counts(session: Session, worker_ids: Collection[str] | None = None) -> dict[str, int]:
    query = select(Task.worker_id, func.count()).where(Task.status.in_(_ACTIVE)).group_by(Task.worker_id)
    if worker_ids is not None:
        query = query.where(Task.worker_id.in_(list(worker_ids)))
    return {w: int(n) for w, n in session.execute(query)}


@dataclass(frozen=True)
class TaskLoad:
    active: dict[str, int]  # active tasks per worker
    declined_recently: frozenset[str]  # declined or let expire an offer since the cut-off
    declined_case: frozenset[str]  # declined or let expire an offer of the case asked about


_SAID_NO = [TaskStatus.DECLINED.value, TaskStatus.EXPIRED.value]


def task_load(
    session: Session, worker_ids: Collection[str], since: datetime, case_id: str | None
) -> TaskLoad:
    """Workload and recent declines of some workers, in one query."""
    said_no = Task.status.in_(_SAID_NO)
    recent = and_(said_no, Task.ended_at >= since)
    mine = and_(said_no, Task.case_id == case_id) if case_id is not None else false()
    rows = session.execute(
        select(Task.worker_id, Task.status, Task.ended_at, Task.case_id).where(
            Task.worker_id.in_(list(worker_ids)), or_(Task.status.in_(_ACTIVE), recent, mine)
        )
    )
    active: dict[str, int] = {}
    recently, for_case = set(), set()
    for worker_id, status, ended_at, task_case in rows:
        if status in _ACTIVE:
            active[worker_id] = active.get(worker_id, 0) + 1
            continue
        if ended_at is not None and ended_at >= since:
            recently.add(worker_id)
        if case_id is not None and task_case == case_id:
            for_case.add(worker_id)
    return TaskLoad(active, frozenset(recently), frozenset(for_case))
