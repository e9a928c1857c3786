"""SLA timers: one row per case phase (and per task for task phases)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base, UtcDateTime


class Phase(StrEnum):
    CENTRE_ACCEPT = "centre_accept"  # case opened → someone took it (a worker accepted)
    WORKER_ACCEPT = "worker_accept"  # offer → accepted (breach: expire and re-dispatch)
    ON_SITE = "on_site"  # offer → checked in on site
    RESOLVE = "resolve"  # on site → resolved
    VERIFY = "verify"  # resolved → verified by the centre
    CLIMB = "climb"  # escalated → still unresolved: climb to the next tier
    ACKNOWLEDGE = "acknowledge"  # a department told → it acknowledges (报到); breach: a tier up


class Outcome(StrEnum):
    MET = "met"
    BREACHED = "breached"
    CANCELLED = "cancelled"  # the phase no longer applies (task declined, case dismissed)


class SlaTimer(Base):
    """A deadline that fires a warning (at ``warn_at``) and a breach (at ``due_at``) exactly once.

    ``next_at`` is the next moment something is due (null when nothing is): the ticker
    selects on it, claims the row and sets ``warned_at`` / ``breached_at`` in the same
    transaction as what it does about it, so a restart or a second gateway cannot fire
    anything twice.
    """

    __tablename__ = "sla_timers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(
        String(160), unique=True, insert_sentinel=True, doc="case:phase:task — one timer each"
    )
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    task_id: Mapped[str | None] = mapped_column(String(36), index=True)
    worker_id: Mapped[str | None] = mapped_column(String(64), index=True)
    phase: Mapped[str] = mapped_column(String(24))
    detail: Mapped[str] = mapped_column(String(64), default="", doc="climb: what clears the escalation")
    limit_s: Mapped[float] = mapped_column()
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    warn_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    next_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    warned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    breached_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    outcome: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
