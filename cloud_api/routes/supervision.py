"""Supervision (督办): a case's SLA timers, escalations and notification deliveries."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel
from sqlalchemy import select

from cloud_api.deps import ReadSessionDep
from gateway.cases.models import Case
from gateway.escalation.models import Escalation
from gateway.escalation.schemas import EscalationView
from gateway.notify.models import Delivery
from gateway.notify.schemas import DeliveryView
from gateway.sla.schemas import TimerView
from gateway.sla.service import timers_for_case

router = APIRouter(prefix="/api/v1", tags=["supervision"])


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
def case_supervision(case_id: str, session: ReadSessionDep) -> Supervision:
    case = session.get(Case, case_id)
    if case is None:
        raise HTTPException(404, f"no case {case_id!r}")
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
    status: str | None = Query(default=None, description="pending, sent, failed or queued (MQTT)."),
    channel: str | None = Query(default=None, description="webhook or mqtt."),
    limit: int = Query(default=100, ge=1, le=1000),
) -> list[DeliveryView]:
    query = select(Delivery).order_by(Delivery.id.desc()).limit(limit)
    if status:
        query = query.where(Delivery.status == status)
    if channel:
        query = query.where(Delivery.channel == channel)
    return [DeliveryView.model_validate(d) for d in session.scalars(query)]
