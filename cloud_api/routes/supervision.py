"""Supervision (督办): a case's SLA timers, escalations and notification deliveries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import select

from cloud_api.auth import Access, Perm, allow
from cloud_api.auth.guard import GuardedRoute
from cloud_api.auth.places import case_filter
from cloud_api.deps import ReadSessionDep, SiteDep
from cloud_api.params import Limit
from cloud_api.routes.cases import case_in_reach
from gateway.cases.models import Case
from gateway.escalation.models import Escalation
from gateway.escalation.schemas import EscalationView
from gateway.notify.models import Delivery
from gateway.notify.schemas import DeliveryView
from gateway.sla.schemas import TimerView
from gateway.sla.service import timers_for_case

router = APIRouter(prefix="/api/v1", tags=["supervision"], route_class=GuardedRoute)


class Supervision(BaseModel):
    case_id: str
    status: str
    timers: list[TimerView]
    escalations: list[EscalationView]
    deliveries: list[DeliveryView]


@router.get(
    "/cases/{case_id}/supervision",
    response_model=Supervision,
    summary="SLA timers (warnings, breaches), escalations and deliveries of one case",
)
def case_supervision(
    case_id: str,
    session: ReadSessionDep,
    site: SiteDep,
    access: Annotated[Access, Depends(allow(Perm.READ_CASES))],
) -> Supervision:
    case = case_in_reach(session, site, access, case_id)
    escalations = session.scalars(
        select(Escalation).where(Escalation.case_id == case_id).order_by(Escalation.id)
    )
    deliveries = session.scalars(select(Delivery).where(Delivery.case_id == case_id).order_by(Delivery.id))
    return Supervision(
        case_id=case_id,
        status=case.status,
        timers=[TimerView.model_validate(t) for t in timers_for_case(session, case_id)],
        escalations=[EscalationView.model_validate(e) for e in escalations],
        deliveries=[DeliveryView.model_validate(d) for d in deliveries],
    )


@router.get(
    "/notifications", response_model=list[DeliveryView], summary="Notification deliveries, newest first"
)
def notifications(
    session: ReadSessionDep,
    site: SiteDep,
    access: Annotated[Access, Depends(allow(Perm.READ_NOTIFICATIONS))],
    status: str | None = Query(
        default=None, max_length=16, description="pending, sent, failed or queued (MQTT)."
    ),
    channel: str | None = Query(default=None, max_length=16, description="webhook or mqtt."),
    limit: Limit = 100,
) -> list[DeliveryView]:
    """Of the cases in the caller's areas."""
    query = select(Delivery).order_by(Delivery.id.desc()).limit(limit)
    visible = case_filter(access, site)
    if visible is not None:
        query = query.where(Delivery.case_id.in_(select(Case.id).where(visible)))
    if status:
        query = query.where(Delivery.status == status)
    if channel:
        query = query.where(Delivery.channel == channel)
    return [DeliveryView.model_validate(d) for d in session.scalars(query)]
