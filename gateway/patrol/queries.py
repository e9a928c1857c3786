"""Read models of a worker's patrol day: the plan with its stops, coverage, and the walked track."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy.orm import Session

from gateway.patrol.models import PatrolStop, PatrolTrack
from gateway.patrol.plans import CHECKPOINT, find_plan, stops_of
from gateway.patrol.track import points_of, track_of


class StopView(BaseModel):
    position: int
    kind: str
    checkpoint_id: str | None
    task_id: str | None
    name: str
    lon: float
    lat: float
    added_at: datetime
    detour_m: float
    visited_at: datetime | None
    cancelled_at: datetime | None


class TrackView(BaseModel):
    started_at: datetime
    last_at: datetime
    distance_m: float
    duration_s: float
    fixes: int
    glitches: int
    points: list[tuple[float, float]] | None = None  # (lon, lat), when asked for


class PatrolDay(BaseModel):
    worker_id: str
    day: str
    planned_checkpoints: int
    visited_checkpoints: int
    coverage: float | None  # visited / planned checkpoints; None when nothing was planned
    inspections: int
    stops: list[StopView]
    track: TrackView | None


def _coverage(stops: list[PatrolStop]) -> tuple[int, int, float | None]:
    planned = [s for s in stops if s.kind == CHECKPOINT]
    visited = [s for s in planned if s.visited_at is not None]
    return len(planned), len(visited), (round(len(visited) / len(planned), 3) if planned else None)


def _track_view(session: Session, track: PatrolTrack | None, with_points: bool) -> TrackView | None:
    if track is None:
        return None
    points = [(p.lon, p.lat) for p in points_of(session, track.id)] if with_points else None
    return TrackView(
        started_at=track.started_at,
        last_at=track.last_at,
        distance_m=round(track.distance_m, 1),
        duration_s=round(track.duration_s, 1),
        fixes=track.fixes,
        glitches=track.glitches,
        points=points,
    )


def patrol_day(session: Session, worker_id: str, day: str, with_points: bool = False) -> PatrolDay:
    plan = find_plan(session, worker_id, day)
    stops = stops_of(session, plan.id) if plan else []
    planned, visited, coverage = _coverage(stops)
    return PatrolDay(
        worker_id=worker_id,
        day=day,
        planned_checkpoints=planned,
        visited_checkpoints=visited,
        coverage=coverage,
        inspections=sum(1 for s in stops if s.kind != CHECKPOINT and s.cancelled_at is None),
        stops=[StopView.model_validate(s, from_attributes=True) for s in stops],
        track=_track_view(session, track_of(session, worker_id, day), with_points),
    )
