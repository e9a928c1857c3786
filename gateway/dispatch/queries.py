"""Read-side queries over tasks."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.dispatch.models import ACTIVE_TASK_STATUSES, Task
from gateway.dispatch.schemas import TaskView


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
