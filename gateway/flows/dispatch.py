"""Offer a case to the chosen worker, in the caller's transaction.

:func:`start_case` runs once for every new emergency case (centre-accept timer,
first offer, immediate escalation when nobody can go); :func:`redispatch` runs
after a decline or an expired offer. An urgent task is sent at once; a
non-urgent one is also folded into the worker's patrol for the day.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contracts import GeoPoint, HazardType, Severity, TaskOffer, topics
from contracts.ids import new_id
from gateway.cases.lifecycle import CaseStatus
from gateway.cases.models import Case
from gateway.cases.service import transition
from gateway.context import GatewayContext
from gateway.dispatch import metrics
from gateway.dispatch import queries as task_queries
from gateway.dispatch.book import WorkerBook
from gateway.dispatch.choice import Candidate, Decision, WorkerState, choose_worker
from gateway.dispatch.eta import StraightLineEta
from gateway.dispatch.models import Task, TaskStatus
from gateway.escalation.models import CLEARED_BY_ACCEPT
from gateway.flows.escalate import escalate
from gateway.notify import service as notify
from gateway.outbound import service as outbound
from gateway.patrol import plans
from gateway.people import queries as people_queries
from gateway.sla import service as timers
from gateway.sla.models import Phase
from gateway.workers import queries as worker_queries

log = logging.getLogger(__name__)

__all__ = ["Candidate", "Decision", "choose_worker", "dispatch_case", "redispatch", "start_case"]


def load_state(
    session: Session, ctx: GatewayContext, grid_id: str, now: datetime, case_id: str | None = None
) -> tuple[WorkerState, frozenset[str]]:
    """Live state of only the workers a decision for ``grid_id`` can consider (three queries),
    and which of them already declined this case or let its offer expire."""
    settings = ctx.site.settings.dispatch
    ids = list(dict.fromkeys(n.worker.id for n in ctx.roster.near(grid_id, settings.max_rings)))
    if not ids:
        return WorkerState(), frozenset()
    since = now - timedelta(seconds=settings.decline_cooldown_s)
    load = task_queries.task_load(session, ids, since, case_id)
    state = WorkerState(
        positions=worker_queries.latest_fixes(session, ids),
        workloads=load.active,
        unavailable={
            **worker_queries.unavailable(session, now, ids),
            **people_queries.disabled_workers(session, ids),
        },
        cooling_down=load.declined_recently if settings.decline_cooldown_s else frozenset(),
    )
    return state, load.declined_case


def decide(
    session: Session, ctx: GatewayContext, case: Case, now: datetime, workers: WorkerBook | None = None
) -> Decision:
    """``workers``: the transaction's book of worker state, for a case opened in this transaction
    (nobody has declined it yet); without one the state is read from the store."""
    if case.grid_id is None or case.lon is None or case.lat is None:
        return Decision(None, "shortfall_no_location", "case has no location or grid", ())
    started = time.perf_counter()
    if workers is not None:
        state, declined = workers.state(workers.near(case.grid_id)), frozenset[str]()
    else:
        state, declined = load_state(session, ctx, case.grid_id, now, case.id)
    eta = (
        StraightLineEta(ctx.site.settings.dispatch) if ctx.site.settings.dispatch.eta_rerank_top > 1 else None
    )
    decision = choose_worker(
        ctx, GeoPoint(lon=case.lon, lat=case.lat), case.grid_id, now, state, declined, eta
    )
    metrics.DECISION_SECONDS.observe(time.perf_counter() - started)
    return decision


def dispatch_case(
    session: Session,
    ctx: GatewayContext,
    case: Case,
    now: datetime,
    context: str = "",
    assign_to: tuple[str, str] | None = None,
    actor: str | None = None,
    workers: WorkerBook | None = None,
) -> Decision:
    """Pick a worker and offer the task; on a shortfall nothing is offered (the caller escalates).

    ``assign_to`` = (worker id, who decided) skips the choice: the centre named the worker.
    ``workers``: the batch's worker state, for a case opened in this transaction (``start_case``).
    """
    if assign_to is not None:
        worker_id, by = assign_to
        # the ranking is kept with the centre's choice: who else was near, and how far
        ranked = decide(session, ctx, case, now).shortlist if case.grid_id is not None else ()
        decision = Decision(worker_id, "centre_assigned", f"assigned by {by}", ranked)
    else:
        decision = decide(session, ctx, case, now, workers)
    if decision.worker_id is None:
        log.warning("case %s: %s", case.id, decision.reason, extra={"case_id": case.id})
        return decision
    assert case.lon is not None and case.lat is not None and case.grid_id is not None
    policy = ctx.site.escalation.policy(HazardType(case.hazard_type))
    ratio = ctx.site.escalation.warning_ratio
    accept_by = now + timedelta(seconds=policy.sla.worker_accept) if policy.sla.worker_accept else None
    on_site_by = now + timedelta(seconds=policy.sla.on_site) if policy.sla.on_site else None
    task = Task(
        id=new_id(),
        case_id=case.id,
        worker_id=decision.worker_id,
        status=TaskStatus.OFFERED.value,
        urgent=case.urgent,
        offered_at=now,
        updated_at=now,
        accept_by=accept_by,
        on_site_by=on_site_by,
        reason_code=decision.reason_code,
        reason=decision.reason,
        shortlist=[asdict(c) for c in decision.shortlist],
        note="",
    )
    session.add(task)
    if workers is None:
        session.flush()
    else:
        workers.offered(decision.worker_id)  # flushed with the batch; the book counts it now
    detail = ""
    if not case.urgent:
        detail = plans.insert_task(session, ctx, task, case, now).describe()
    case.assigned_worker_id = decision.worker_id
    why = f"offered to {decision.worker_id}: {decision.reason}"
    # the trail names who decided: the operator who named the worker, else this gateway
    by = actor or (assign_to[1] if assign_to is not None else ctx.gateway_id)
    transition(session, case, CaseStatus.DISPATCHED, by, f"{context}{why}", now)
    for phase, limit in (
        (Phase.WORKER_ACCEPT, policy.sla.worker_accept),
        (Phase.ON_SITE, policy.sla.on_site),
    ):
        timers.start(
            session,
            case.id,
            phase,
            now,
            limit,
            ratio,
            task_id=task.id,
            worker_id=task.worker_id,
            new=workers is not None,
        )
    offer = TaskOffer(
        **ctx.envelope(session),
        task_id=task.id,
        case_id=case.id,
        worker_id=decision.worker_id,
        hazard_type=HazardType(case.hazard_type),
        severity=Severity(case.severity),
        urgent=case.urgent,
        location=GeoPoint(lon=case.lon, lat=case.lat),
        grid_id=case.grid_id,
        title=case.title[:200],
        detail=detail,
        accept_by=accept_by,
        on_site_by=on_site_by,
        reason=decision.reason[:200],
    )
    outbound.enqueue(session, topics.worker_task(decision.worker_id), offer, now)
    log.info(
        "case %s: task %s offered to %s (%s)%s",
        case.id,
        task.id,
        decision.worker_id,
        decision.reason_code,
        f"; {detail}" if detail else "",
        extra={"case_id": case.id, "task_id": task.id, "worker_id": decision.worker_id},
    )
    return decision


def start_case(
    session: Session, ctx: GatewayContext, case: Case, now: datetime, workers: WorkerBook | None = None
) -> Decision:
    """A new emergency case: start the centre's clock, offer it, escalate at once if nobody can go.

    ``workers``: the batch's book of worker state (a batch opening many cases reads it once);
    the case's timers and task then wait for the batch's flush instead of a query each."""
    policy = ctx.site.escalation.policy(HazardType(case.hazard_type))
    timers.start(
        session,
        case.id,
        Phase.CENTRE_ACCEPT,
        case.opened_at,
        policy.sla.centre_accept,
        ctx.site.escalation.warning_ratio,
        new=workers is not None,
    )
    decision = dispatch_case(session, ctx, case, now, workers=workers)
    if decision.shortfall:
        _shortfall(session, ctx, case, decision, now, new=workers is not None)
    return decision


def redispatch(
    session: Session, ctx: GatewayContext, case: Case, now: datetime, cause: str, actor: str | None = None
) -> Decision:
    """Offer the case to the next candidate after a decline or an expired offer."""
    metrics.REDISPATCHES.labels(cause.split(":")[0]).inc()
    decision = dispatch_case(session, ctx, case, now, context=f"re-dispatch after {cause}; ", actor=actor)
    if decision.shortfall:
        _shortfall(session, ctx, case, decision, now)
        return decision
    policy = ctx.site.escalation.policy(HazardType(case.hazard_type))
    count = redispatch_count(session, case.id)
    if count > policy.max_redispatches:
        escalate(
            session,
            ctx,
            case,
            "redispatches",
            f"offered {count + 1} times ({count} re-dispatches, policy allows {policy.max_redispatches})",
            now,
            CLEARED_BY_ACCEPT,
        )
    return decision


def redispatch_count(session: Session, case_id: str) -> int:
    offers = session.scalar(select(func.count()).select_from(Task).where(Task.case_id == case_id)) or 0
    return max(0, int(offers) - 1)


def _shortfall(
    session: Session, ctx: GatewayContext, case: Case, decision: Decision, now: datetime, new: bool = False
) -> None:
    notify.tell_centre(
        session, ctx, case, "shortfall", f"{decision.reason_code}: {decision.reason}", now, record=True
    )
    escalate(session, ctx, case, decision.reason_code, decision.reason, now, CLEARED_BY_ACCEPT, new=new)
