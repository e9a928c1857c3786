"""Climb the escalation tiers for a case (网格吹哨、部门报到).

Each trigger — an SLA breach, too many re-dispatches, a worker reporting
"cannot handle", nobody available — moves the case up one tier of the site's
policy. While what triggered it stays unresolved, a climb timer takes it one
tier further after ``climb_after_s``. A tier with nobody configured is recorded
as skipped and the next one is told instead. Each tier (each department) is told
at most once per case, enforced by a unique index.

An operator may also blow the whistle by hand (:func:`whistle`): a department of
their choice is told at once, with their message. A department told of a case —
by the policy or by hand — has ``acknowledge_s`` to acknowledge it (部门报到);
when it does not, :func:`escalate_above` tells the tier above it.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contracts.hazards import HazardType
from contracts.site.models import Tier
from gateway.cases.lifecycle import TRANSITIONS, CaseStatus
from gateway.cases.models import Case
from gateway.cases.service import transition
from gateway.context import GatewayContext
from gateway.escalation import metrics
from gateway.escalation.models import CLEARED_BY_RESOLUTION, Escalation
from gateway.escalation.targets import Missing, Target, department_target, resolve
from gateway.notify import service as notify
from gateway.sla import service as timers
from gateway.sla.models import Phase

log = logging.getLogger(__name__)


class WhistleRefused(ValueError):
    """A whistle that cannot be blown: an unknown department, or one already told of the case."""


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
    above: int = -1,
    new: bool = False,
) -> Escalation | None:
    """Tell the next tier not yet told (above the level ``above``); returns its escalation
    (None when every tier was told). ``new``: the case was opened in this transaction, so no
    tier was told yet and no other gateway can be telling one (its rows wait for the batch's
    flush instead of a query and a savepoint each)."""
    done = {} if new else reached(session, case.id)
    for level, tier in enumerate(ctx.site.escalation.tiers):
        if tier.value in done or level <= above:
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
            _record(session, ctx, case, tier.value, level, trigger, found.why, "", True, now, new=new)
            log.warning(
                "case %s: escalation tier %s skipped: %s",
                case.id,
                tier.value,
                found.why,
                extra={"case_id": case.id, "tier": tier.value},
            )
            continue
        escalation = _record(
            session, ctx, case, tier.value, level, trigger, reason, found.name, False, now, new=new
        )
        if escalation is None:
            return None  # another gateway told this tier a moment ago
        _announce(session, ctx, case, escalation, found, now)
        if found.department is not None:
            _await_acknowledgement(session, ctx, case, found.department, now)
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
                new=new,
            )
        metrics.ESCALATIONS.labels(tier.value, trigger.split(":")[0]).inc()
        return escalation
    log.warning(
        "case %s: every escalation tier has been told (%s)", case.id, trigger, extra={"case_id": case.id}
    )
    return None


def whistle(
    session: Session,
    ctx: GatewayContext,
    case: Case,
    department: str,
    operator: str,
    message: str,
    now: datetime,
) -> Escalation:
    """The centre blows the whistle (吹哨): ``department`` is told now, with the operator's message,
    and has ``acknowledge_s`` to acknowledge it (报到)."""
    if department not in ctx.site.escalation.departments:
        known = ", ".join(sorted(ctx.site.escalation.departments)) or "none in escalation.yaml"
        raise WhistleRefused(f"no department {department!r}; one of: {known}")
    target = department_target(ctx.site, department)
    tiers = ctx.site.escalation.tiers
    level = tiers.index(Tier.DEPARTMENT) if Tier.DEPARTMENT in tiers else len(tiers)
    actor = f"operator:{operator}"
    escalation = _record(
        session, ctx, case, Tier.DEPARTMENT.value, level, "manual", message, target.name, False, now, actor
    )
    if escalation is None:
        raise WhistleRefused(f"{target.name} was already told of case {case.id}")
    _announce(session, ctx, case, escalation, target, now, actor)
    _await_acknowledgement(session, ctx, case, department, now)
    metrics.ESCALATIONS.labels(Tier.DEPARTMENT.value, "manual").inc()
    return escalation


def escalate_above(
    session: Session, ctx: GatewayContext, case: Case, department: str, waited_s: float, now: datetime
) -> Escalation | None:
    """A department did not acknowledge in time: tell the tier above it — the next tier after
    'department' not yet told, else the supervision contact (上级督办)."""
    contact = ctx.site.escalation.departments.get(department)
    name = contact.name if contact else department
    reason = f"{name} did not acknowledge (报到) within {waited_s:.0f} s"
    trigger = f"unacknowledged:{department}"[:40]
    tiers = ctx.site.escalation.tiers
    level = tiers.index(Tier.DEPARTMENT) if Tier.DEPARTMENT in tiers else len(tiers)
    done = reached(session, case.id)
    if any(t.value not in done for t in tiers[level + 1 :]):
        told = escalate(session, ctx, case, trigger, reason, now, CLEARED_BY_RESOLUTION, above=level)
        if told is not None:
            return told
    if Tier.SUPERVISION in tiers or Tier.SUPERVISION.value in done:
        return None
    found = resolve(ctx.site, case.grid_id, HazardType(case.hazard_type), Tier.SUPERVISION)
    if isinstance(found, Missing):
        log.warning(
            "case %s: %s, and there is no tier above it: %s",
            case.id,
            reason,
            found.why,
            extra={"case_id": case.id, "tier": Tier.SUPERVISION.value},
        )
        return None
    escalation = _record(
        session, ctx, case, Tier.SUPERVISION.value, len(tiers), trigger, reason, found.name, False, now
    )
    if escalation is not None:
        _announce(session, ctx, case, escalation, found, now)
        metrics.ESCALATIONS.labels(Tier.SUPERVISION.value, "unacknowledged").inc()
    return escalation


def _await_acknowledgement(
    session: Session, ctx: GatewayContext, case: Case, department: str, now: datetime
) -> None:
    timers.start(
        session,
        case.id,
        Phase.ACKNOWLEDGE,
        now,
        ctx.site.escalation.acknowledge_s,
        ctx.site.escalation.warning_ratio,
        detail=department,
        scope=department,
    )


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
    actor: str = "",
    new: bool = False,
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
        actor=actor or ctx.gateway_id,
    )
    if new:
        session.add(escalation)
        session.flush()  # its id goes into the deliveries; no savepoint, no other writer knows the case
        return escalation
    try:
        with session.begin_nested():
            session.add(escalation)
            session.flush()
    except IntegrityError:
        return None
    return escalation


def _announce(
    session: Session,
    ctx: GatewayContext,
    case: Case,
    escalation: Escalation,
    target: Target,
    now: datetime,
    actor: str = "",
) -> None:
    text = f"escalated to {target.tier.value}: {target.name}" + (f" ({target.phone})" if target.phone else "")
    text += f" — {escalation.reason}"
    current = CaseStatus(case.status)
    if CaseStatus.ESCALATED in TRANSITIONS[current]:
        transition(session, case, CaseStatus.ESCALATED, actor or ctx.gateway_id, text, now)
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
