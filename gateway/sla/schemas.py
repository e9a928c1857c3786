"""Read models of SLA timers."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class TimerView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    phase: str
    task_id: str | None
    worker_id: str | None
    limit_s: float
    started_at: datetime
    warn_at: datetime | None
    due_at: datetime
    warned_at: datetime | None
    breached_at: datetime | None
    stopped_at: datetime | None
    outcome: str | None
    detail: str


class DeadlineView(BaseModel):
    """What a case waits for next, and by when (its most pressing running SLA timer)."""

    model_config = ConfigDict(from_attributes=True)

    phase: str
    worker_id: str | None
    detail: str
    limit_s: float
    started_at: datetime
    warn_at: datetime | None
    due_at: datetime
    breached_at: datetime | None
