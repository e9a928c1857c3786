"""Climb the escalation tiers for a case (网格吹哨、部门报到).

Each trigger — an SLA breach, too many re-dispatches, a worker reporting
"cannot handle", nobody available — moves the case up one tier of the site's
policy. While what triggered it stays unresolved, a climb timer takes it one
tier further after ``climb_after_s``. A tier with nobody configured is recorded
as skipped and the next one is told instead. Each tier is told at most once per
case, enforced by a unique index.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contracts.hazards import HazardType
from gateway.cases.lifecycle import TRANSITIONS, CaseStatus
from gateway.cases.models import Case
from gateway.cases.service import transition
from gateway.context import GatewayContext
from gateway.escalation import metrics
from gateway.escalation.models import CLEARED_BY_RESOLUTION, Escalation
from gateway.escalation.targets import Missing, Target, resolve
from gateway.notify import service as notify
from gateway.sla import service as timers
from gateway.sla.models import Phase

log = logging.getLogger(__name__)


def reached(session: Session, case_id: str) -> dict[str, Escalation]:
    rows = session.scalars(select(Escalation).where(Escalation.case_id == case_id).order_by(Escalation.id))
    return {e.tier: e for e in rows}


def escalate(
    session: Session,
    ctx: GatewayContext,
    case: Case,
    trigger: str,
    reason: str,
    now: datetime,
    cleared_by: str = CLEARED_BY_RESOLUTION,
) -> Escalation | None:
    """Tell the next tier not yet told; returns its escalation (None when every tier was told)."""
    done = reached(session, case.id)
    for level, tier in enumerate(ctx.site.escalation.tiers):
        if tier.value in done:
            continue
        found = resolve(
            ctx.site,
            case.grid_id,
            HazardType(case.hazard_type),
            tier,
            case.assigned_worker_id,
            case.device_id,
        )
        if isinstance(found, Missing):
            _record(session, ctx, case, tier.value, level, trigger, found.why, "", True, now)
            log.warning(
                "case %s: escalation tier %s skipped: %s",
                case.id,
                tier.value,
                found.why,
                extra={"case_id": case.id, "tier": tier.value},
            )
            continue
        escalation = _record(session, ctx, case, tier.value, level, trigger, reason, found.name, False, now)
        if escalation is None:
            return None  # another gateway told this tier a moment ago
        _announce(session, ctx, case, escalation, found, now)
        if ctx.site.escalation.climb_after_s and level + 1 < len(ctx.site.escalation.tiers):
            timers.start(
                session,
                case.id,
                Phase.CLIMB,
                now,
                ctx.site.escalation.climb_after_s,
                None,
                detail=cleared_by,
                scope=tier.value,
            )
        metrics.ESCALATIONS.labels(tier.value, trigger.split(":")[0]).inc()
        return escalation
    log.warning(
        "case %s: every escalation tier has been told (%s)", case.id, trigger, extra={"case_id": case.id}
    )
    return None


def _record(
    session: Session,
    ctx: GatewayContext,
    case: Case,
    tier: str,
    level: int,
    trigger: str,
    reason: str,
    target: str,
    skipped: bool,
    now: datetime,
) -> Escalation | None:
    escalation = Escalation(
        case_id=case.id,
        tier=tier,
        level=level,
        trigger=trigger,
        reason=reason[:2000],
        target=target[:200],
        skipped=skipped,
        at=now,
        actor=ctx.gateway_id,
    )
    try:
        with session.begin_nested():
            session.add(escalation)
            session.flush()
    except IntegrityError:
        return None
    return escalation


def _announce(
    session: Session, ctx: GatewayContext, case: Case, escalation: Escalation, target: Target, now: datetime
) -> None:
    text = f"escalated to {target.tier.value}: {target.name}" + (f" ({target.phone})" if target.phone else "")
    text += f" — {escalation.reason}"
    current = CaseStatus(case.status)
    if CaseStatus.ESCALATED in TRANSITIONS[current]:
        transition(session, case, CaseStatus.ESCALATED, ctx.gateway_id, text, now)
    tier, told = target.tier.value, escalation.id
    notify.tell_centre(session, ctx, case, "escalated", text, now, tier=tier, record=True, escalation_id=told)
    if target.worker_id:
        notify.tell_worker(
            session, ctx, case, target.worker_id, "escalated", text, now, tier=tier, escalation_id=told
        )
    what = notify.webhook_notice(
        ctx, case, "escalated", escalation.reason, now, tier, target.name, escalation.trigger
    )
    notify.queue_webhooks(session, case, target, what, now, told)
    log.warning(
        "case %s escalated to %s (%s): %s",
        case.id,
        target.tier.value,
        target.name,
        escalation.reason,
        extra={"case_id": case.id, "tier": target.tier.value, "trigger": escalation.trigger},
    )
