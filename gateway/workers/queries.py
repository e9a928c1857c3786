"""Read-side queries over live worker state."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from gateway.dispatch.models import ACTIVE_TASK_STATUSES, Task, TaskStatus
from gateway.workers.models import WorkerAvailability, WorkerPosition

_ACTIVE = [s.value for s in ACTIVE_TASK_STATUSES]


def positions(session: Session, worker_ids: Collection[str] | None = None) -> dict[str, WorkerPosition]:
    query = select(WorkerPosition)
    if worker_ids is not None:
        query = query.where(WorkerPosition.worker_id.in_(list(worker_ids)))
    return {p.worker_id: p for p in session.scalars(query)}


def active_task_counts(session: Session, worker_ids: Collection[str] | None = None) -> dict[str, int]:
    query = select(Task.worker_id, func.count()).where(Task.status.in_(_ACTIVE)).group_by(Task.worker_id)
    if worker_ids is not None:
        query = query.where(Task.worker_id.in_(list(worker_ids)))
    return {w: int(n) for w, n in session.execute(query)}


def unavailable(session: Session, now: datetime, worker_ids: Collection[str] | None = None) -> dict[str, str]:
    """Workers marked unavailable right now, with the reason given."""
    query = select(WorkerAvailability).where(
        WorkerAvailability.available.is_(False),
        or_(WorkerAvailability.until.is_(None), WorkerAvailability.until > now),
    )
    if worker_ids is not None:
        query = query.where(WorkerAvailability.worker_id.in_(list(worker_ids)))
    return {a.worker_id: a.reason for a in session.scalars(query)}


def declined_since(session: Session, since: datetime, worker_ids: Collection[str]) -> frozenset[str]:
    """Workers who declined an offer or let one expire after ``since``."""
    rows = session.scalars(
        select(Task.worker_id).where(
            Task.worker_id.in_(list(worker_ids)),
            Task.status.in_([TaskStatus.DECLINED.value, TaskStatus.EXPIRED.value]),
            Task.ended_at >= since,
        )
    )
    return frozenset(rows)
