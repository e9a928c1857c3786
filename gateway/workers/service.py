"""Keep each worker's latest position."""

from __future__ import annotations

from sqlalchemy.orm import Session

from contracts import LocationFix
from gateway.workers.models import WorkerPosition


def record_fix(session: Session, fix: LocationFix) -> bool:
    """Store the fix if it is newer than what we have; returns whether it was."""
    current = session.get(WorkerPosition, fix.worker_id)
    if current is None:
        session.add(
            WorkerPosition(
                worker_id=fix.worker_id,
                lon=fix.location.lon,
                lat=fix.location.lat,
                accuracy_m=fix.accuracy_m,
                fixed_at=fix.ts,
                on_patrol=fix.on_patrol,
            )
        )
        return True
    if fix.ts <= current.fixed_at:
        return False  # late or replayed fix: positions only move forward
    current.lon, current.lat = fix.location.lon, fix.location.lat
    current.accuracy_m, current.fixed_at, current.on_patrol = fix.accuracy_m, fix.ts, fix.on_patrol
    return True
