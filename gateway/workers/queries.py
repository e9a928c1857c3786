"""Read-side queries over live worker state."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.dispatch.models import ACTIVE_TASK_STATUSES, Task
from gateway.workers.models import WorkerPosition


def positions(session: Session) -> dict[str, WorkerPosition]:
    return {p.worker_id: p for p in session.scalars(select(WorkerPosition))}


def active_task_counts(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(Task.worker_id, func.count())
        .where(Task.status.in_([s.value for s in ACTIVE_TASK_STATUSES]))
        .group_by(Task.worker_id)
    )
    return {w: int(n) for w, n in rows}
