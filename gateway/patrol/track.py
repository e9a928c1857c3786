"""Patrol tracks: location fixes sent while on patrol, summed into distance and time per day.

Fixes further apart than ``max_gap_s`` are separate walks (no distance or time
in between); a jump faster than ``max_speed_m_s`` is a GPS glitch and dropped;
moves under ``min_move_m`` are jitter (time counts, distance does not).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contracts.geo import haversine_m
from gateway.context import GatewayContext
from gateway.patrol.models import PatrolPoint, PatrolTrack
from gateway.patrol.plans import local_day


def track_of(session: Session, worker_id: str, day: str) -> PatrolTrack | None:
    return session.scalars(
        select(PatrolTrack).where(PatrolTrack.worker_id == worker_id, PatrolTrack.day == day)
    ).first()


def add_fix(
    session: Session, ctx: GatewayContext, worker_id: str, lon: float, lat: float, at: datetime
) -> PatrolTrack:
    settings = ctx.site.settings.patrol
    day = local_day(ctx, at)
    track = track_of(session, worker_id, day)
    if track is None:
        track = PatrolTrack(
            worker_id=worker_id,
            day=day,
            started_at=at,
            last_at=at,
            last_lon=lon,
            last_lat=lat,
            distance_m=0.0,
            duration_s=0.0,
            fixes=1,
            glitches=0,
        )
        try:
            with session.begin_nested():
                session.add(track)
                session.flush()
        except IntegrityError:
            track = track_of(session, worker_id, day)
            assert track is not None
            return add_fix(session, ctx, worker_id, lon, lat, at)
        session.add(PatrolPoint(track_id=track.id, at=at, lon=lon, lat=lat))
        return track
    dt = (at - track.last_at).total_seconds()
    if dt <= 0:
        return track  # late fix: the track only moves forward
    moved = haversine_m(track.last_lon, track.last_lat, lon, lat)
    if dt > settings.max_gap_s:
        # A new walk: where it starts counts, the way between the two walks does not.
        track.last_lon, track.last_lat = lon, lat
    elif moved / dt > settings.max_speed_m_s:
        track.glitches += 1
        return track
    else:
        track.duration_s += dt
        if moved < settings.min_move_m:
            track.last_at = at
            track.fixes += 1
            return track
        track.distance_m += moved
        track.last_lon, track.last_lat = lon, lat
    track.last_at = at
    track.fixes += 1
    session.add(PatrolPoint(track_id=track.id, at=at, lon=lon, lat=lat))
    return track


def points_of(session: Session, track_id: int) -> list[PatrolPoint]:
    return list(
        session.scalars(select(PatrolPoint).where(PatrolPoint.track_id == track_id).order_by(PatrolPoint.at))
    )
