"""What a worker's location fix means: a new position, maybe an arrival, maybe patrol progress;
and a patrol started and stopped from the phone."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from contracts import LocationFix
from gateway.context import GatewayContext
from gateway.flows.arrivals import arrive, precise_enough
from gateway.patrol import plans, track
from gateway.workers.service import record_fix


def apply_fix(session: Session, ctx: GatewayContext, fix: LocationFix, now: datetime) -> bool:
    """Store the fix; if it is the newest, check the worker in where they arrived and extend
    their patrol track. Returns whether it was the newest."""
    if not record_fix(session, fix):
        return False
    lon, lat = fix.location.lon, fix.location.lat
    if fix.worker_id not in ctx.site.workers:
        return True  # a phone the site does not know: keep the position, nothing else
    # A fix too coarse for the check-in radius moves the worker, and neither checks them in at a
    # task nor visits a checkpoint (arrivals.precise_enough).
    arrive(session, ctx, fix.worker_id, lon, lat, fix.ts, now, fix.on_patrol, accuracy_m=fix.accuracy_m)
    if fix.on_patrol:
        track.add_fix(session, ctx, fix.worker_id, lon, lat, fix.ts)
        if precise_enough(ctx, fix.accuracy_m):
            plans.visit_checkpoints(session, ctx, fix.worker_id, lon, lat, fix.ts)
    return True


def start_patrol(session: Session, ctx: GatewayContext, fix: LocationFix, now: datetime) -> None:
    """On patrol from the phone: today's plan is made (its checkpoints, the inspections folded
    into it) and the first fix starts the track."""
    plans.plan_for(session, ctx, fix.worker_id, plans.local_day(ctx, now), now)
    apply_fix(session, ctx, fix, now)


def stop_patrol(session: Session, ctx: GatewayContext, fix: LocationFix, now: datetime) -> None:
    """Off patrol from the phone: the stop's fix is the track's last point, so a patrol lasts until
    the worker stopped it, not until the last periodic fix before (up to 30 s, or the whole patrol
    when the phone sent none in between)."""
    if not apply_fix(session, ctx, fix, now) or fix.worker_id not in ctx.site.workers:
        return  # an older fix than one already kept, or a phone the site does not know
    if track.track_of(session, fix.worker_id, plans.local_day(ctx, fix.ts)) is not None:
        track.add_fix(session, ctx, fix.worker_id, fix.location.lon, fix.location.lat, fix.ts)
