"""Choose the grid worker for a case: a pure function of the site and live worker state.

Ranking: the case's own grid first, then grids further out ring by ring; within
a ring full-time workers before grid leaders before part-timers; then
straight-line distance from the worker's fresh GPS fix (or their home-grid
centroid when the fix is stale or missing); workload breaks ties. Optionally
the best few of the same ring and role are re-ranked by estimated arrival time.
Off-duty, unavailable, busy and recently-declining workers are skipped and
counted. Every decision keeps a reason code, a sentence and the ranked shortlist.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from contracts.geo import GeoPoint, haversine_m
from contracts.site.models import WorkerRole
from contracts.site.schedule import any_active
from gateway.context import GatewayContext
from gateway.dispatch.eta import EtaEstimator

ROLE_RANK = {WorkerRole.FULL_TIME: 0, WorkerRole.GRID_LEADER: 1, WorkerRole.PART_TIME: 2}
SHORTLIST_SIZE = 5

# Why a worker near the case was not a candidate (counted in every decision).
DECLINED = "declined"  # declined this case or let its offer expire
UNAVAILABLE = "unavailable"  # marked unavailable (leave, sick, another incident)
OFF_DUTY = "off_duty"
BUSY = "busy"  # already has the most active tasks allowed
COOLING_DOWN = "cooling_down"  # declined another offer a short while ago
SKIP_ORDER = (DECLINED, UNAVAILABLE, OFF_DUTY, BUSY, COOLING_DOWN)


class Fix(Protocol):
    lon: float
    lat: float
    fixed_at: datetime


@dataclass(slots=True)  # not frozen: one per nearby worker per decision, and frozen init is slower
class Candidate:
    worker_id: str
    grid_id: str
    ring: int  # 0 = the case's own grid
    role: str
    distance_m: float
    position: str  # "fix" or "home_centroid"
    fix_age_s: float | None
    workload: int
    eta_s: float | None = None


@dataclass(frozen=True)
class Decision:
    worker_id: str | None
    reason_code: str
    reason: str
    shortlist: tuple[Candidate, ...]
    skipped: Mapping[str, int] = field(default_factory=dict)

    @property
    def shortfall(self) -> bool:
        return self.worker_id is None


@dataclass(frozen=True)
class WorkerState:
    """Live state of the workers near a case (only those are loaded)."""

    positions: Mapping[str, Fix] = field(default_factory=dict)
    workloads: Mapping[str, int] = field(default_factory=dict)
    unavailable: Mapping[str, str] = field(default_factory=dict)  # worker id -> reason
    cooling_down: frozenset[str] = frozenset()


def choose_worker(
    ctx: GatewayContext,
    location: GeoPoint,
    grid_id: str,
    now: datetime,
    state: WorkerState,
    exclude: frozenset[str] = frozenset(),
    eta: EtaEstimator | None = None,
) -> Decision:
    site = ctx.site
    settings = site.settings.dispatch
    tz = site.settings.site.tz
    stale_after = settings.stale_fix_s
    skipped: Counter[str] = Counter()
    on_duty: dict[str, bool] = {}  # many workers share a duty schedule: evaluate each once
    keyed: list[tuple[int, int, float, int, str, Candidate]] = []
    for near in ctx.roster.near(grid_id, settings.max_rings):
        worker = near.worker
        workload = state.workloads.get(worker.id, 0)
        duty = on_duty.get(near.duty_key)
        if duty is None:
            duty = on_duty[near.duty_key] = any_active(worker.duty, now, tz)
        if worker.id in exclude:
            skipped[DECLINED] += 1
        elif worker.id in state.unavailable:
            skipped[UNAVAILABLE] += 1
        elif not duty:
            skipped[OFF_DUTY] += 1
        elif workload >= settings.max_open_tasks:
            skipped[BUSY] += 1
        elif worker.id in state.cooling_down:
            skipped[COOLING_DOWN] += 1
        else:
            fix = state.positions.get(worker.id)
            placed = _place(
                ctx,
                near.ring,
                worker.id,
                worker.home_grid,
                worker.role,
                workload,
                fix,
                location,
                now,
                stale_after,
            )
            if placed is not None:
                rank = ROLE_RANK[worker.role]
                keyed.append(
                    (placed.ring, rank, placed.distance_m, placed.workload, placed.worker_id, placed)
                )
    keyed.sort(key=lambda k: k[:5])
    candidates = [k[5] for k in keyed]
    if eta is not None and settings.eta_rerank_top > 1 and len(candidates) > 1:
        candidates = _rerank_by_eta(candidates, settings.eta_rerank_top, eta, location)
    shortlist = tuple(candidates[:SHORTLIST_SIZE])
    if not shortlist:
        code, why = _shortfall(grid_id, skipped)
        return Decision(None, code, why, shortlist, dict(skipped))
    best = shortlist[0]
    code = "own_grid" if best.ring == 0 else "neighbour_grid"
    where = "own grid" if best.ring == 0 else f"grid {best.grid_id} (ring {best.ring})"
    if best.position == "fix":
        pos = "live fix"
    elif best.fix_age_s is None:
        pos = "home-grid centroid (no location fix yet)"
    else:
        pos = f"home-grid centroid (fix {best.fix_age_s:.0f} s old is stale after {stale_after:.0f} s)"
    why = (
        f"nearest on-duty {best.role.replace('_', '-')} worker in {where}: "
        f"{best.distance_m:.0f} m from {pos}, {best.workload} open task(s)"
    )
    if best.eta_s is not None:
        why += f", ETA {best.eta_s:.0f} s"
    if skipped:
        why += "; skipped " + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(skipped.items()))
    return Decision(best.worker_id, code, why, shortlist, dict(skipped))


def _place(
    ctx: GatewayContext,
    ring: int,
    worker_id: str,
    home_grid: str,
    role: WorkerRole,
    workload: int,
    fix: Fix | None,
    location: GeoPoint,
    now: datetime,
    stale_after: float,
) -> Candidate | None:
    age = (now - fix.fixed_at).total_seconds() if fix is not None else None
    if fix is not None and age is not None and age <= stale_after:
        lon, lat, source = fix.lon, fix.lat, "fix"
    else:
        home = ctx.grids.get(home_grid)
        if home is None:
            return None
        lon, lat, source = home.centroid.lon, home.centroid.lat, "home_centroid"
    return Candidate(
        worker_id,
        home_grid,
        ring,
        role.value,
        round(haversine_m(lon, lat, location.lon, location.lat), 1),
        source,
        round(age, 1) if age is not None else None,
        workload,
    )


def _rerank_by_eta(
    ranked: list[Candidate], top: int, eta: EtaEstimator, location: GeoPoint
) -> list[Candidate]:
    """Re-order the best few that share the leader's ring and role by ETA; the rest keep their place."""
    lead = ranked[0]
    group_key = (lead.ring, ROLE_RANK[WorkerRole(lead.role)])
    n = 0
    while (
        n < len(ranked) and n < top and (ranked[n].ring, ROLE_RANK[WorkerRole(ranked[n].role)]) == group_key
    ):
        n += 1
    timed = [replace(c, eta_s=round(eta.eta_s(c, location), 1)) for c in ranked[:n]]
    timed.sort(key=lambda c: (c.eta_s, c.workload, c.worker_id))
    return timed + ranked[n:]


def _shortfall(grid_id: str, skipped: Counter[str]) -> tuple[str, str]:
    total = sum(skipped.values())
    if total == 0:
        return "shortfall_no_worker", f"no worker has grid {grid_id} or a neighbouring grid as home grid"
    detail = ", ".join(f"{skipped[k]} {k.replace('_', ' ')}" for k in SKIP_ORDER if skipped[k])
    reasons = [k for k in SKIP_ORDER if skipped[k]]
    code = f"shortfall_all_{reasons[0]}" if len(reasons) == 1 else "shortfall_none_available"
    return code, f"nobody can go in grid {grid_id} or its neighbours: {total} worker(s) near, {detail}"
