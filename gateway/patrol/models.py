"""A worker's plan for the day (checkpoints plus inserted inspections) and their walked track."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base, UtcDateTime


class PatrolPlan(Base):
    __tablename__ = "patrol_plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    worker_id: Mapped[str] = mapped_column(String(64))
    day: Mapped[str] = mapped_column(String(10), index=True, doc="local date of the site, YYYY-MM-DD")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    start_lon: Mapped[float] = mapped_column(Float)
    start_lat: Mapped[float] = mapped_column(Float)

    __table_args__ = (UniqueConstraint("worker_id", "day", name="uq_patrol_plans_worker_day"),)


class PatrolStop(Base):
    __tablename__ = "patrol_stops"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("patrol_plans.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, doc="walking order within the plan")
    kind: Mapped[str] = mapped_column(String(16), doc="checkpoint or task")
    checkpoint_id: Mapped[str | None] = mapped_column(String(64))
    task_id: Mapped[str | None] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(300))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    added_at: Mapped[datetime] = mapped_column(UtcDateTime)
    detour_m: Mapped[float] = mapped_column(Float, default=0.0, doc="distance the insertion added")
    visited_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class PatrolTrack(Base):
    """What a worker walked on patrol in one day: distance, time and the points."""

    __tablename__ = "patrol_tracks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    worker_id: Mapped[str] = mapped_column(String(64))
    day: Mapped[str] = mapped_column(String(10))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_lon: Mapped[float] = mapped_column(Float)
    last_lat: Mapped[float] = mapped_column(Float)
    distance_m: Mapped[float] = mapped_column(Float, default=0.0)
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    fixes: Mapped[int] = mapped_column(Integer, default=1)
    glitches: Mapped[int] = mapped_column(Integer, default=0, doc="fixes dropped as GPS jumps")

    __table_args__ = (UniqueConstraint("worker_id", "day", name="uq_patrol_tracks_worker_day"),)


class PatrolPoint(Base):
    __tablename__ = "patrol_points"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("patrol_tracks.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
