"""Read-side queries over live worker state."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from gateway.workers.models import WorkerAvailability, WorkerPosition


def positions(session: Session, worker_ids: Collection[str] | None = None) -> dict[str, WorkerPosition]:
    query = select(WorkerPosition)
    if worker_ids is not None:
        query = query.where(WorkerPosition.worker_id.in_(list(worker_ids)))
    return {p.worker_id: p for p in session.scalars(query)}


def unavailable(session: Session, now: datetime, worker_ids: Collection[str] | None = None) -> dict[str, str]:
    """Workers marked unavailable right now, with the reason given."""
    query = select(WorkerAvailability).where(
        WorkerAvailability.available.is_(False),
        or_(WorkerAvailability.until.is_(None), WorkerAvailability.until > now),
    )
    if worker_ids is not None:
        query = query.where(WorkerAvailability.worker_id.in_(list(worker_ids)))
    return {a.worker_id: a.reason for a in session.scalars(query)}


def latest_fixes(session: Session, worker_ids: Collection[str]) -> dict[str, Any]:
    """worker id -> row with lon, lat, fixed_at (plain rows: this is on every decision's path)."""
    rows = session.execute(
        select(
            WorkerPosition.worker_id, WorkerPosition.lon, WorkerPosition.lat, WorkerPosition.fixed_at
        ).where(WorkerPosition.worker_id.in_(list(worker_ids)))
    )
    return {row.worker_id: row for row in rows}
