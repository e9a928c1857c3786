"""What the gateway knows of a device's state today: the open maintenance cases it raised
(camera offline, device offline, low battery ...) and when its node was last heard from."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from contracts.hazards import MAINTENANCE_TYPES, HazardType
from gateway.cases.lifecycle import OPEN_STATUSES
from gateway.cases.models import Case

OFFLINE = frozenset({HazardType.CAMERA_OFFLINE.value, HazardType.DEVICE_OFFLINE.value})
MAINTENANCE = sorted(h.value for h in MAINTENANCE_TYPES)
# A node reports its health every minute (edge health_interval_s): silent for this long, it is not online.
SILENT_AFTER = timedelta(minutes=5)


def device_troubles(session: Session) -> dict[str, list[str]]:
    """device id -> the hazards of its open maintenance cases."""
    rows = session.execute(
        select(Case.device_id, Case.hazard_type).where(
            Case.hazard_type.in_(MAINTENANCE),
            Case.status.in_(sorted(s.value for s in OPEN_STATUSES)),
            Case.device_id.is_not(None),
        )
    )
    out: dict[str, list[str]] = {}
    for device_id, hazard in rows:
        out.setdefault(device_id, []).append(hazard)
    return out


def device_state(last_seen: datetime | None, troubles: list[str], now: datetime) -> str:
    """offline: an open offline case, or its node silent too long; online: heard from lately."""
    if OFFLINE.intersection(troubles):
        return "offline"
    if last_seen is None:
        return "unknown"
    return "online" if now - last_seen <= SILENT_AFTER else "offline"


def open_troubles(session: Session) -> dict[str, list[dict[str, object]]]:
    """device id -> its open maintenance cases (id, hazard, severity, status, opened), oldest first."""
    rows = session.execute(
        select(Case.device_id, Case.id, Case.hazard_type, Case.severity, Case.status, Case.opened_at)
        .where(
            Case.hazard_type.in_(MAINTENANCE),
            Case.status.in_(sorted(s.value for s in OPEN_STATUSES)),
            Case.device_id.is_not(None),
        )
        .order_by(Case.opened_at)
    )
    out: dict[str, list[dict[str, object]]] = {}
    for device_id, case_id, hazard, severity, status, opened_at in rows:
        out.setdefault(device_id, []).append(
            {
                "case_id": case_id,
                "hazard_type": hazard,
                "severity": severity,
                "status": status,
                "opened_at": opened_at,
            }
        )
    return out
