"""Live worker state that changes by the minute (who and when is in the site config)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base, UtcDateTime


class WorkerPosition(Base):
    """Latest location fix per worker (older fixes are not kept here)."""

    __tablename__ = "worker_positions"

    worker_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    accuracy_m: Mapped[float] = mapped_column(Float)
    fixed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    on_patrol: Mapped[bool] = mapped_column(Boolean, default=False)


class WorkerAvailability(Base):
    """A worker marked unavailable (sick, on leave, at another incident) beyond the duty schedule."""

    __tablename__ = "worker_availability"

    worker_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    available: Mapped[bool] = mapped_column(Boolean, default=True)
    until: Mapped[datetime | None] = mapped_column(UtcDateTime, doc="unavailable until; null = until changed")
    reason: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_by: Mapped[str] = mapped_column(String(100), default="")
