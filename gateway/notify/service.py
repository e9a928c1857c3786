"""Tell people about a case, in the caller's transaction: MQTT notices through the outbox,
webhook deliveries for the background sender.

The vocabulary:

- :func:`case_notice` builds the wire message (:class:`contracts.CaseNotice`), the one builder;
- :func:`tell_centre` puts it on the command centre's alert wall topic;
- :func:`tell_worker` puts it on a worker's phone topic (the grid leader an escalation reached);
- :func:`webhook_notice` and :func:`queue_webhooks`: the same news for departments' and group
  robots' webhooks, posted by ``notify.sender``; :func:`alert_groups`: a new case for the group
  robots that want to hear of every one (``new_case_alerts``).

Notices about supervision (SLA warnings and breaches, shortfalls, escalations) are also kept
as :class:`~gateway.notify.models.Delivery` rows, so the case shows who was told what and when;
the notices of a case's own life (opened, dismissed, closed) are only on the alert wall.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from contracts import CaseNotice, GeoPoint, HazardType, NoticeEvent, Severity, topics
from contracts.site.models import Webhook
from gateway.cases.models import Case
from gateway.context import GatewayContext
from gateway.escalation.targets import Target
from gateway.notify.formats import WebhookNotice, link_body, render
from gateway.notify.models import Delivery, DeliveryStatus
from gateway.outbound import service as outbound


def case_notice(
    session: Session,
    ctx: GatewayContext,
    case: Case,
    event: NoticeEvent,
    text: str,
    *,
    tier: str = "",
    worker_id: str | None = None,
) -> CaseNotice:
    """The notice about ``case`` (a worker's id when it goes to that worker's phone)."""
    return CaseNotice(
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


def tell_centre(
    session: Session,
    ctx: GatewayContext,
    case: Case,
    event: NoticeEvent,
    text: str,
    now: datetime,
    *,
    tier: str = "",
    record: bool = False,
    escalation_id: int | None = None,
) -> CaseNotice:
    """A notice on the command centre's alert wall; ``record``: also kept as a delivery of the case."""
    message = case_notice(session, ctx, case, event, text, tier=tier)
    return _send(session, case, message, ctx.notice_topic, now, record, escalation_id)


def tell_worker(
    session: Session,
    ctx: GatewayContext,
    case: Case,
    worker_id: str,
    event: NoticeEvent,
    text: str,
    now: datetime,
    *,
    tier: str = "",
    escalation_id: int | None = None,
) -> CaseNotice:
    """A notice on a worker's phone topic, kept as a delivery of the case."""
    message = case_notice(session, ctx, case, event, text, tier=tier, worker_id=worker_id)
    return _send(session, case, message, topics.worker_task(worker_id), now, True, escalation_id)


def _send(
    session: Session,
    case: Case,
    message: CaseNotice,
    topic: str,
    now: datetime,
    record: bool,
    escalation_id: int | None,
) -> CaseNotice:
    outbound.enqueue(session, topic, message, now)
    if record:
        session.add(
            Delivery(
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
        )
    return message


def webhook_notice(
    ctx: GatewayContext,
    case: Case,
    event: str,
    text: str,
    now: datetime,
    tier: str = "",
    target: str = "",
    trigger: str = "",
) -> WebhookNotice:
    """What a webhook says about the case (rendered per receiver format by ``notify.formats``)."""
    grid = ctx.grids.get(case.grid_id) if case.grid_id else None
    return WebhookNotice(
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


def queue_webhooks(
    session: Session,
    case: Case,
    target: Target,
    what: WebhookNotice,
    now: datetime,
    escalation_id: int | None,
) -> list[Delivery]:
    return _post(session, case, target.webhooks, what, now, escalation_id)


def alert_groups(session: Session, ctx: GatewayContext, case: Case, now: datetime) -> list[Delivery]:
    """A new case at or above an alert's severity (escalation.yaml ``new_case_alerts``): its group
    robots are told now, not only when a deadline slips."""
    rank = Severity(case.severity).rank
    deliveries: list[Delivery] = []
    for alert in ctx.site.escalation.new_case_alerts:
        if rank < alert.min_severity.rank or (alert.hazards and case.hazard_type not in alert.hazards):
            continue
        what = webhook_notice(ctx, case, "opened", case.title, now, target=alert.name)
        deliveries += _post(session, case, alert.webhooks, what, now, None)
    return deliveries


def _post(
    session: Session,
    case: Case,
    hooks: Sequence[Webhook],
    what: WebhookNotice,
    now: datetime,
    escalation_id: int | None,
) -> list[Delivery]:
    deliveries = []
    for hook in hooks:
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


def queue_report_link(
    session: Session, hooks: Sequence[Webhook], title: str, text: str, url: str, now: datetime
) -> list[Delivery]:
    """Tell webhooks and group robots that a report is ready, with its link (no case)."""
    return queue_link(session, hooks, "report", title, text, url, "打开周报 Open the report", now)


def queue_link(
    session: Session,
    hooks: Sequence[Webhook],
    event: str,
    title: str,
    text: str,
    url: str,
    words: str,
    now: datetime,
) -> list[Delivery]:
    """Tell webhooks and group robots something with a link and no case (a report, a broadcast)."""
    at = now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    deliveries = []
    for hook in hooks:
        delivery = Delivery(
            case_id=None,
            escalation_id=None,
            event=event,
            tier="",
            channel="webhook",
            target=hook.url,
            format=hook.format.value,
            body=link_body(hook.format, event, title, text, url, words, at),
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
