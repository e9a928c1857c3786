"""Choose the grid worker for a case and offer them the task.

Ranking: the case's own grid first, then grids further out ring by ring; within
a ring full-time workers before grid leaders before part-timers; then
straight-line distance from the worker's fresh GPS fix (or their home-grid
centroid when the fix is stale or missing); workload breaks ties.
Every decision keeps its reason and the ranked shortlist.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from contracts import GeoPoint, HazardType, Severity, TaskOffer, topics
from contracts.ids import new_id
from contracts.site.models import WorkerRole
from contracts.site.schedule import any_active
from gateway.cases.lifecycle import CaseStatus
from gateway.cases.models import Case
from gateway.cases.service import transition
from gateway.context import GatewayContext
from gateway.dispatch.models import Task, TaskStatus
from gateway.outbound import service as outbound
from gateway.workers import queries as worker_queries
from gateway.workers.models import WorkerPosition

log = logging.getLogger(__name__)

ROLE_RANK = {WorkerRole.FULL_TIME: 0, WorkerRole.GRID_LEADER: 1, WorkerRole.PART_TIME: 2}
SHORTLIST_SIZE = 5


@dataclass(frozen=True)
class Candidate:
    worker_id: str
    grid_id: str
    ring: int  # 0 = the case's own grid
    role: str
    distance_m: float
    position: str  # "fix" or "home_centroid"
    fix_age_s: float | None
    workload: int


@dataclass(frozen=True)
class Decision:
    worker_id: str | None
    reason_code: str
    reason: str
    shortlist: tuple[Candidate, ...]


def choose_worker(
    ctx: GatewayContext,
    location: GeoPoint,
    grid_id: str,
    now: datetime,
    positions: dict[str, WorkerPosition],
    workloads: dict[str, int],
    exclude: frozenset[str] = frozenset(),
) -> Decision:
    site = ctx.site
    tz = site.settings.site.tz
    stale_after = site.settings.dispatch.stale_fix_s
    ring_of = {g: i for i, ring in enumerate(ctx.grids.rings(grid_id)) for g in ring}
    candidates = []
    off_duty = 0
    for worker in site.workers.values():
        ring = ring_of.get(worker.home_grid)
        if ring is None or worker.id in exclude:
            continue
        if not any_active(worker.duty, now, tz):
            off_duty += 1
            continue
        fix = positions.get(worker.id)
        age = (now - fix.fixed_at).total_seconds() if fix else None
        if fix is not None and age is not None and age <= stale_after:
            here, source = GeoPoint(lon=fix.lon, lat=fix.lat), "fix"
        else:
            home = ctx.grids.get(worker.home_grid)
            if home is None:
                continue
            here, source = home.centroid, "home_centroid"
        candidates.append(
            Candidate(
                worker.id,
                worker.home_grid,
                ring,
                worker.role.value,
                round(here.distance_m(location), 1),
                source,
                round(age, 1) if age is not None else None,
                workloads.get(worker.id, 0),
            )
        )
    candidates.sort(
        key=lambda c: (c.ring, ROLE_RANK[WorkerRole(c.role)], c.distance_m, c.workload, c.worker_id)
    )
    shortlist = tuple(candidates[:SHORTLIST_SIZE])
    if not shortlist:
        code = "shortfall_all_off_duty" if off_duty else "shortfall_no_worker"
        why = (
            f"no on-duty worker in grid {grid_id} or its neighbours "
            f"({off_duty} off duty, {len(exclude)} excluded)"
        )
        return Decision(None, code, why, shortlist)
    best = shortlist[0]
    code = "own_grid" if best.ring == 0 else "neighbour_grid"
    where = "own grid" if best.ring == 0 else f"grid {best.grid_id} (ring {best.ring})"
    pos = "live fix" if best.position == "fix" else "home-grid centroid (fix stale or missing)"
    why = (
        f"nearest on-duty {best.role.replace('_', '-')} worker in {where}: "
        f"{best.distance_m:.0f} m from {pos}, {best.workload} open task(s)"
    )
    return Decision(best.worker_id, code, why, shortlist)


def _declined(session: Session, case_id: str) -> frozenset[str]:
    rows = session.scalars(
        select(Task.worker_id).where(
            Task.case_id == case_id, Task.status.in_([TaskStatus.DECLINED.value, TaskStatus.EXPIRED.value])
        )
    )
    return frozenset(rows)


def dispatch_case(session: Session, ctx: GatewayContext, case: Case, now: datetime) -> Decision:
    """Pick a worker and offer the task (in the caller's transaction)."""
    if case.grid_id is None or case.lon is None or case.lat is None:
        return Decision(None, "shortfall_no_location", "case has no location or grid", ())
    location = GeoPoint(lon=case.lon, lat=case.lat)
    decision = choose_worker(
        ctx,
        location,
        case.grid_id,
        now,
        worker_queries.positions(session),
        worker_queries.active_task_counts(session),
        _declined(session, case.id),
    )
    if decision.worker_id is None:
        log.warning("case %s: %s", case.id, decision.reason, extra={"case_id": case.id})
        return decision
    policy = ctx.site.escalation.policy(HazardType(case.hazard_type))
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
    )
    session.add(task)
    case.assigned_worker_id = decision.worker_id
    transition(
        session,
        case,
        CaseStatus.DISPATCHED,
        ctx.gateway_id,
        f"offered to {decision.worker_id}: {decision.reason}",
        now,
    )
    offer = TaskOffer(
        **ctx.envelope(session),
        task_id=task.id,
        case_id=case.id,
        worker_id=decision.worker_id,
        hazard_type=HazardType(case.hazard_type),
        severity=Severity(case.severity),
        urgent=case.urgent,
        location=location,
        grid_id=case.grid_id,
        title=case.title,
        accept_by=accept_by,
        on_site_by=on_site_by,
        reason=decision.reason[:200],
    )
    outbound.enqueue(session, topics.worker_task(decision.worker_id), offer, now)
    log.info(
        "case %s: task %s offered to %s (%s)",
        case.id,
        task.id,
        decision.worker_id,
        decision.reason_code,
        extra={"case_id": case.id, "task_id": task.id, "worker_id": decision.worker_id},
    )
    return decision
