"""Queue notifications in the caller's transaction: MQTT notices through the outbox,
webhook deliveries for the background sender."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from contracts import CaseNotice, GeoPoint, HazardType, Severity, topics
from gateway.cases.models import Case
from gateway.cases.notices import NoticeEvent, notify_centre
from gateway.context import GatewayContext
from gateway.escalation.targets import Target
from gateway.notify.formats import Notice, render
from gateway.notify.models import Delivery, DeliveryStatus
from gateway.outbound import service as outbound


def notice(
    ctx: GatewayContext,
    case: Case,
    event: str,
    text: str,
    now: datetime,
    tier: str = "",
    target: str = "",
    trigger: str = "",
) -> Notice:
    grid = ctx.grids.get(case.grid_id) if case.grid_id else None
    return Notice(
        event=event,
        case_id=case.id,
        title=case.title,
        hazard_type=case.hazard_type,
        severity=case.severity,
        status=case.status,
        tier=tier,
        target=target,
        grid_id=case.grid_id,
        grid_name=grid.name if grid else "",
        lon=case.lon,
        lat=case.lat,
        text=text,
        at=now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        trigger=trigger,
    )


def _mqtt(
    session: Session,
    case: Case,
    message: CaseNotice,
    topic: str,
    now: datetime,
    escalation_id: int | None,
) -> Delivery:
    delivery = Delivery(
        case_id=case.id,
        escalation_id=escalation_id,
        event=message.event,
        tier=message.tier,
        channel="mqtt",
        target=topic,
        format="case_notice",
        body=message.model_dump_json(),
        message_id=message.id,
        status=DeliveryStatus.QUEUED.value,
        attempts=0,
        created_at=now,
        last_error="",
    )
    session.add(delivery)
    return delivery


def tell_centre(
    session: Session,
    ctx: GatewayContext,
    case: Case,
    event: NoticeEvent,
    text: str,
    now: datetime,
    tier: str = "",
    escalation_id: int | None = None,
) -> Delivery:
    """A notice on the command centre's topic (alert wall), recorded as a delivery."""
    message = notify_centre(session, ctx, case, event, text, now, tier)
    return _mqtt(session, case, message, ctx.notice_topic, now, escalation_id)


def tell_worker(
    session: Session,
    ctx: GatewayContext,
    case: Case,
    worker_id: str,
    event: NoticeEvent,
    text: str,
    now: datetime,
    tier: str = "",
    escalation_id: int | None = None,
) -> Delivery:
    """A notice on a worker's phone topic (e.g. the grid leader being escalated to)."""
    message = CaseNotice(
        **ctx.envelope(session),
        case_id=case.id,
        event=event,
        hazard_type=HazardType(case.hazard_type),
        severity=Severity(case.severity),
        status=case.status,
        grid_id=case.grid_id,
        location=GeoPoint(lon=case.lon, lat=case.lat)
        if case.lon is not None and case.lat is not None
        else None,
        tier=tier,
        worker_id=worker_id,
        text=text[:1000],
    )
    topic = topics.worker_task(worker_id)
    outbound.enqueue(session, topic, message, now)
    return _mqtt(session, case, message, topic, now, escalation_id)


def queue_webhooks(
    session: Session, case: Case, target: Target, what: Notice, now: datetime, escalation_id: int | None
) -> list[Delivery]:
    deliveries = []
    for hook in target.webhooks:
        delivery = Delivery(
            case_id=case.id,
            escalation_id=escalation_id,
            event=what.event,
            tier=what.tier,
            channel="webhook",
            target=hook.url,
            format=hook.format.value,
            body=render(hook.format, what),
            secret=hook.secret,
            status=DeliveryStatus.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            last_error="",
        )
        session.add(delivery)
        deliveries.append(delivery)
    return deliveries
