"""Read models of tasks."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class TaskView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    worker_id: str
    status: str
    urgent: bool
    offered_at: datetime
    updated_at: datetime
    accept_by: datetime | None
    on_site_by: datetime | None
    reason_code: str
    reason: str
    shortlist: list[dict]
    result: str | None
    note: str
    accepted_at: datetime | None = None
    on_site_at: datetime | None = None
    resolved_at: datetime | None = None
    verified_at: datetime | None = None
    ended_at: datetime | None = None  # declined, expired or cancelled
