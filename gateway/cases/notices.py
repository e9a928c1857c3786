"""Tell the command centre what happened to a case (alert wall topic)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session

from contracts import CaseNotice, GeoPoint, HazardType, Severity
from gateway.cases.models import Case
from gateway.context import GatewayContext
from gateway.outbound import service as outbound

NoticeEvent = Literal[
    "opened",
    "updated",
    "dispatched",
    "escalated",
    "sla_warning",
    "sla_breach",
    "resolved",
    "closed",
    "dismissed",
    "shortfall",
]


def notify_centre(
    session: Session,
    ctx: GatewayContext,
    case: Case,
    event: NoticeEvent,
    text: str,
    now: datetime,
    tier: str = "",
) -> CaseNotice:
    notice = CaseNotice(
        **ctx.envelope(session),
        case_id=case.id,
        event=event,
        hazard_type=HazardType(case.hazard_type),
        severity=Severity(case.severity),
        status=case.status,
        grid_id=case.grid_id,
        location=GeoPoint(lon=case.lon, lat=case.lat) if case.lon is not None else None,
        tier=tier,
        text=text[:1000],
    )
    outbound.enqueue(session, ctx.notice_topic, notice, now)
    return notice
