"""Changes to a case that are not status moves, on the same append-only trail."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session

from gateway.cases.models import Case, CaseTransition

Change = Literal[
    "severity",
    "cleared",
    "returned",
    "corroborated",
    "confirmed",
    "sla_warning",
    "sla_breach",
    "acknowledged",
    "merged",
    "photo",  # a worker's photo joined the case
    "reported",  # a worker reported it from the phone (随手拍), or a resident (群众吹哨)
    "broadcast",  # a worker's sighting for a broadcast (协查通报) opened it
]


def note(
    session: Session,
    case: Case,
    change: Change,
    actor: str,
    reason: str,
    now: datetime,
    event_id: str | None = None,
) -> CaseTransition:
    """Record a change with the status unchanged (from = to = the current status)."""
    record = CaseTransition(
        case_id=case.id,
        at=now,
        from_status=case.status,
        to_status=case.status,
        actor=actor,
        reason=reason,
        event_id=event_id,
        change=change,
    )
    session.add(record)
    return record
