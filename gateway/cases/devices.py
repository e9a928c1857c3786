"""The open maintenance cases a device raised (camera offline, device offline, low battery ...);
its status lives in the registry (gateway/devices/)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from contracts.hazards import MAINTENANCE_TYPES
from gateway.cases.lifecycle import OPEN_STATUSES
from gateway.cases.models import Case

MAINTENANCE = sorted(h.value for h in MAINTENANCE_TYPES)


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
