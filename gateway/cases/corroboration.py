"""Sensor and video agreeing raises severity.

A camera that sees smoke and a smoke detector in alarm nearby are two
independent witnesses of one fire: when a case opens and an open case of the
other kind is within the correlation radius and window, both go up one
severity step and point at each other. Each pair is corroborated once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from contracts import GeoPoint, HazardType, Severity
from gateway.cases.audit import note
from gateway.cases.correlation import CaseBook
from gateway.cases.models import Case
from gateway.context import GatewayContext

log = logging.getLogger(__name__)

# hazard seen by a camera  <->  the same hazard sensed by a detector
WITNESSES: dict[HazardType, frozenset[HazardType]] = {
    HazardType.FIRE_SMOKE: frozenset({HazardType.SMOKE_ALARM}),
    HazardType.SMOKE_ALARM: frozenset({HazardType.FIRE_SMOKE}),
}
_LADDER = [Severity.INFO, Severity.MINOR, Severity.MAJOR, Severity.CRITICAL]


def one_step_up(severity: Severity) -> Severity:
    return _LADDER[min(_LADDER.index(severity) + 1, len(_LADDER) - 1)]


def corroborate(
    session: Session, ctx: GatewayContext, book: CaseBook, case: Case, now: datetime
) -> Case | None:
    """Pair a newly opened case with an open case of the other kind nearby; returns the partner."""
    partners = WITNESSES.get(HazardType(case.hazard_type))
    if not partners or case.lon is None or case.lat is None or case.corroborated_by:
        return None
    settings = ctx.site.settings.correlation
    other = book.nearest_of(
        sorted(p.value for p in partners),
        GeoPoint(lon=case.lon, lat=case.lat),
        settings.radius_m,
        now - timedelta(seconds=settings.window_s),
    )
    if other is None or other.corroborated_by:
        return None
    for this, that in ((case, other), (other, case)):
        before = Severity(this.severity)
        after = one_step_up(before)
        this.severity = after.value
        this.corroborated_by = that.id
        this.updated_at = now
        note(
            session,
            this,
            "corroborated",
            ctx.gateway_id,
            f"{that.hazard_type} on {that.device_id} agrees (case {that.id}); "
            f"severity {before.value} → {after.value}",
            now,
        )
    log.info(
        "cases %s and %s corroborate each other",
        case.id,
        other.id,
        extra={"case_id": case.id},
    )
    return other
